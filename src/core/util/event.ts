/** A tiny event emitter with the same shape as vscode.EventEmitter, so core never needs `vscode`. */
import { Disposable } from './disposable';

export type Event<T> = (listener: (e: T) => unknown, thisArg?: unknown, disposables?: Disposable[]) => Disposable;

export class Emitter<T> {
  private listeners = new Set<(e: T) => unknown>();
  private disposed = false;

  readonly event: Event<T> = (listener, thisArg, disposables) => {
    const bound = thisArg ? listener.bind(thisArg) : listener;
    this.listeners.add(bound);
    const d = Disposable.from(() => this.listeners.delete(bound));
    disposables?.push(d);
    return d;
  };

  fire(e: T): void {
    if (this.disposed) return;
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch (err) {
        // A failing listener must not stop the others (same contract as vscode.EventEmitter).
        console.error('Grove: event listener failed', err);
      }
    }
  }

  dispose(): void {
    this.disposed = true;
    this.listeners.clear();
  }
}

/** Resolves with the first event that matches, or rejects after `timeoutMs`. */
export function waitForEvent<T>(event: Event<T>, predicate: (e: T) => boolean = () => true, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for an event`));
    }, timeoutMs);
    const sub = event((e) => {
      if (predicate(e)) {
        clearTimeout(timer);
        sub.dispose();
        resolve(e);
      }
    });
  });
}
