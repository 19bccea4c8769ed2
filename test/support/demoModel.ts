// The built-in scripted demo model for `npm start` (and the UI tier): the real Claude Code CLI talks to it on
// 127.0.0.1. `agentEnv(dir)` is what Grove's `grove.agentEnv` setting gets, so only agents see it.
import fs from 'node:fs';
import path from 'node:path';
import { claudeBin, seedInteractiveConfig } from './claudeEnv';
import { demoScript, ScriptedModel, type ScriptRule } from './scriptedModel';

export const DEMO_API_KEY = 'grove-demo-model-key-0000';

export interface DemoModel {
  url: string;
  claudePath: string;
  /** Variables for `grove.agentEnv`: CLI state in `stateDir`, the model at `url`; `trusted` repository (Grove carries it to worktrees). */
  agentEnv(stateDir: string, trusted: string): Record<string, string>;
  close(): Promise<void>;
}

export async function startDemoModel(rule: ScriptRule = demoScript): Promise<DemoModel> {
  const model = await ScriptedModel.start({ rule });
  return {
    url: model.url,
    claudePath: claudeBin(),
    agentEnv(stateDir, trusted) {
      const configDir = path.join(stateDir, 'cfg');
      const tmpDir = path.join(stateDir, 'tmp');
      fs.mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
      // Terminal-mode agents run the interactive TUI: onboarding done, folders trusted, the demo key approved.
      seedInteractiveConfig(configDir, [trusted], DEMO_API_KEY);
      return {
        CLAUDE_CONFIG_DIR: configDir,
        CLAUDE_CODE_TMPDIR: tmpDir,
        ANTHROPIC_BASE_URL: model.url,
        ANTHROPIC_API_KEY: DEMO_API_KEY,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_TELEMETRY: '1',
        DISABLE_AUTOUPDATER: '1',
        CLAUDE_CODE_MAX_RETRIES: '0',
      };
    },
    close: () => model.close(),
  };
}
