import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { hookCommand, quoteForBashAndPowerShell, windowsHookWrapper, writeHookSettings } from '../../../src/core/agents/hookSettings';
import { HookStatusMapper, StatusFileTailer } from '../../../src/core/agents/hookStatus';
import type { AgentEvent } from '../../../src/core/model';
import { bash, ScriptedModel, text, write } from '../../support/scriptedModel';
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

  /**
   * A stand-in for the Electron binary of desktop VS Code, in a folder with spaces: it runs a script as Node only
   * with ELECTRON_RUN_AS_NODE=1 (otherwise Electron would start an app and never read the hook's input).
   */
  function fakeElectron(root: string): string {
    const dir = path.join(root, "Visual Studio Code's", 'bin dir');
    fs.mkdirSync(dir, { recursive: true });
    const exe = path.join(dir, 'code electron');
    fs.writeFileSync(exe, `#!/bin/sh\nif [ "$ELECTRON_RUN_AS_NODE" != 1 ]; then echo 'Electron: would start an app' >&2; exit 9; fi\nexec '${process.execPath}' "$@"\n`, { mode: 0o755 });
    return exe;
  }

  it('the hook command sets ELECTRON_RUN_AS_NODE for itself: hooks run under Electron, the agent never sees it (real CLI)', async function () {
    if (process.platform === 'win32') this.skip();
    const model = await ScriptedModel.start({
      script: [bash(`node -e "require('fs').writeFileSync('agent-env.txt', String(process.env.ELECTRON_RUN_AS_NODE))"`), text('Checked.')],
    });
    const box = makeSandbox(model.url);
    try {
      const electron = fakeElectron(box.root);
      const files = writeHookSettings({ dir: path.join(box.root, 'hook dir'), nodePath: electron });
      const env = { ...box.env };
      delete (env as Record<string, string | undefined>).ELECTRON_RUN_AS_NODE;
      const r = await execa(CLAUDE(), ['-p', 'check', '--settings', files.settingsPath, '--output-format', 'stream-json', '--verbose', '--permission-mode', 'bypassPermissions'], {
        cwd: box.repo, env, extendEnv: false, stdin: 'ignore', reject: false,
      });
      assert.equal(r.exitCode, 0, r.stderr);
      let names: string[] = [];
      for (let i = 0; i < 50 && !names.includes('SessionEnd'); i++) {
        await sleep(100);
        names = fs.readFileSync(files.statusPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).hook_event_name);
      }
      for (const n of ['UserPromptSubmit', 'PreToolUse', 'PostToolUse', 'Stop', 'SessionEnd']) assert.ok(names.includes(n), `${n} missing from [${names}]: the hook did not run as Node`);
      assert.equal(fs.readFileSync(path.join(box.repo, 'agent-env.txt'), 'utf8'), 'undefined', "the agent's own commands inherited ELECTRON_RUN_AS_NODE");
    } finally {
      await model.close();
      box.cleanup();
    }
  });

  it('Windows: the hook starts a batch-and-bash wrapper; its bash half runs the script under Electron (paths with spaces)', async function () {
    if (process.platform === 'win32') this.skip();
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'grove-hookwin-')));
    try {
      const electron = fakeElectron(root);
      const files = writeHookSettings({ dir: path.join(root, 'global storage', 'hooks', 'i 1'), nodePath: electron, platform: 'win32' });
      const command = (files.settings.hooks.Stop[0] as any).hooks[0].command as string;
      assert.equal(command, `. "${files.wrapperPath}"`);
      const wrapper = fs.readFileSync(files.wrapperPath!, 'utf8');
      assert.ok(wrapper.split('\r\n').length >= 4 && !/[^\r]\n/.test(wrapper), 'every line ends in CRLF for cmd.exe');
      assert.match(wrapper, /\r\nset "ELECTRON_RUN_AS_NODE=1"\r\n/);
      // Git Bash sources the file: run the hook command the way Claude Code does, with the hook input on stdin.
      const r = await execa('bash', ['-c', command], { input: JSON.stringify({ hook_event_name: 'Stop', session_id: 's' }), reject: false, env: { PATH: process.env.PATH } });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(JSON.parse(fs.readFileSync(files.statusPath, 'utf8').trim()).hook_event_name, 'Stop');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('hook commands: quoting for each shell, and the batch half of the Windows wrapper', () => {
    assert.equal(hookCommand('/opt/it\'s/node', '/h/grove-hook.js', '/h/status.jsonl', 'linux'), `ELECTRON_RUN_AS_NODE=1 '/opt/it'\\''s/node' '/h/grove-hook.js' '/h/status.jsonl'`);
    assert.equal(hookCommand('C:\\Code\\Code.exe', 'C:\\Users\\A B\\h\\grove-hook.js', 'C:\\Users\\A B\\h\\status.jsonl', 'win32'), '. "C:/Users/A B/h/grove-hook.cmd"');
    assert.equal(quoteForBashAndPowerShell('C:/Users/O\'Brien/x.cmd'), `"C:/Users/O'Brien/x.cmd"`);
    assert.equal(quoteForBashAndPowerShell('C:/Users/$me/x.cmd'), `'C:/Users/$me/x.cmd'`);
    assert.throws(() => quoteForBashAndPowerShell("C:/Users/$O'B/x.cmd"));
    const w = windowsHookWrapper('C:\\Program Files\\Code\\Code.exe', 'C:\\Users\\100% A\\grove-hook.js', 'C:\\Users\\100% A\\status.jsonl').split('\r\n');
    assert.equal(w[0], `:; ELECTRON_RUN_AS_NODE=1 exec 'C:/Program Files/Code/Code.exe' 'C:/Users/100% A/grove-hook.js' 'C:/Users/100% A/status.jsonl' #`);
    assert.deepEqual(w.slice(1), ['@echo off', 'set "ELECTRON_RUN_AS_NODE=1"', '"C:\\Program Files\\Code\\Code.exe" "C:\\Users\\100%% A\\grove-hook.js" "C:\\Users\\100%% A\\status.jsonl"', '']);
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

  it('a failed turn (StopFailure, as the TUI writes it): a limit pauses, another error waits for the person; compactions are recorded', () => {
    const m = new HookStatusMapper('main');
    const line = (o: object) => JSON.stringify({ session_id: 'main', cwd: '/w', ...o });
    const out = [
      line({ hook_event_name: 'UserPromptSubmit', prompt: 'x' }),
      line({ hook_event_name: 'StopFailure', error: 'rate_limit', last_assistant_message: 'API Error: Request rejected (429) · Rate limited' }),
      // The compaction's own subagent failing is not the session's turn.
      line({ hook_event_name: 'StopFailure', agent_id: 'a83a', error: 'rate_limit', last_assistant_message: 'API Error' }),
      line({ hook_event_name: 'UserPromptSubmit', prompt: 'continue' }),
      line({ hook_event_name: 'StopFailure', error: 'server_error' }),
      line({ hook_event_name: 'PreCompact', trigger: 'manual', custom_instructions: null }),
      line({ hook_event_name: 'PostCompact', trigger: 'manual', compact_summary: '…' }),
    ].flatMap((l) => m.mapLine(l));
    const text = 'API Error: Request rejected (429) · Rate limited';
    assert.deepEqual(out, [
      { type: 'running' },
      { type: 'rateLimited', text, limit: 'rate_limit' },
      { type: 'result', isError: true, subtype: 'error_during_execution', text, reason: 'rateLimit' },
      { type: 'running' },
      { type: 'activity', text: 'The turn failed: server error' },
      { type: 'waiting', reason: 'user' },
      { type: 'running' },
      { type: 'activity', text: 'Compacting the conversation' },
      { type: 'compacted', trigger: 'manual' },
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
