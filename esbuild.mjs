// Builds the extension (dist/grove.js and its loader dist/extension.js), the CLI (dist/cli.js) and, with --tests,
// the test bundles (out/test/**). Imported (test/bench/run.mjs), it only exports extensionBuilds.
//   node esbuild.mjs               development build of the extension (+ source maps)
//   node esbuild.mjs --production  minified build for packaging
//   node esbuild.mjs --tests       extension + every test tier
//   node esbuild.mjs --watch       rebuild on change
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const tests = process.argv.includes('--tests');

/**
 * `import fs from 'node:fs'` (or `import * as vscode from 'vscode'`) of a module Node or VS Code provides compiles to
 * `__toESM(require(…))` in every file that imports it, which copies each property of the module into a new object:
 * at load that was 58 copies of `fs`, 51 of `path` and 34 of the `vscode` API, a third of evaluating the bundle
 * (measured 2026-12-03). Loaded as `import fs = require('node:fs')` — what esModuleInterop's default import of a
 * CommonJS module is — each is one `require`. The source keeps the usual import; only these whole-module forms
 * are rewritten, one line for one line (source maps stay right).
 */
const WHOLE_MODULE_IMPORT = /^import (?:\* as )?([A-Za-z_$][\w$]*) from ('(?:node:[a-z_/]+|vscode)');$/gm;
const plainRequires = {
  name: 'plain-requires',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => ({
      contents: (await fs.promises.readFile(args.path, 'utf8')).replace(WHOLE_MODULE_IMPORT, 'import $1 = require($2);'),
      loader: 'ts',
    }));
  },
};

const common = {
  bundle: true,
  plugins: [plainRequires],
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: production ? false : 'linked',
  logLevel: 'warning',
};

/**
 * The extension: dist/grove.js is Grove (src/extension.ts, the composition root; `vscode` is provided at run time,
 * everything else is bundled); dist/extension.js, the package's `main`, is the small loader that runs it from a V8
 * code cache (src/boot.ts). The benchmarks build the same two into their own folder.
 */
export function extensionBuilds({ production = false, outdir = 'dist' } = {}) {
  return [
    { ...common, entryPoints: { grove: 'src/extension.ts' }, outdir, external: ['vscode'], minify: production, sourcemap: production ? false : 'linked', metafile: true },
    { ...common, entryPoints: { extension: 'src/boot.ts' }, outdir, external: ['vscode'], minify: production, sourcemap: production ? false : 'linked' },
  ];
}

/** The `grove` command line and MCP server (dist/cli.js) on the same core. */
export function cliBuild({ production = false, outdir = 'dist' } = {}) {
  return { ...common, entryPoints: { cli: 'src/cli/main.ts' }, outdir, minify: production, banner: { js: '#!/usr/bin/env node' } };
}
const cli = fs.existsSync('src/cli/main.ts') ? cliBuild({ production }) : undefined;

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

const builds = [...extensionBuilds({ production }), ...(cli ? [cli] : []), ...testBuilds];

if (import.meta.url !== pathToFileURL(process.argv[1] ?? '').href) {
  // imported: nothing to build
} else if (watch) {
  for (const b of builds) {
    const ctx = await esbuild.context(b);
    await ctx.watch();
  }
  console.log('[esbuild] watching…');
} else {
  const results = await Promise.all(builds.map((b) => esbuild.build(b)));
  const bytes = fs.statSync('dist/grove.js').size;
  fs.writeFileSync('dist/meta.json', JSON.stringify(results[0].metafile));
  console.log(`[esbuild] dist/grove.js ${(bytes / 1024).toFixed(1)} KiB${production ? ' (production)' : ''}${tests ? ' + tests' : ''}`);
}
