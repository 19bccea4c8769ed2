import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { text, write } from '../support/scriptedModel';
import { api, untilInstance, useScriptedAgents } from './helpers';

describe('limits in terminal mode', function () {
  let agents: Awaited<ReturnType<typeof useScriptedAgents>>;
  let limited = true;

  before(async () => {
    agents = await useScriptedAgents((req) => {
      if (!/limited\.txt/.test(req.firstUserText)) return text('Done.');
      if (limited) {
        const reset = String(Math.ceil(Date.now() / 1000) + 3600);
        return { error: { status: 429, message: 'Rate limited' }, headers: { 'retry-after': '0', 'anthropic-ratelimit-unified-status': 'rejected', 'anthropic-ratelimit-unified-reset': reset } };
      }
      return req.isToolResult ? text('Created it.') : write('limited.txt', 'after the limit\n');
    });
  });

  after(async () => {
    await agents?.dispose();
  });

  it('a rate limit pauses a terminal session with its terminal open; Resume types the next turn into the same session', async () => {
    const a = await api();
    const [q] = await a.dispatch([{ title: 'Limited terminal', prompt: 'Please create limited.txt' }], { mode: 'terminal' });
    const paused = await untilInstance(a, q.id, (i) => i.state === 'paused' || i.state === 'failed' || i.state === 'done', 'the rate limit');
    assert.equal(paused.state, 'paused', paused.error);
    assert.match(paused.pauseReason ?? '', /429|rate limit/i);
    assert.ok(paused.pausedUntil && paused.pausedUntil > Date.now(), 'it says when it resumes by itself');
    const terminals = () => vscode.window.terminals.filter((t) => t.name === 'Grove: Limited terminal');
    assert.equal(terminals().length, 1);
    assert.equal(terminals()[0]!.exitStatus, undefined, 'the session stays open while paused');

    limited = false;
    await vscode.commands.executeCommand('grove.resumeInstance', { kind: 'instance', id: q.id });
    const done = await untilInstance(a, q.id, (i) => i.state === 'waiting' && fs.existsSync(path.join(i.worktreePath, 'limited.txt')), 'the resumed turn');
    assert.equal(fs.readFileSync(path.join(done.worktreePath, 'limited.txt'), 'utf8'), 'after the limit\n');
    assert.equal(done.sessionId, paused.sessionId, 'the same session went on');
    assert.equal(terminals().length, 1, 'in the same terminal');
    await vscode.commands.executeCommand('grove.stopInstance', { kind: 'instance', id: q.id });
  });
});
