// The language-model tools VS Code agents get (src/vscode/lmTools.ts registers them) are contributed in package.json
// with exactly the schemas and descriptions of the MCP tools: one set of tools, two surfaces.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TOOLS } from '../../../src/cli/mcpTools';
import { repoRoot } from '../../support/claudeEnv';

describe('language-model tool contributions', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'package.json'), 'utf8'));
  const contributed: any[] = pkg.contributes.languageModelTools;

  it('package.json contributes every Grove agent tool with the MCP tool\'s description and input schema', () => {
    assert.deepEqual(contributed.map((t) => t.name), TOOLS.map((t) => t.name));
    for (const [i, tool] of TOOLS.entries()) {
      const c = contributed[i];
      assert.equal(c.modelDescription, tool.description, tool.name);
      assert.deepEqual(c.inputSchema, tool.inputSchema, `${tool.name}: regenerate package.json's languageModelTools from src/cli/mcpTools.ts`);
      assert.match(c.displayName, /^Grove: /, tool.name);
      assert.equal(c.toolReferenceName, tool.name);
      assert.ok(c.userDescription && tool.description.startsWith(c.userDescription), tool.name);
    }
  });
});
