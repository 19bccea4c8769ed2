import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { CLAUDE_NOT_FOUND, describeCommand, describeEnv, parseCmdShim, resolveClaudeExecutable, resolveShim } from '../../../src/core/agents/agentProcess';
import { CLAUDE_PROFILE, expandArgs, findProfile, parseProfiles } from '../../../src/core/agents/profiles';

describe('agent profiles and executable resolution', () => {
  it('expands ${prompt} inside each argument without ever splitting or interpreting it', () => {
    const prompt = `fix "it"; rm -rf / $(whoami) \`id\`\nsecond line`;
    assert.deepEqual(expandArgs(['--message', '${prompt}', '--title=${title}', '${unknown}'], { prompt, title: 'T' }), ['--message', prompt, '--title=T', '${unknown}']);
  });

  it('a prompt or title starting with "-" never becomes an option of the other CLI', () => {
    const prompt = '--yes-always\nrun everything';
    assert.deepEqual(
      expandArgs(['${prompt}', '${title}', '--message=${prompt}', '-m', '${prompt}', '-t${title}', '${cwd}', 'x${prompt}'], { prompt, title: '-rf', cwd: '/w' }),
      [` ${prompt}`, ' -rf', `--message=${prompt}`, '-m', ` ${prompt}`, '-t-rf', '/w', `x${prompt}`],
    );
    // A text that does not start with "-" is passed exactly as written.
    assert.deepEqual(expandArgs(['${prompt}'], { prompt: 'fix -the- bug' }), ['fix -the- bug']);
  });

  it('a real CLI (node) gets a prompt starting with "--" as its argument, not as one of its own options', async () => {
    const args = expandArgs(['-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', '${prompt}'], { prompt: '--version' });
    const r = await execa(process.execPath, args, { reject: false });
    assert.notEqual(r.stdout, process.version, 'node read the task as its --version option');
    assert.deepEqual(JSON.parse(r.stdout), [' --version']);
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

  it('logs only allow-listed values: custom headers, URL credentials and unknown variables never appear', () => {
    const env = {
      ANTHROPIC_CUSTOM_HEADERS: 'Authorization: Bearer hdr-secret-1',
      ANTHROPIC_BASE_URL: 'https://grove:pw-secret-2@proxy.example:8443/v1?key=q-secret-3#f',
      ANTHROPIC_BEDROCK_BASE_URL: 'not a url secret-4',
      ANTHROPIC_MODEL: 'claude-sonnet-4-5',
      CLAUDE_CONFIG_DIR: '/home/u/.claude',
      CLAUDE_CODE_OAUTH_TOKEN: 'oauth-secret-5',
      CLAUDE_CODE_MAX_RETRIES: '0',
      AWS_SECRET_ACCESS_KEY: 'aws-secret-6',
      GITHUB_PAT: 'gh-secret-7',
      OPENAI_API_KEY: 'sk-secret-8',
      HOME: '/home/u',
    };
    const line = describeCommand('claude', ['-p'], env);
    for (const secret of ['hdr-secret-1', 'pw-secret-2', 'q-secret-3', 'secret-4', 'oauth-secret-5', 'aws-secret-6', 'gh-secret-7', 'sk-secret-8', 'Bearer', 'grove:']) {
      assert.ok(!line.includes(secret), `${secret} leaked: ${line}`);
    }
    assert.equal(
      line,
      'ANTHROPIC_CUSTOM_HEADERS=*** ANTHROPIC_BASE_URL=https://***@proxy.example:8443/v1?***#*** ANTHROPIC_BEDROCK_BASE_URL=*** ' +
        'ANTHROPIC_MODEL=claude-sonnet-4-5 CLAUDE_CONFIG_DIR=/home/u/.claude CLAUDE_CODE_OAUTH_TOKEN=*** CLAUDE_CODE_MAX_RETRIES=0 claude -p',
    );
    assert.deepEqual(describeEnv({ ANTHROPIC_BASE_URL: 'http://127.0.0.1:8080' }), ['ANTHROPIC_BASE_URL=http://127.0.0.1:8080']);
  });
});
