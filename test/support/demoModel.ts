// The built-in scripted demo model for `npm start` (and the UI tier): the real Claude Code CLI talks to it on
// 127.0.0.1. `agentEnv(dir)` is what Grove's `grove.agentEnv` setting gets, so only agents see it.
import { claudeBin, modelEnv } from './claudeEnv';
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
    agentEnv: (stateDir, trusted) => modelEnv(model.url, stateDir, DEMO_API_KEY, [trusted]),
    close: () => model.close(),
  };
}
