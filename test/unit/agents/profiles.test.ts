import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLAUDE_NOT_FOUND, describeCommand, parseCmdShim, resolveClaudeExecutable, resolveShim } from '../../../src/core/agents/agentProcess';
import { CLAUDE_PROFILE, expandArgs, findProfile, parseProfiles } from '../../../src/core/agents/profiles';

describe('agent profiles and executable resolution', () => {
  it('expands ${prompt} inside each argument without ever splitting or interpreting it', () => {
    const prompt = `fix "it"; rm -rf / $(whoami) \`id\`\nsecond line`;
    assert.deepEqual(expandArgs(['--message', '${prompt}', '--title=${title}', '${unknown}'], { prompt, title: 'T' }), ['--message', prompt, '--title=T', '${unknown}']);
  });

  it('parses user profiles next to the built-in claude and reports invalid ones', () => {
    const { profiles, errors } = parseProfiles([
      { name: 'aider', command: 'aider', args: ['--message', '${prompt}'] },
      { name: 'claude', command: 'x' },
      { name: 'bad', command: 'x', args: 'nope' },
      { name: 'noprompt', command: 'x', args: ['--yes'] },
    ]);
    assert.deepEqual(profiles.map((p) => p.name), ['claude', 'aider', 'noprompt']);
    assert.equal(findProfile(profiles, 'aider')!.mode, 'terminal');
    assert.equal(findProfile(profiles, undefined), CLAUDE_PROFILE);
    assert.equal(errors.length, 3);
  });

  it('reads the target of an npm claude.cmd shim (native exe and JavaScript forms)', () => {
    const exeShim = '@ECHO off\r\nGOTO start\r\n:find_dp0\r\nSET dp0=%~dp0\r\nEXIT /b\r\n:start\r\nSETLOCAL\r\nCALL :find_dp0\r\n"%dp0%\\node_modules\\@anthropic-ai\\claude-code\\bin\\claude.exe"   %*\r\n';
    assert.equal(parseCmdShim(exeShim, 'C:\\npm'), 'C:\\npm\\node_modules\\@anthropic-ai\\claude-code\\bin\\claude.exe');
    const jsShim = '@ECHO off\r\n:start\r\nSETLOCAL\r\nCALL :find_dp0\r\nIF EXIST "%dp0%\\node.exe" (\r\n  SET "_prog=%dp0%\\node.exe"\r\n) ELSE (\r\n  SET "_prog=node"\r\n  SET PATHEXT=%PATHEXT:;.JS;=;%\r\n)\r\nendLocal & goto #_undefined_# 2>NUL || title %COMSPEC% & "%_prog%"  "%dp0%\\node_modules\\@anthropic-ai\\claude-code\\cli.js" %*\r\n';
    const r = resolveShim('C:\\npm\\claude.cmd', () => jsShim);
    assert.equal(r.command, 'node');
    assert.deepEqual(r.prefixArgs, ['C:\\npm\\node_modules\\@anthropic-ai\\claude-code\\cli.js']);
  });

  it('a missing CLI gives the install hint; an explicit path is used as is', () => {
    assert.throws(() => resolveClaudeExecutable(undefined, { PATH: '/nonexistent' }), (e: Error) => e.message === CLAUDE_NOT_FOUND);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-bin-'));
    const bin = path.join(dir, 'claude');
    fs.writeFileSync(bin, '#!/bin/sh\n', { mode: 0o755 });
    try {
      assert.equal(resolveClaudeExecutable(undefined, { PATH: dir }).command, bin);
      assert.equal(resolveClaudeExecutable(bin, {}).command, bin);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('logged command lines mask secrets', () => {
    const line = describeCommand('claude', ['-p', 'a b'], { ANTHROPIC_API_KEY: 'sk-secret', ANTHROPIC_AUTH_TOKEN: 'tok', ANTHROPIC_BASE_URL: 'http://x', HOME: '/h' });
    assert.equal(line, 'ANTHROPIC_API_KEY=*** ANTHROPIC_AUTH_TOKEN=*** ANTHROPIC_BASE_URL=http://x claude -p "a b"');
  });
});
