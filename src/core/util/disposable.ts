/** Disposable base in the style of VS Code's PR extension: register children, dispose them once, in reverse. */
export interface IDisposable {
  dispose(): unknown;
}

export class Disposable implements IDisposable {
  static from(fn: () => unknown): Disposable {
    const d = new Disposable();
    d.onDispose = fn;
    return d;
  }

  private children: IDisposable[] = [];
  private onDispose?: () => unknown;
  protected isDisposed = false;

  protected _register<T extends IDisposable>(d: T): T {
    if (this.isDisposed) {
      d.dispose();
    } else {
      this.children.push(d);
    }
    return d;
  }

  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    for (const d of this.children.reverse()) {
      try {
        d.dispose();
      } catch (err) {
        console.error('Grove: dispose failed', err);
      }
    }
    this.children = [];
    this.onDispose?.();
  }
}

/** Disposables keyed by id, released with their key (VS Code's `DisposableMap`): per-instance lifetimes. */
export class DisposableMap<K, V extends IDisposable> implements IDisposable {
  private readonly map = new Map<K, V>();

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Stores `value`, disposing what was stored under `key` before. */
  set(key: K, value: V): V {
    const old = this.map.get(key);
    if (old && old !== value) old.dispose();
    this.map.set(key, value);
    return value;
  }

  deleteAndDispose(key: K): void {
    const v = this.map.get(key);
    this.map.delete(key);
    v?.dispose();
  }

  values(): IterableIterator<V> {
    return this.map.values();
  }

  keys(): IterableIterator<K> {
    return this.map.keys();
  }

  get size(): number {
    return this.map.size;
  }

  dispose(): void {
    for (const v of this.map.values()) v.dispose();
    this.map.clear();
  }
}
