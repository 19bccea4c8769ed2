/**
 * Two small scheduling primitives: a serial queue per key (one repository's mutations run one at a time,
 * in arrival order) and a concurrency limiter (at most N git processes for reads).
 */

/** Runs tasks that share a key strictly one after another; tasks with different keys run concurrently. */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    // A failed task must not poison the queue: the next one starts after it settles, whatever the outcome.
    const result = prev.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Number of keys with pending or running work (for tests and diagnostics). */
  get activeKeys(): number {
    return this.tails.size;
  }
}

/** Runs at most `limit` tasks at once; the rest wait in FIFO order. */
export class Limiter {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`limit must be at least 1, got ${limit}`);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      // Hand the slot straight to the next waiter so `running` never dips below the true count.
      if (next) next();
      else this.running--;
    }
  }

  get active(): number {
    return this.running;
  }
}
