import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { writeHookSettings } from '../../../src/core/agents/hookSettings';
import { HookStatusMapper, StatusFileTailer } from '../../../src/core/agents/hookStatus';
import type { AgentEvent } from '../../../src/core/model';
import { ScriptedModel, text, write } from '../../support/scriptedModel';
import { CLAUDE, makeSandbox, sleep } from '../../support/agentFixtures';

describe('hook status (terminal mode)', function () {
  this.timeout(60_000);

  it('a claude -p run with the generated hooks drives running → waiting → exited through the status file', async () => {
    const model = await ScriptedModel.start({ script: [write('notes.md', '# notes\n'), text('Wrote notes.')] });
    const box = makeSandbox(model.url);
    const tailer = new StatusFileTailer(path.join(box.root, 'status', 'status.jsonl'));
    try {
      const files = writeHookSettings({ dir: path.join(box.root, 'status'), nodePath: process.execPath });
      assert.equal(fs.statSync(path.join(box.root, 'status')).mode & 0o777, 0o700);
      const prompt = 'Write notes about $(rm -rf ~) "quoted"';
      assert.ok(!fs.readFileSync(files.settingsPath, 'utf8').includes('rm -rf'), 'no task text in the hook command');

      const sessionId = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
      const mapper = new HookStatusMapper(sessionId);
      const events: AgentEvent[] = [];
      const names: string[] = [];
      tailer.onDidLine((l) => {
        names.push(JSON.parse(l).hook_event_name);
        events.push(...mapper.mapLine(l));
      });
      tailer.start();
      const r = await execa(CLAUDE(), ['-p', prompt, '--session-id', sessionId, '--settings', files.settingsPath, '--output-format', 'stream-json', '--verbose', '--permission-mode', 'acceptEdits'], {
        cwd: box.repo, env: box.env, extendEnv: false, stdin: 'ignore', reject: false,
      });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.ok(fs.existsSync(path.join(box.repo, 'notes.md')));
      for (let i = 0; i < 50 && !names.includes('SessionEnd'); i++) await sleep(100);
      tailer.read();
      for (const n of ['UserPromptSubmit', 'PreToolUse', 'PostToolUse', 'Stop', 'SessionEnd']) assert.ok(names.includes(n), `${n} in ${names}`);
      assert.deepEqual(
        events.filter((e) => e.type !== 'session'),
        [
          { type: 'running' },
          { type: 'activity', text: 'Write notes.md', toolName: 'Write' },
          { type: 'waiting', reason: 'user' },
          { type: 'exit', code: null, signal: null, stoppedByUser: false },
        ],
      );
    } finally {
      tailer.dispose();
      await model.close();
      box.cleanup();
    }
  });

  it('ignores other sessions (a nested claude -p) and collapses repeated running lines', () => {
    const m = new HookStatusMapper('main');
    const line = (o: object) => JSON.stringify({ session_id: 'main', cwd: '/w', ...o });
    const out = [
      line({ hook_event_name: 'UserPromptSubmit', prompt: 'x' }),
      line({ hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'claude -p sub' } }),
      JSON.stringify({ session_id: 'nested', hook_event_name: 'Stop' }),
      JSON.stringify({ session_id: 'nested', hook_event_name: 'SessionEnd', reason: 'other' }),
      line({ hook_event_name: 'PermissionRequest', tool_name: 'Bash' }),
      line({ hook_event_name: 'Notification', notification_type: 'permission_prompt' }),
      line({ hook_event_name: 'PostToolUse', tool_name: 'Bash' }),
      'garbage',
      line({ hook_event_name: 'Stop' }),
      line({ hook_event_name: 'Notification', notification_type: 'idle_prompt' }),
    ].flatMap((l) => m.mapLine(l));
    assert.deepEqual(out, [
      { type: 'running' },
      { type: 'activity', text: 'Bash: claude -p sub', toolName: 'Bash' },
      { type: 'waiting', reason: 'permission' },
      { type: 'running' },
      { type: 'waiting', reason: 'user' },
    ]);
  });

  it('the tailer reads appended lines incrementally and reassembles partial lines', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-tail-'));
    const file = path.join(dir, 's.jsonl');
    fs.writeFileSync(file, '{"a":1}\n{"b":');
    const t = new StatusFileTailer(file);
    const lines: string[] = [];
    t.onDidLine((l) => lines.push(l));
    try {
      t.start();
      assert.deepEqual(lines, ['{"a":1}']);
      fs.appendFileSync(file, '2}\n{"c":3}\n');
      for (let i = 0; i < 50 && lines.length < 3; i++) await sleep(20);
      assert.deepEqual(lines, ['{"a":1}', '{"b":2}', '{"c":3}']);
    } finally {
      t.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
