// Builds the extension bundle (dist/extension.js) and, with --tests, the test bundles (out/test/**).
//   node esbuild.mjs               development build of the extension (+ source maps)
//   node esbuild.mjs --production  minified build for packaging
//   node esbuild.mjs --tests       extension + every test tier
//   node esbuild.mjs --watch       rebuild on change
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const tests = process.argv.includes('--tests');

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: production ? false : 'linked',
  logLevel: 'warning',
};

/** Extension host: `vscode` is provided at run time; everything else is bundled. */
const extension = {
  ...common,
  entryPoints: { extension: 'src/extension.ts' },
  outdir: 'dist',
  external: ['vscode'],
  minify: production,
  sourcemap: production ? false : 'linked',
  metafile: true,
};

/** The `grove` command line (and MCP server) on the same core; `vscode` is never imported below src/cli. */
const cli = fs.existsSync('src/cli/main.ts')
  ? {
      ...common,
      entryPoints: { cli: 'src/cli/main.ts' },
      outdir: 'dist',
      minify: production,
      banner: { js: '#!/usr/bin/env node' },
    }
  : undefined;

function findTests(dir, suffix) {
  if (!fs.existsSync(dir)) return [];
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...findTests(p, suffix));
    else if (e.name.endsWith(suffix)) out.push(p);
  }
  return out;
}

const testBuilds = tests
  ? [
      {
        ...common,
        entryPoints: [...findTests('test/unit', '.test.ts'), ...findTests('test/ui', '.test.ts'), 'test/support/mochaRun.ts', 'test/support/demoModel.ts'],
        outdir: 'out',
        outbase: '.',
        // Heavy or native packages stay as runtime requires.
        external: ['vscode', 'mocha', 'playwright-core', '@anthropic-ai/*'],
      },
      {
        ...common,
        entryPoints: ['test/integration/index.ts', ...findTests('test/integration', '.test.ts')],
        outdir: 'out',
        outbase: '.',
        external: ['vscode', 'mocha'],
      },
    ]
  : [];

const builds = [extension, ...(cli ? [cli] : []), ...testBuilds];

if (watch) {
  for (const b of builds) {
    const ctx = await esbuild.context(b);
    await ctx.watch();
  }
  console.log('[esbuild] watching…');
} else {
  const results = await Promise.all(builds.map((b) => esbuild.build(b)));
  const bytes = fs.statSync('dist/extension.js').size;
  fs.writeFileSync('dist/meta.json', JSON.stringify(results[0].metafile));
  console.log(`[esbuild] dist/extension.js ${(bytes / 1024).toFixed(1)} KiB${production ? ' (production)' : ''}${tests ? ' + tests' : ''}`);
}
