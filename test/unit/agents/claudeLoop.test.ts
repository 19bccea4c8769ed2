import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { demoScript, ScriptedModel, text, write } from '../../support/scriptedModel';
import { CLAUDE, makeSandbox } from '../../support/agentFixtures';

describe('claude loop (real CLI against the scripted model)', () => {
  it('claude -p creates the file the script asks for, and the stream-json result is read', async () => {
    const model = await ScriptedModel.start({ script: [write('hello.txt', 'Hello from the agent\n'), text('Created hello.txt')] });
    const box = makeSandbox(model.url);
    try {
      const r = await execa(CLAUDE(), ['-p', 'Create hello.txt', '--output-format', 'stream-json', '--verbose', '--permission-mode', 'acceptEdits'], {
        cwd: box.repo, env: box.env, extendEnv: false, stdin: 'ignore', reject: false,
      });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(fs.readFileSync(path.join(box.repo, 'hello.txt'), 'utf8'), 'Hello from the agent\n');
      const lines = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      const result = lines.find((l) => l.type === 'result');
      assert.equal(result.is_error, false);
      assert.equal(result.result, 'Created hello.txt');
      assert.equal(model.requests[0].lastUserText, 'Create hello.txt');
      assert.equal(model.requests.length, 2);
      assert.ok(model.requests[1].isToolResult);
      // No state outside the sandbox: the transcript is in the sandbox's config dir.
      assert.ok(fs.readdirSync(path.join(box.configDir, 'projects')).length > 0);
    } finally {
      await model.close();
      box.cleanup();
    }
  });

  it('the demo model writes NOTES-<task>.md and answers with a summary', async () => {
    const model = await ScriptedModel.start({ rule: demoScript });
    const box = makeSandbox(model.url);
    try {
      const r = await execa(CLAUDE(), ['-p', 'Add a login page', '--output-format', 'stream-json', '--verbose', '--permission-mode', 'acceptEdits'], {
        cwd: box.repo, env: box.env, extendEnv: false, stdin: 'ignore', reject: false,
      });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(fs.readFileSync(path.join(box.repo, 'NOTES-add-a-login-page.md'), 'utf8'), /Add a login page/);
      const result = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.type === 'result');
      assert.match(result.result, /Demo model/);
    } finally {
      await model.close();
      box.cleanup();
    }
  });
});
