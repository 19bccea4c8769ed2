import type { InstanceSnapshot } from '../../core/model';

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function stateLabel(i: Pick<InstanceSnapshot, 'state' | 'waitReason'>): string {
  if (i.state === 'waiting') return i.waitReason === 'permission' ? 'needs permission' : 'waiting for you';
  return i.state;
}
