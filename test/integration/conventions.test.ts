import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import type { ClaudeCheck } from '../../src/vscode/walkthrough/claudeCheck';
import { repoRoot, setConfig, until, workspaceRepo } from './helpers';

interface Manifest {
  contributes: {
    commands: { command: string; title: string; icon?: string }[];
    keybindings: { command: string; key: string; mac?: string; when?: string }[];
    walkthroughs: { id: string; title: string; steps: { id: string; title: string; description: string; media: { markdown?: string }; completionEvents?: string[] }[] }[];
    menus: Record<string, { command: string; group?: string }[]>;
    configuration: { properties: Record<string, { description?: string; markdownDescription?: string; enumDescriptions?: string[] }> };
  };
  capabilities: { untrustedWorkspaces: { supported: string; restrictedConfigurations?: string[] } };
}

const RESTRICTED = ['grove.setupCommand', 'grove.checkCommand', 'grove.claudePath', 'grove.agents', 'grove.agentEnv'];

/** A stand-in `claude` that reports a version of its own and is signed in with an API key. */
function fakeClaude(dir: string, version: string): string {
  const file = path.join(dir, 'claude');
  fs.writeFileSync(file, [
    '#!/bin/sh',
    `if [ "$1" = "--version" ]; then echo "${version} (Claude Code)"; exit 0; fi`,
    'if [ "$1" = "auth" ]; then echo \'{"loggedIn":true,"authMethod":"api_key","apiProvider":"firstParty","apiKeySource":"ANTHROPIC_API_KEY"}\'; exit 0; fi',
    'exit 2',
  ].join('\n'), { mode: 0o755 });
  return file;
}

describe('conventions of a well-made extension', function () {
  const ext = () => vscode.extensions.getExtension('grove-dev.grove')!;
  const manifest = () => ext().packageJSON as Manifest;

  describe('walkthrough', () => {
    it('has the four steps, each with a button that runs a registered command and a completion event', async () => {
      const [w] = manifest().contributes.walkthroughs;
      assert.equal(w.id, 'grove.gettingStarted');
      assert.deepEqual(w.steps.map((s) => [s.id, s.completionEvents]), [
        ['checkClaude', ['onContext:grove.claudeReady']],
        ['dispatch', ['onContext:grove.hasInstances']],
        ['review', ['onContext:grove.reviewedChanges']],
        ['merge', ['onContext:grove.hasMerged']],
      ]);
      const registered = new Set(await vscode.commands.getCommands(true));
      for (const s of w.steps) {
        const button = /\n\[[^\]]+\]\(command:([\w.]+)\)$/.exec(s.description);
        assert.ok(button, `step ${s.id} has no button`);
        assert.ok(registered.has(button[1]), `step ${s.id}'s button runs ${button[1]}, which is not registered`);
        const media = path.join(ext().extensionPath, s.media.markdown!);
        assert.match(fs.readFileSync(media, 'utf8'), /^# /, `${media} is missing or has no title`);
      }
    });

    it('opens in the editor area from Welcome: Open Walkthrough', async () => {
      await vscode.commands.executeCommand('workbench.action.openWalkthrough', 'grove-dev.grove#grove.gettingStarted', false);
      const tab = await until('the walkthrough tab', () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => /welcome|walkthrough/i.test(t.label)), 20_000);
      assert.ok(tab.isActive);
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    });
  });

  describe('Check Claude Code (the walkthrough\'s first step)', () => {
    afterEach(async () => setConfig({ claudePath: undefined, agentEnv: undefined }));

    it('finds the real CLI and an API key in grove.agentEnv, the way agents get it', async () => {
      const state = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-it-check-'));
      await setConfig({ claudePath: path.join(repoRoot(), 'node_modules', '.bin', 'claude'), agentEnv: { CLAUDE_CONFIG_DIR: state, ANTHROPIC_API_KEY: 'sk-grove-integration' } });
      const r = await vscode.commands.executeCommand<ClaudeCheck>('grove.checkClaude');
      assert.equal(r.installed, true, r.problem);
      assert.match(r.version ?? '', /^\d+\.\d+\.\d+/);
      assert.equal(r.signedIn, true, r.problem);
      assert.equal(r.signedInWith, 'an API key (ANTHROPIC_API_KEY)');
    });

    it('says "not signed in" for the real CLI with no credentials', async () => {
      const state = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-it-check-'));
      // Variables of the host that would sign the CLI in are blanked for the check, as agentEnv can.
      const blank = Object.fromEntries(Object.keys(process.env).filter((k) => /^(ANTHROPIC_|CLAUDE_CODE_OAUTH)/.test(k)).map((k) => [k, '']));
      await setConfig({ claudePath: path.join(repoRoot(), 'node_modules', '.bin', 'claude'), agentEnv: { ...blank, CLAUDE_CONFIG_DIR: state } });
      const r = await vscode.commands.executeCommand<ClaudeCheck>('grove.checkClaude');
      assert.equal(r.installed, true, r.problem);
      assert.equal(r.signedIn, false);
    });

    it('says Claude Code is missing when grove.claudePath names no program', async () => {
      await setConfig({ claudePath: path.join(os.tmpdir(), 'no-such-dir', 'claude') });
      const r = await vscode.commands.executeCommand<ClaudeCheck>('grove.checkClaude');
      assert.equal(r.installed, false);
      assert.match(r.problem ?? '', /not found/);
    });
  });

  describe('keybindings', () => {
    it('binds Dispatch Task and Dispatch Plan to chords that no default VS Code keybinding uses', async () => {
      const kb = manifest().contributes.keybindings;
      assert.deepEqual(kb.map((k) => [k.command, k.key, k.mac]), [
        ['grove.dispatchTask', 'ctrl+shift+alt+d', 'ctrl+shift+cmd+d'],
        ['grove.dispatchPlan', 'ctrl+shift+alt+p', 'ctrl+shift+cmd+p'],
      ]);
      for (const k of kb) assert.equal(k.when, 'workbenchState != empty && !grove.noRepository');
      // The defaults as this VS Code lists them (Preferences: Open Default Keyboard Shortcuts (JSON)).
      await vscode.commands.executeCommand('workbench.action.openDefaultKeybindingsFile');
      const doc = await until('the default keybindings', () => {
        const d = vscode.window.activeTextEditor?.document;
        return d && /keybindings\.json$/.test(d.uri.path) ? d : undefined;
      }, 20_000);
      const defaults = JSON.parse(doc.getText().replace(/^\s*\/\/.*$/gm, '')) as { key: string; command: string }[];
      assert.ok(defaults.length > 500, `only ${defaults.length} default keybindings were read`);
      const norm = (key: string) => key.split(' ').map((stroke) => stroke.split('+').sort().join('+'));
      // Sanity: the comparison sees the defaults' own chords (Ctrl+Shift+P is the command palette).
      assert.ok(defaults.some((d) => d.command === 'workbench.action.showCommands' && norm(d.key)[0] === norm('ctrl+shift+p')[0]));
      for (const k of kb) {
        const clash = defaults.filter((d) => !d.command.startsWith('grove.') && norm(d.key)[0] === norm(k.key)[0]);
        assert.deepEqual(clash, [], `${k.key} is also a default keybinding`);
      }
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    });
  });

  describe('restricted settings in untrusted workspaces', () => {
    it('declares every setting that runs a program or sends data as restricted', () => {
      const { untrustedWorkspaces } = manifest().capabilities;
      assert.equal(untrustedWorkspaces.supported, 'limited');
      assert.deepEqual([...(untrustedWorkspaces.restrictedConfigurations ?? [])].sort(), [...RESTRICTED].sort());
      const declared = manifest().contributes.configuration.properties;
      for (const key of RESTRICTED) {
        assert.ok(declared[key], `${key} is not a setting`);
        assert.match(declared[key].markdownDescription ?? '', /Restricted Mode/, `${key}'s description does not say what Restricted Mode does`);
      }
    });

    it('reads them through VS Code\'s configuration API, which applies the restriction: a workspace value counts only when trusted', async () => {
      // Trusted here (the extension-host tier runs trusted): a workspace's grove.claudePath is what the check runs.
      // The UI tier shows the same workspace value ignored in Restricted Mode.
      assert.equal(vscode.workspace.isTrusted, true);
      const fake = fakeClaude(fs.mkdtempSync(path.join(os.tmpdir(), 'grove-it-ws-claude-')), '9.8.7');
      const settingsDir = path.join(workspaceRepo(), '.vscode');
      const existed = fs.existsSync(settingsDir);
      const c = vscode.workspace.getConfiguration('grove');
      try {
        await c.update('claudePath', fake, vscode.ConfigurationTarget.Workspace);
        const r = await vscode.commands.executeCommand<ClaudeCheck>('grove.checkClaude');
        assert.equal(r.executable, fake);
        assert.equal(r.version, '9.8.7');
      } finally {
        await c.update('claudePath', undefined, vscode.ConfigurationTarget.Workspace);
        if (!existed) fs.rmSync(settingsDir, { recursive: true, force: true });
      }
      // Nothing in src/ reads Grove's settings around that API (settings.json files, inspect()'s workspace values).
      const offenders: string[] = [];
      const walk = (dir: string) => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
          const p = path.join(dir, e.name);
          if (e.isDirectory()) walk(p);
          else if (p.endsWith('.ts') && /\.vscode[\\/]settings\.json|['"`]settings\.json['"`]|\.inspect\s*[<(]|workspaceValue|workspaceFolderValue/.test(fs.readFileSync(p, 'utf8'))) offenders.push(path.relative(repoRoot(), p));
        }
      };
      walk(path.join(repoRoot(), 'src', 'vscode'));
      assert.deepEqual(offenders, []);
    });
  });

  describe('manifest polish', () => {
    it('gives every command an icon, so any menu that shows icons has one', () => {
      const { commands, menus } = manifest().contributes;
      assert.deepEqual(commands.filter((c) => !c.icon).map((c) => c.command), []);
      const byId = new Map(commands.map((c) => [c.command, c]));
      for (const [menu, entries] of Object.entries(menus)) {
        for (const e of entries) assert.ok(byId.has(e.command), `${menu} names ${e.command}, which is no contributed command`);
      }
    });

    it('describes every setting in markdown', () => {
      const props = manifest().contributes.configuration.properties;
      const plain = Object.entries(props).filter(([, p]) => !p.markdownDescription || p.description || p.enumDescriptions).map(([k]) => k);
      assert.deepEqual(plain, []);
    });

    it('activates on markdown, so plan files get their lenses before anything else of Grove is used', () => {
      assert.ok((ext().packageJSON.activationEvents as string[]).includes('onLanguage:markdown'));
    });
  });
});
