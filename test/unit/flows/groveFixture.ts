/**
 * A real Grove on a real temp repository with {@link FakeAgents} (no model): agents are simulated by the work each
 * turn does in its worktree (`agents.work`). Shared by the radar and Land All tests.
 */
import path from 'node:path';
import { dispatch } from '../../../src/core/flows/dispatch';
import { Grove, type GroveHost } from '../../../src/core/grove';
import type { InstanceSnapshot } from '../../../src/core/model';
import { defaultSettings, type GroveSettings } from '../../../src/core/settings';
import { waitForEvent } from '../../../src/core/util/event';
import { MemoryLogger } from '../../../src/core/util/logger';
import { gitTestEnv, type TempRepos } from '../../support/repo';
import { FakeAgents } from '../fleet/fakes';

export interface GroveFixture {
  repo: string;
  grove: Grove;
  agents: FakeAgents;
  settings: GroveSettings;
  logger: MemoryLogger;
  /** Dispatches tasks (`work` by title runs in each first turn) and waits until every one is done. */
  agentsDone(tasks: Array<{ title: string; work: (wt: string, prompt: string) => void }>): Promise<InstanceSnapshot[]>;
  settle(id: string): Promise<InstanceSnapshot>;
}

const FINISHED = ['done', 'failed', 'stopped', 'interrupted'];

export async function groveFixture(repos: TempRepos, files: Record<string, string>, host: Pick<GroveHost, 'radar'> = {}): Promise<GroveFixture> {
  const repo = repos.create({ files });
  const agents = new FakeAgents(20);
  const logger = new MemoryLogger();
  const settings: GroveSettings = { ...defaultSettings(), worktreeRoot: path.join(path.dirname(repo), 'wt'), maxConcurrent: 8 };
  const grove = new Grove({
    kind: 'test', logger, settings: () => settings, trusted: () => true, gitEnv: gitTestEnv, capabilities: { terminal: false },
    agents: () => ({ start: (inst, onEvent, opts) => agents.start(inst, onEvent, opts) }),
    ...host,
  });
  await grove.recover([repo]);
  const settle = async (id: string) => {
    if (!FINISHED.includes(grove.fleet.get(id)!.state)) {
      await waitForEvent(grove.fleet.onDidChangeInstances, () => FINISHED.includes(grove.fleet.get(id)!.state), 20_000);
    }
    await grove.checkpointsRecorded(id); // the turn's checkpoint, written just after the agent is done
    return grove.fleet.get(id)!;
  };
  return {
    repo, grove, agents, settings, logger, settle,
    async agentsDone(tasks) {
      for (const t of tasks) agents.work.set(t.title, (inst, prompt) => t.work(inst.worktreePath, prompt));
      const { instances } = await dispatch(grove, { repoRoot: repo, tasks: tasks.map((t) => ({ title: t.title, prompt: `Do ${t.title}` })) });
      const out = [];
      for (const i of instances) out.push(await settle(i.id));
      return out;
    },
  };
}
