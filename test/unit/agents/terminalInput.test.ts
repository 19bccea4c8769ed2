import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeHookSettings } from '../../../src/core/agents/hookSettings';
import { PASTE_END, PASTE_START, sanitizeTypedText, typedInput } from '../../../src/core/agents/terminalInput';
import { ProcessTree } from '../../../src/core/platform/processTree';
import { ScriptedModel, text } from '../../support/scriptedModel';
import { CLAUDE, makeSandbox, sleep, type AgentSandbox } from '../../support/agentFixtures';
import { seedInteractiveConfig } from '../../support/claudeEnv';

describe('typing into a terminal agent', () => {
  it('keeps line breaks (normalised to \\n) and tabs, removes every other control character', () => {
    assert.equal(sanitizeTypedText('a\r\nb\rc\nd\te'), 'a\nb\nc\nd\te');
    assert.equal(sanitizeTypedText('x\x1b[201~\x1b[31my\x07\x08\x00\x03\x04\x1a\x7f\x9b2J\u0085z'), 'x[201~[31my2Jz');
    assert.equal(sanitizeTypedText('naïve — 日本語 🌳'), 'naïve — 日本語 🌳');
  });

  it('is a bracketed paste that the text cannot end early, followed by a separate Enter', () => {
    const input = typedInput('fix it\x1b[201~\rrm -rf /\n')!;
    assert.equal(input.paste, `${PASTE_START}fix it[201~\nrm -rf /\n${PASTE_END}`);
    assert.equal(input.paste.split(PASTE_END).length, 2, 'only one end-of-paste sequence');
    assert.equal(input.enter, '\r');
    assert.equal(typedInput(' \r\n\x1b\t'), undefined, 'nothing to type');
  });

  describe('the real Claude Code TUI in a pty (script(1))', function () {
    this.timeout(120_000);
    let model: ScriptedModel | undefined;
    let box: AgentSandbox | undefined;
    let pty: ChildProcessWithoutNullStreams | undefined;
    let tree: ProcessTree | undefined;

    before(function () {
      if (process.platform !== 'linux' || !fs.existsSync('/usr/bin/script')) this.skip();
    });
    afterEach(async () => {
      if (tree) {
        tree.snapshot();
        tree.signal('SIGKILL');
        for (let i = 0; i < 50 && tree.alive().length; i++) await sleep(50);
      }
      await model?.close();
      box?.cleanup();
      model = box = pty = tree = undefined;
    });

    /** Starts the TUI on a first prompt in a 120×40 pty and waits until it has answered and waits for the user. */
    async function startTui(): Promise<{ status: () => string[]; screen: () => string }> {
      model = await ScriptedModel.start({ rule: (req) => text(`Noted (${req.lastUserText.length} chars).`) });
      box = makeSandbox(model.url);
      seedInteractiveConfig(box.configDir, [box.repo]);
      const hooks = writeHookSettings({ dir: path.join(box.root, 'hooks') });
      const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
      const argv = [CLAUDE(), '--session-id', randomUUID(), '--settings', hooks.settingsPath, '--permission-mode', 'acceptEdits', 'Say hello'];
      pty = spawn('/usr/bin/script', ['-q', '-f', '-e', '-c', `stty cols 120 rows 40; exec ${argv.map(q).join(' ')}`, '/dev/null'], {
        cwd: box.repo, env: { ...box.env, TERM: 'xterm-256color' },
      });
      tree = new ProcessTree(pty.pid!);
      let screen = '';
      pty.stdout.on('data', (d) => (screen += d.toString('utf8')));
      pty.stderr.on('data', (d) => (screen += d.toString('utf8')));
      const status = () => fs.readFileSync(hooks.statusPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).hook_event_name as string);
      for (let i = 0; !status().includes('Stop'); i++) {
        if (i > 600) throw new Error(`the TUI did not finish its first turn: [${status()}]\n${screen.slice(-3000)}`);
        await sleep(100);
      }
      return { status, screen: () => screen };
    }

    /** What TerminalAgents does through `Terminal.sendText`, which turns every `\n` into `\r` (an Enter key). */
    async function followUp(textToType: string): Promise<void> {
      const input = typedInput(textToType)!;
      pty!.stdin.write(input.paste.replace(/\r?\n/g, '\r'));
      await sleep(300);
      pty!.stdin.write(input.enter);
    }

    it('a multi-line follow-up with a lone \\r and escape sequences arrives whole, as one multi-line prompt', async () => {
      const { screen } = await startTui();
      await followUp('Please refactor:\r\nfunction f() {\r  return 1;\n}\x1b[201~ \x1b[2J\x07and explain.');
      for (let i = 0; model!.requests.length < 2; i++) {
        if (i > 300) throw new Error(`the follow-up never reached the model\n${screen().slice(-3000)}`);
        await sleep(100);
      }
      await sleep(1500); // a half-submitted text would send a third request now
      const followUps = model!.requests.slice(1).map((r) => r.lastUserText);
      assert.equal(followUps.length, 1, `the text was submitted in pieces: ${JSON.stringify(followUps)}`);
      const got = followUps[0];
      assert.match(got, /Please refactor:\nfunction f\(\) \{\n {2}return 1;\n\}\[201~ \[2Jand explain\./, JSON.stringify(got));
      assert.doesNotMatch(got, /[\x00-\x08\x0b-\x1f\x7f]/, 'a control character reached the agent');
    });
  });
});
