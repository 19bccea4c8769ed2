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
