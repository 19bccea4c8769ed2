import assert from 'node:assert/strict';
import { parseClaudeSessions } from '../../../src/core/agents/claudeSessions';

describe("Claude Code's own sessions", () => {
  it('parses `claude agents --json` (the shape measured in docs/strategy.md) and drops malformed entries', () => {
    const out = parseClaudeSessions(JSON.stringify([
      { pid: 32112, id: '26ee0966', cwd: '/r/app.worktrees/fix', kind: 'background', startedAt: 1795772069511, sessionId: '26ee0966-8620', name: 'Create result.txt', status: 'idle' },
      { id: 'nocwd' },
      'noise',
    ]));
    assert.deepEqual(out, [{ id: '26ee0966', cwd: '/r/app.worktrees/fix', sessionId: '26ee0966-8620', pid: 32112, kind: 'background', name: 'Create result.txt', status: 'idle', startedAt: 1795772069511 }]);
    assert.deepEqual(parseClaudeSessions('not json'), []);
    assert.deepEqual(parseClaudeSessions(''), []);
  });

});
