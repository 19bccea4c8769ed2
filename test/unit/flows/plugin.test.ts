// core/flows/plugin: where the lead skill and the MCP entry go, and that nobody's other entries are touched.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GroveError } from '../../../src/core/errors';
import { installPlugin, pluginTargets, SKILL_MD } from '../../../src/core/flows/plugin';

describe('core/flows/plugin', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-plugin-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const server = { command: 'grove', args: ['mcp'] };

  it('targets: the project\'s .claude/skills and .mcp.json; the user\'s ~/.claude/skills and ~/.claude.json, or CLAUDE_CONFIG_DIR\'s', () => {
    assert.deepEqual(pluginTargets('project', { projectRoot: '/r' }), { skillFile: path.join('/r', '.claude', 'skills', 'grove', 'SKILL.md'), mcpFile: path.join('/r', '.mcp.json') });
    assert.deepEqual(pluginTargets('user', { env: {}, home: '/h' }), { skillFile: path.join('/h', '.claude', 'skills', 'grove', 'SKILL.md'), mcpFile: path.join('/h', '.claude.json') });
    assert.deepEqual(pluginTargets('user', { env: { CLAUDE_CONFIG_DIR: '/c' }, home: '/h' }), { skillFile: path.join('/c', 'skills', 'grove', 'SKILL.md'), mcpFile: path.join('/c', '.claude.json') });
  });

  it('merges the grove server into an existing file, keeping every other key and server; a second install changes nothing', () => {
    const targets = pluginTargets('project', { projectRoot: dir });
    const before = { mcpServers: { other: { type: 'stdio', command: 'other-server', args: [], env: { K: 'v' } } }, custom: [1, 2] };
    fs.writeFileSync(targets.mcpFile, JSON.stringify(before));
    const r = installPlugin(targets, server);
    assert.deepEqual([r.skill.action, r.mcp.action, r.notes], ['written', 'written', []]);
    assert.deepEqual(JSON.parse(fs.readFileSync(targets.mcpFile, 'utf8')), { ...before, mcpServers: { ...before.mcpServers, grove: { type: 'stdio', command: 'grove', args: ['mcp'], env: {}, timeout: 3_660_000 } } });
    assert.equal(fs.readFileSync(targets.skillFile, 'utf8'), SKILL_MD);
    const again = installPlugin(targets, server);
    assert.deepEqual([again.skill.action, again.mcp.action], ['unchanged', 'unchanged']);
  });

  it('keeps a grove entry and a skill the user changed (saying so) unless force', () => {
    const targets = pluginTargets('project', { projectRoot: dir });
    const mine = { mcpServers: { grove: { command: '/opt/my-grove', args: ['mcp', '--max', '2'] } } };
    fs.writeFileSync(targets.mcpFile, JSON.stringify(mine));
    fs.mkdirSync(path.dirname(targets.skillFile), { recursive: true });
    fs.writeFileSync(targets.skillFile, 'my own skill\n');
    const r = installPlugin(targets, server);
    assert.deepEqual([r.skill.action, r.mcp.action], ['kept', 'kept']);
    assert.match(r.notes.join('\n'), /already has a "grove" server .*\/opt\/my-grove.*; it was kept \(--force replaces it\)/);
    assert.match(r.notes.join('\n'), /SKILL\.md exists and differs from Grove's skill; it was kept/);
    assert.deepEqual(JSON.parse(fs.readFileSync(targets.mcpFile, 'utf8')), mine);
    assert.equal(fs.readFileSync(targets.skillFile, 'utf8'), 'my own skill\n');
    const forced = installPlugin(targets, server, { force: true });
    assert.deepEqual([forced.skill.action, forced.mcp.action], ['written', 'written']);
    assert.equal(JSON.parse(fs.readFileSync(targets.mcpFile, 'utf8')).mcpServers.grove.command, 'grove');
  });

  it('refuses a file that is not JSON, writing nothing', () => {
    const targets = pluginTargets('user', { env: { CLAUDE_CONFIG_DIR: dir } });
    fs.writeFileSync(targets.mcpFile, '{ "broken": ');
    assert.throws(() => installPlugin(targets, server), (e) => GroveError.is(e, 'InvalidInput') && /\.claude\.json is not valid JSON .*Nothing was written\./.test(e.message));
    assert.equal(fs.readFileSync(targets.mcpFile, 'utf8'), '{ "broken": ');
    assert.equal(fs.existsSync(targets.skillFile), false);
  });

  it('the skill is short and names every step a lead takes, in order', () => {
    assert.ok(SKILL_MD.split('\n').length < 40, 'short');
    assert.match(SKILL_MD, /^---\nname: grove\ndescription: .+\n---\n/);
    const steps = ['grove_dispatch', 'grove_wait', 'grove_review', 'grove_follow_up', 'grove_land'].map((t) => SKILL_MD.indexOf(`\`${t}\``));
    assert.ok(steps.every((i, k) => i > 0 && (k === 0 || i > steps[k - 1]!)), `in order: ${steps}`);
  });
});
