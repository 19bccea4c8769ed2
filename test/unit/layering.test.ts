import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('layering', () => {
  it('src/core never imports vscode (the core runs under plain mocha and in the CLI)', () => {
    const root = path.resolve(__dirname, '../../../src/core');
    const files = tsFiles(root);
    assert.ok(files.length > 0, `no core files found under ${root}`);
    const offenders = files.filter((f) => /(from\s+['"]vscode['"])|(require\(\s*['"]vscode['"]\s*\))|(import\(\s*['"]vscode['"]\s*\))/.test(fs.readFileSync(f, 'utf8')));
    assert.deepEqual(offenders.map((f) => path.relative(root, f)), []);
  });

  it('src/core reaches the VS Code layer never (no import of src/vscode or extension.ts)', () => {
    const root = path.resolve(__dirname, '../../../src/core');
    const offenders = tsFiles(root).filter((f) => /from\s+['"](\.\.\/)+(vscode|extension)(\/|['"])/.test(fs.readFileSync(f, 'utf8')));
    assert.deepEqual(offenders, []);
  });
});

/** Relative imports (`import`, `import type`, `export … from`) of a TypeScript file, resolved to files. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^'"`;]*?\bfrom\s+['"](\.[^'"]+)['"]/gm)) {
    const base = path.resolve(path.dirname(file), m[1]!);
    const target = [`${base}.ts`, path.join(base, 'index.ts')].find((p) => fs.existsSync(p));
    if (target) out.push(target);
  }
  return out;
}

/** Every cycle of the import graph below `root`, each as the list of files around it. */
function cycles(root: string): string[][] {
  const files = tsFiles(root);
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (state.get(g) === 'open') found.push([...stack.slice(stack.indexOf(g)), g].map((p) => path.relative(root, p)));
      else if (!state.has(g)) visit(g);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return found;
}

describe('layering: no import cycles, core in layers', () => {
  const src = path.resolve(__dirname, '../../../src');

  it('finds a cycle when there is one (the checker itself works)', () => {
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'grove-cycle-'));
    fs.writeFileSync(path.join(dir, 'a.ts'), "import { b } from './b';\nexport const a = 1;\n");
    fs.writeFileSync(path.join(dir, 'b.ts'), "import type { a } from './a';\nexport const b = 2;\n");
    assert.deepEqual(cycles(dir), [['a.ts', 'b.ts', 'a.ts']]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('src/ has no import cycle (type-only imports included)', () => {
    assert.deepEqual(cycles(src), []);
  });

  it('core imports only downward: platform < util < model/settings/errors/paths < git < agents < fleet < grove.ts < flows', () => {
    const core = path.join(src, 'core');
    const rank = (file: string): number => {
      const rel = path.relative(core, file).split(path.sep);
      if (rel.length === 1) return rel[0] === 'grove.ts' ? 6 : 2;
      return ({ platform: 0, util: 1, git: 3, agents: 4, fleet: 5, flows: 7 } as Record<string, number>)[rel[0]!] ?? 99;
    };
    const offenders: string[] = [];
    for (const f of tsFiles(core)) {
      for (const g of importsOf(f)) if (rank(g) > rank(f)) offenders.push(`${path.relative(core, f)} → ${path.relative(core, g)}`);
    }
    assert.deepEqual(offenders, []);
  });

  it('no file in src/ is over 400 lines', () => {
    const lines = (t: string) => t.split('\n').length - (t.endsWith('\n') ? 1 : 0);
    const long = tsFiles(src).map((f) => [path.relative(src, f), lines(fs.readFileSync(f, 'utf8'))] as const).filter(([, n]) => n > 400);
    assert.deepEqual(long, []);
  });
});
