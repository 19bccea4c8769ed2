import path from 'node:path';

/** Grove's folder inside a repository's git common dir: registry, logs. Shared by windows and the CLI. */
export function groveDir(commonDir: string): string {
  return path.join(commonDir, 'grove');
}

/** The raw log (stream-json plus Grove's marker lines) of one instance. */
export function instanceLogPath(commonDir: string, instanceId: string): string {
  return path.join(groveDir(commonDir), 'logs', `${instanceId}.jsonl`);
}
