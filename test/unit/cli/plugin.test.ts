// `grove install-plugin`, the BUILT dist/cli.js, checked with the real Claude Code CLI: it reads the entry, starts
// `grove mcp` from it and connects; the user's other servers and settings are untouched.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { claudeBin, claudeEnv, repoRoot } from '../../support/claudeEnv';
import { gitTestEnv, useTempRepos } from '../../support/repo';

const CLI = path.join(repoRoot(), 'dist', 'cli.js');

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('grove install-plugin (real Claude CLI reads what it wrote)', function () {
  this.timeout(60_000);
  const repos = useTempRepos();

  it('--user merges the grove server into CLAUDE_CONFIG_DIR/.claude.json; claude mcp get connects to it; other entries stay', async () => {
    const repo = repos.create({ files: { 'README.md': '# demo\n' } });
    const { env: base } = claudeEnv({ root: repos.dir('claude'), baseUrl: 'http://127.0.0.1:9' });
    const env = { ...base, ...gitTestEnv };
    const cfg = env.CLAUDE_CONFIG_DIR!;
    fs.mkdirSync(cfg, { recursive: true });
    const file = path.join(cfg, '.claude.json');
    const before = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
    const mine = { ...before, theme: 'dark', mcpServers: { other: { type: 'stdio', command: 'true', args: [], env: {} } } };
    fs.writeFileSync(file, JSON.stringify(mine, null, 2));

    const r = await run(process.execPath, [CLI, 'install-plugin', '--user', '--json'], env, repo);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual([out.scope, out.skill.action, out.mcp.action, out.mcp.path], ['user', 'written', 'written', file]);
    const after = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.equal(after.theme, 'dark');
    assert.deepEqual(after.mcpServers.other, mine.mcpServers.other);
    assert.deepEqual(after.mcpServers.grove.args.at(-1), 'mcp');
    assert.equal(after.mcpServers.grove.timeout, 3_660_000, 'grove_wait may block up to an hour: Claude Code must not cut the call');
    assert.match(fs.readFileSync(path.join(cfg, 'skills', 'grove', 'SKILL.md'), 'utf8'), /^---\nname: grove\n/);

    const get = await run(claudeBin(), ['mcp', 'get', 'grove'], env, repo);
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /Scope: User config/);
    assert.match(get.stdout, /Status: ✔ Connected/, 'claude started grove mcp from the entry and initialized it');

    const again = await run(process.execPath, [CLI, 'install-plugin', '--user'], env, repo);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^Up to date: .*SKILL\.md\nUp to date: .*\.claude\.json/);
  });

  it('--project writes .claude/skills/grove/SKILL.md and .mcp.json of the repository, which claude lists as the project\'s', async () => {
    const repo = repos.create({ files: { 'README.md': '# demo\n', '.mcp.json': JSON.stringify({ mcpServers: { docs: { type: 'stdio', command: 'true', args: [], env: {} } } }) } });
    const env = { ...claudeEnv({ root: repos.dir('claude'), baseUrl: 'http://127.0.0.1:9' }).env, ...gitTestEnv };
    const r = await run(process.execPath, [CLI, 'install-plugin', '--repo', repo], env, repo);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Wrote ${repo.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\.claude/skills/grove/SKILL\\.md\\nAdded the grove MCP server to .*\\.mcp\\.json`));
    const mcp = JSON.parse(fs.readFileSync(path.join(repo, '.mcp.json'), 'utf8'));
    assert.deepEqual(Object.keys(mcp.mcpServers), ['docs', 'grove']);
    const get = await run(claudeBin(), ['mcp', 'get', 'grove'], env, repo);
    assert.match(get.stdout, /Scope: Project config/, get.stdout + get.stderr);
    const both = await run(process.execPath, [CLI, 'install-plugin', '--project', '--user'], env, repo);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /give --project or --user, not both/);
  });
});
