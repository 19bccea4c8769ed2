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
