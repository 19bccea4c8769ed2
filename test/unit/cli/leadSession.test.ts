// End to end, as a user would set it up: `grove install-plugin --project`, then a real Claude Code lead session
// (`claude -p` in the main checkout, scripted by the model server) that follows the skill: grove_dispatch of three
// tasks (one `after:` another), grove_wait, grove_review, grove_land. The children are real Claude Code agents on
// their own worktrees (the same scripted server answers them), started by the `grove mcp` server Claude Code ran
// from the installed entry.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { claudeBin, claudeEnv, repoRoot } from '../../support/claudeEnv';
import { git, gitTestEnv, useTempRepos } from '../../support/repo';
import { bash, ScriptedModel, text, toolUse, write, type RecordedRequest, type ScriptReply } from '../../support/scriptedModel';

const CLI = path.join(repoRoot(), 'dist', 'cli.js');

/** The tool results the lead got so far, by tool name (from the tool_use ids of the history). */
function results(req: RecordedRequest): Map<string, string[]> {
  const names = new Map<string, string>();
  const out = new Map<string, string[]>();
  for (const m of req.body.messages as any[]) {
    for (const b of Array.isArray(m.content) ? m.content : []) {
      if (b.type === 'tool_use') names.set(b.id, b.name);
      if (b.type === 'tool_result') {
        const name = names.get(b.tool_use_id) ?? '?';
        const t = typeof b.content === 'string' ? b.content : (b.content ?? []).map((c: any) => c.text ?? '').join('');
        out.set(name, [...(out.get(name) ?? []), t]);
      }
    }
  }
  return out;
}

const grove = (tool: string, input: Record<string, unknown>) => toolUse(`mcp__grove__${tool}`, input);

/** The lead follows the skill: dispatch, wait (again while still running), review, land, report. */
function lead(req: RecordedRequest): ScriptReply {
  const r = results(req);
  if (!r.has('mcp__grove__grove_dispatch')) {
    return grove('grove_dispatch', {
      tasks: [
        { title: 'Alpha', prompt: 'Create alpha.txt' },
        { title: 'Beta', prompt: 'Create beta.txt' },
        { title: 'Gamma', prompt: 'Create gamma.txt', after: 'Alpha' },
      ],
    });
  }
  const waits = r.get('mcp__grove__grove_wait') ?? [];
  if (!waits.length || /"settled":\s*false/.test(waits.at(-1)!)) return grove('grove_wait', { timeoutSeconds: 60 });
  if (!r.has('mcp__grove__grove_review')) return grove('grove_review', { id: 'Gamma' });
  if (!r.has('mcp__grove__grove_land')) return grove('grove_land', { ids: ['Alpha', 'Gamma', 'Beta'] });
  return text('Landed Alpha, Gamma and Beta.');
}

/** A child writes its file, commits it, and says so. */
function child(req: RecordedRequest): ScriptReply {
  const name = /Create (\w+)\.txt/.exec(req.firstUserText)?.[1] ?? 'unnamed';
  if (req.assistantTurns === 0) return write(`${name}.txt`, `${name}\n`);
  if (req.assistantTurns === 1) return bash(`git add ${name}.txt && git commit -qm "Add ${name}"`);
  return text(`${name} committed.`);
}

describe('a Claude Code lead session drives Grove through the installed plugin (real Claude CLI)', function () {
  this.timeout(180_000);
  const repos = useTempRepos();
  let model: ScriptedModel;

  repos.closeFirst(async () => {
    await model?.close();
  });

  it('dispatches three tasks (one after another), waits, reviews, lands; the base ends with all three', async () => {
    const leads: RecordedRequest[] = [];
    model = await ScriptedModel.start({ rule: (req) => (/^LEAD:/.test(req.firstUserText) ? (leads.push(req), lead(req)) : child(req)) });
    const repo = repos.create({ files: { 'README.md': '# demo\n' } });
    const env: Record<string, string> = {
      ...claudeEnv({ root: repos.dir('claude'), baseUrl: model.url }).env, ...gitTestEnv,
      // What the grove MCP server (started by the lead's claude from .mcp.json) runs its agents with.
      GROVE_CLAUDE_PATH: claudeBin(), GROVE_PERMISSION_MODE: 'bypassPermissions',
    };
    const install = await run(process.execPath, [CLI, 'install-plugin', '--project', '--repo', repo], env, repo);
    assert.equal(install.code, 0, install.stderr);
    // The person approves the project's server once (what the TUI asks); -p sessions then load it.
    fs.writeFileSync(path.join(repo, '.claude', 'settings.local.json'), JSON.stringify({ enabledMcpjsonServers: ['grove'] }));

    const session = await run(claudeBin(), ['-p', 'LEAD: add alpha, beta and gamma (gamma needs alpha) with Grove', '--output-format', 'stream-json', '--verbose', '--permission-mode', 'bypassPermissions'], env, repo);
    const events = session.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const init = events.find((e) => e.type === 'system' && e.subtype === 'init');
    assert.ok(init, session.stderr);
    assert.deepEqual(init.mcp_servers, [{ name: 'grove', status: 'connected', source: 'project' }], 'Claude Code started grove mcp from the installed .mcp.json');
    assert.ok(init.tools.includes('mcp__grove__grove_wait'), `the lead has the grove tools: ${init.tools}`);
    const final = events.find((e) => e.type === 'result');
    assert.equal(final?.is_error, false, JSON.stringify(final));
    assert.equal(final.result, 'Landed Alpha, Gamma and Beta.');

    // The skill reached the lead's model, and every tool result is in the lead's transcript.
    assert.match(JSON.stringify(leads[0]!.body), /Lead several Claude Code agents working in parallel with Grove/);
    const toolResults = events.filter((e) => e.type === 'user').flatMap((e) => e.message.content).filter((b: any) => b.type === 'tool_result');
    const texts = toolResults.map((b: any) => (typeof b.content === 'string' ? b.content : b.content.map((c: any) => c.text).join('')));
    assert.ok(toolResults.every((b: any) => !b.is_error), texts.join('\n---\n'));
    const waitText = texts.find((t: string) => /"settled":\s*true/.test(t));
    assert.ok(waitText, `grove_wait returned with every agent settled: ${texts.join("\n---\n").slice(0, 3000)}`);
    const wait = JSON.parse(waitText!);
    assert.deepEqual(wait.instances.map((e: any) => [e.title, e.state, e.result]), [['Alpha', 'done', 'alpha committed.'], ['Beta', 'done', 'beta committed.'], ['Gamma', 'done', 'gamma committed.']]);
    const review = JSON.parse(texts.find((t: string) => /"mergeBase"/.test(t))!);
    assert.deepEqual(review.files.map((f: any) => f.path), ['gamma.txt'], 'Gamma started from Alpha\'s branch: only its own file is new');
    const land = JSON.parse(texts.find((t: string) => /"landed"/.test(t))!);
    // The train decides the order, a task after the one it started from: Gamma lands into main after Alpha.
    const order = land.landed.map((l: any) => l.title);
    assert.deepEqual(land.landed.map((l: any) => [l.title, l.into]).sort(), [['Alpha', 'main'], ['Beta', 'main'], ['Gamma', 'main']]);
    assert.ok(order.indexOf('Alpha') < order.indexOf('Gamma'), order.join(', '));

    // The children ran in their own worktrees; the base has all three changes.
    for (const name of ['alpha', 'beta', 'gamma']) assert.equal(git(repo, 'show', `main:${name}.txt`), name);
    const status = JSON.parse((await run(process.execPath, [CLI, 'status', '--json', '--repo', repo], env, repo)).stdout);
    for (const s of status) {
      assert.notEqual(path.resolve(s.worktreePath), path.resolve(repo), `${s.title} ran in its own worktree`);
      assert.equal(s.lead, init.session_id, `${s.title} records the lead session that dispatched it`);
    }
  });
});

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const c = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout!.on('data', (d) => (stdout += d));
    c.stderr!.on('data', (d) => (stderr += d));
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
