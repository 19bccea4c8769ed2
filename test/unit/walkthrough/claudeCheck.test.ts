import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkClaude, credentialHints, parseAuthStatus } from '../../../src/vscode/walkthrough/claudeCheck';

const root = path.resolve(__dirname, '../../../..');
const claude = path.join(root, 'node_modules', '.bin', 'claude');
const version = (JSON.parse(fs.readFileSync(path.join(root, 'node_modules', '@anthropic-ai', 'claude-code', 'package.json'), 'utf8')) as { version: string }).version;

/** The host's environment without anything that would sign the CLI in, and CLI state in a fresh folder. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(ANTHROPIC_|CLAUDE_)/.test(k)) env[k] = v;
  return { ...env, CLAUDE_CONFIG_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'grove-check-')), DISABLE_AUTOUPDATER: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', ...extra };
}

describe('walkthrough/claudeCheck (the real Claude Code CLI)', function () {
  this.timeout(60_000);

  it('reports the version and "not signed in" for a CLI with no credentials', async () => {
    const r = await checkClaude({ claudePath: claude, env: cleanEnv(), demoModel: false });
    assert.equal(r.installed, true);
    assert.equal(r.version, version);
    assert.equal(r.signedIn, false);
    assert.match(r.problem ?? '', /not signed in/);
  });

  it('reports an API key from the agents\' environment as signed in, with its source', async () => {
    const r = await checkClaude({ claudePath: claude, env: cleanEnv({ ANTHROPIC_API_KEY: 'sk-test-grove' }), demoModel: false });
    assert.equal(r.signedIn, true);
    assert.equal(r.signedInWith, 'an API key (ANTHROPIC_API_KEY)');
  });

  it('reports a stored claude.ai login in CLAUDE_CONFIG_DIR', async () => {
    const env = cleanEnv();
    fs.writeFileSync(path.join(env.CLAUDE_CONFIG_DIR!, '.credentials.json'), JSON.stringify({
      claudeAiOauth: { accessToken: 'sk-ant-oat01-test', refreshToken: 'sk-ant-ort01-test', expiresAt: 4102444800000, scopes: ['user:inference'], subscriptionType: 'pro' },
    }));
    const r = await checkClaude({ claudePath: claude, env, demoModel: false });
    assert.equal(r.signedIn, true);
    assert.equal(r.signedInWith, 'a Claude Pro account');
  });

  it('counts the demo model as signed in without asking the CLI', async () => {
    const r = await checkClaude({ claudePath: claude, env: cleanEnv(), demoModel: true });
    assert.equal(r.installed, true);
    assert.equal(r.signedIn, true);
    assert.match(r.signedInWith ?? '', /demo model/);
  });

  it('says what is missing when grove.claudePath names no file, or nothing is on PATH', async () => {
    const missing = await checkClaude({ claudePath: '/nonexistent/claude', env: cleanEnv(), demoModel: false });
    assert.equal(missing.installed, false);
    assert.match(missing.problem ?? '', /grove\.claudePath is "\/nonexistent\/claude"/);
    const none = await checkClaude({ env: { ...cleanEnv(), PATH: fs.mkdtempSync(path.join(os.tmpdir(), 'grove-empty-path-')) }, demoModel: false });
    assert.equal(none.installed, false);
    assert.match(none.problem ?? '', /not found/);
  });

  it('reports a program that fails --version as not installed, with its error', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-bad-claude-'));
    const bad = path.join(dir, 'claude');
    fs.writeFileSync(bad, '#!/bin/sh\necho "broken install" >&2\nexit 3\n', { mode: 0o755 });
    const r = await checkClaude({ claudePath: bad, env: cleanEnv(), demoModel: false });
    assert.equal(r.installed, false);
    assert.match(r.problem ?? '', /--version failed: broken install/);
  });

  it('parses auth status JSON and rejects other output', () => {
    assert.deepEqual(parseAuthStatus('{"loggedIn":true,"authMethod":"claude.ai","subscriptionType":"max","email":"a@b.c"}'), { signedIn: true, signedInWith: 'a Claude Max account, a@b.c' });
    assert.deepEqual(parseAuthStatus('{"loggedIn":true,"authMethod":"none","apiProvider":"bedrock"}'), { signedIn: true, signedInWith: 'bedrock credentials' });
    assert.equal(parseAuthStatus('error: unknown command \'auth\''), undefined);
    assert.equal(parseAuthStatus('{"something":"else"}'), undefined);
  });

  it('falls back to credentials it can see when the CLI cannot tell', () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-home-'));
    assert.equal(credentialHints({}, home), undefined);
    assert.equal(credentialHints({ CLAUDE_CODE_OAUTH_TOKEN: 'x' }, home), 'CLAUDE_CODE_OAUTH_TOKEN');
    fs.mkdirSync(path.join(home, '.claude'));
    fs.writeFileSync(path.join(home, '.claude', '.credentials.json'), '{"claudeAiOauth":{"accessToken":"t"}}');
    assert.match(credentialHints({}, home) ?? '', /stored login/);
  });
});
