// One settings model: the same table and validator for VS Code and the CLI, kept equal to package.json.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { branchPrefixProblem, defaultSettings, SETTINGS, settingsFromEnvironment, settingsHelp, validateSettings } from '../../src/core/settings';

const manifest = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8'));
const properties = manifest.contributes.configuration.properties as Record<string, { default?: unknown; enum?: string[]; minimum?: number; maximum?: number; markdownDescription?: string; description?: string }>;

describe('settings', () => {
  it('every grove.* setting of package.json is in the one table with the same default and values, and the other way round', () => {
    const inManifest = Object.keys(properties).map((k) => k.replace(/^grove\./, '')).sort();
    assert.deepEqual(SETTINGS.map((s) => s.key).sort(), inManifest);
    for (const spec of SETTINGS) {
      const p = properties[`grove.${spec.key}`]!;
      const manifestDefault = p.default === '' || p.default === null ? undefined : p.default;
      assert.deepEqual(manifestDefault, spec.default, `default of grove.${spec.key}`);
      if (spec.kind.type === 'enum') {
        // The CLI accepts a superset for permission modes (auto, dontAsk); every value VS Code offers must be valid.
        for (const v of p.enum ?? []) assert.ok(spec.kind.values.includes(v), `grove.${spec.key}: ${v}`);
      }
      if (spec.kind.type === 'integer') assert.deepEqual([p.minimum, p.maximum], [spec.kind.min, spec.kind.max === 100_000 ? undefined : spec.kind.max], `range of grove.${spec.key}`);
    }
  });

  it('grove.worktreePool: 0 by default, 0 to 8, GROVE_WORKTREE_POOL in the CLI', () => {
    assert.equal(defaultSettings().worktreePool, 0);
    assert.equal(settingsFromEnvironment({ GROVE_WORKTREE_POOL: '3' }).settings.worktreePool, 3);
    const tooMany = settingsFromEnvironment({ GROVE_WORKTREE_POOL: '9' });
    assert.equal(tooMany.settings.worktreePool, 0);
    assert.match(tooMany.problems.join('\n'), /GROVE_WORKTREE_POOL must be from 0 to 8, not 9/);
  });

  it('defaults are valid and complete', () => {
    const d = defaultSettings();
    assert.equal(d.branchPrefix, 'grove');
    assert.equal(d.maxConcurrent, 4);
    assert.deepEqual(d.copyFiles, ['.env', '.env.*']);
    assert.equal(d.checkCommand, undefined);
    assert.deepEqual(validateSettings({}).problems, []);
  });

  it('an invalid value is replaced by its default and reported in a sentence that names the setting', () => {
    const r = validateSettings({ maxConcurrent: 0, mergeStrategy: 'octopus', agentEnv: { 'BAD NAME': 'x' }, agents: [{ name: 'aider' }], copyFiles: 'nope' as unknown });
    assert.equal(r.settings.maxConcurrent, 4);
    assert.equal(r.settings.mergeStrategy, 'ask');
    assert.deepEqual(r.settings.agentEnv, {});
    assert.deepEqual(r.settings.agents, []);
    assert.deepEqual(r.settings.copyFiles, ['nope'], 'a single pattern given as text is a list of one');
    assert.equal(r.problems.length, 4);
    assert.match(r.problems[0]!, /^grove\.maxConcurrent must be from 1 to 50, not 0; using 4\.$/);
    assert.match(r.problems.join('\n'), /grove\.mergeStrategy must be one of ask, merge, squash, rebase/);
    assert.match(r.problems.join('\n'), /grove\.agents is invalid: entry 1 needs a "name" and a "command"/);
  });

  it('refuses branch prefixes that make ambiguous refs', () => {
    for (const bad of ['refs/heads', 'refs', 'HEAD', 'HEAD/x', 'ORIG_HEAD', 'a..b', 'has space', 'x.lock', '.hidden', 'a//b', 'wild*']) {
      assert.ok(branchPrefixProblem(bad), `"${bad}" accepted`);
      const r = validateSettings({ branchPrefix: bad });
      assert.equal(r.settings.branchPrefix, 'grove');
      assert.equal(r.problems.length, 1);
    }
    for (const good of ['grove', 'agents', 'team/ai', 'feat-x', 'grove/']) assert.equal(branchPrefixProblem(good), undefined, good);
  });

  it('the CLI reads every setting from GROVE_* variables, flags winning, with the same validation', () => {
    const r = settingsFromEnvironment({
      GROVE_CHECK_COMMAND: 'npm test', GROVE_MERGE_STRATEGY: 'squash', GROVE_SYNC_STRATEGY: 'rebase', GROVE_CLEANUP_AFTER_MERGE: 'always',
      GROVE_COPY_FILES: '.env, config/*.local', GROVE_AGENT_ENV: '{"ANTHROPIC_MODEL":"x"}', GROVE_MAX_CONCURRENT: '3', GROVE_SHOW_CLAUDE_SESSIONS: 'false',
    }, { max: '7' });
    assert.deepEqual(r.problems, []);
    assert.equal(r.settings.checkCommand, 'npm test');
    assert.equal(r.settings.mergeStrategy, 'squash');
    assert.equal(r.settings.syncStrategy, 'rebase');
    assert.equal(r.settings.cleanupAfterMerge, 'always');
    assert.deepEqual(r.settings.copyFiles, ['.env', 'config/*.local']);
    assert.deepEqual(r.settings.agentEnv, { ANTHROPIC_MODEL: 'x' });
    assert.equal(r.settings.maxConcurrent, 7, 'the flag wins over the variable');
    assert.equal(r.settings.showClaudeSessions, false);
    const bad = settingsFromEnvironment({ GROVE_MAX_CONCURRENT: 'lots', GROVE_BRANCH_PREFIX: 'refs/heads' }, {});
    assert.equal(bad.problems.length, 2);
    assert.match(bad.problems[0]!, /^GROVE_BRANCH_PREFIX is invalid/);
    assert.match(bad.problems[1]!, /^GROVE_MAX_CONCURRENT must be a whole number, not "lots"/);
  });

  it('grove --help lists every setting with its variable', () => {
    const help = settingsHelp();
    for (const spec of SETTINGS) assert.ok(help.includes(spec.env), spec.env);
  });
});
