// Child process for the registry's two-writer test: upserts `count` instances one write at a time.
// Usage: node registryWriter.js <commonDir> <prefix> <count>
import { createSnapshot } from '../../../src/core/fleet/instance';
import { InstanceRegistry } from '../../../src/core/fleet/registry';

async function main(): Promise<void> {
  const [commonDir, prefix, count] = process.argv.slice(2);
  const registry = new InstanceRegistry(commonDir);
  for (let i = 0; i < Number(count); i++) {
    const s = createSnapshot({ id: `${prefix}-${i}`, title: `${prefix} task ${i}`, prompt: 'p', repoRoot: '/repo', mode: 'background', profile: 'claude', permissionMode: 'acceptEdits' });
    await registry.upsert(s);
  }
  registry.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
