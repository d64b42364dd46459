// One kind of news and who listens to it: the engine's cache and error events on both sides of the
// worker, and the stores React subscribes to.

export class Listeners<Args extends unknown[] = []> {
  private readonly listeners = new Set<(...args: Args) => void>();

  /** Adds a listener; the function returned removes it (React's subscribe shape). */
  readonly add = (listener: (...args: Args) => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  emit(...args: Args): void {
    for (const listener of this.listeners) listener(...args);
  }
}
