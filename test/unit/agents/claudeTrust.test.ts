import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { claudeConfigFile, inheritFolderTrust } from '../../../src/core/agents/claudeTrust';

describe('claude folder trust for worktrees', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-trust-'));
    file = path.join(dir, '.claude.json');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const write = (c: unknown) => fs.writeFileSync(file, JSON.stringify(c), { mode: 0o600 });
  const read = () => JSON.parse(fs.readFileSync(file, 'utf8'));

  it('carries the trust of the repository over to its worktree and keeps every other key', () => {
    write({ userID: 'u1', projects: { '/r/app': { hasTrustDialogAccepted: true, allowedTools: ['Bash'] } } });
    assert.equal(inheritFolderTrust(file, '/r/app', '/r/app.worktrees/fix'), 'inherited');
    const c = read();
    assert.equal(c.userID, 'u1');
    assert.deepEqual(c.projects['/r/app'], { hasTrustDialogAccepted: true, allowedTools: ['Bash'] });
    assert.equal(c.projects['/r/app.worktrees/fix'].hasTrustDialogAccepted, true);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(dir), ['.claude.json'], 'a temporary file was left behind');
  });

  it('accepts trust given to a folder above the repository', () => {
    write({ projects: { '/r': { hasTrustDialogAccepted: true } } });
    assert.equal(inheritFolderTrust(file, '/r/app', '/elsewhere/wt'), 'inherited');
  });

  it('never trusts a worktree of a repository the user has not trusted', () => {
    write({ projects: { '/r/app': { hasTrustDialogAccepted: false } } });
    assert.equal(inheritFolderTrust(file, '/r/app', '/r/app.worktrees/fix'), 'sourceNotTrusted');
    assert.equal(read().projects['/r/app.worktrees/fix'], undefined);
  });

  it('says so when there is no config yet, and finds it through CLAUDE_CONFIG_DIR', () => {
    assert.equal(inheritFolderTrust(file, '/r/app', '/r/wt'), 'noConfig');
    assert.equal(claudeConfigFile({ CLAUDE_CONFIG_DIR: dir }), file);
    assert.equal(claudeConfigFile({}), path.join(os.homedir(), '.claude.json'));
  });
});
