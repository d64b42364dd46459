// The ids the repetition penalty looks at: the last `window` ids of the stream, kept as the set of
// distinct ids among them and updated one id at a time, so a token costs no scan and no allocation.

export class RecentIds {
  /** The last `window` ids, oldest at `head` once full. */
  private readonly ring: number[] = [];
  private head = 0;
  /** How often each distinct id occurs in the ring. */
  private readonly counts = new Map<number, number>();
  private readonly list: number[] = [];

  /** Starts from the ids of `streams` one after the other (only the last `window` count). */
  constructor(
    private readonly window: number,
    ...streams: (readonly number[])[]
  ) {
    let skip = streams.reduce((n, s) => n + s.length, 0) - window;
    for (const stream of streams) {
      for (let i = Math.max(0, skip); i < stream.length; i++) this.push(stream[i]);
      skip -= stream.length;
    }
  }

  /** The distinct ids among the last `window`, in no particular order. Changed by push(). */
  get distinct(): readonly number[] {
    return this.list;
  }

  push(id: number): void {
    if (this.window === 0) return;
    if (this.ring.length < this.window) {
      this.ring.push(id);
    } else {
      this.forget(this.ring[this.head]);
      this.ring[this.head] = id;
      this.head = (this.head + 1) % this.window;
    }
    const count = this.counts.get(id) ?? 0;
    this.counts.set(id, count + 1);
    if (count === 0) this.list.push(id);
  }

  private forget(id: number): void {
    const count = this.counts.get(id)!;
    if (count > 1) {
      this.counts.set(id, count - 1);
      return;
    }
    this.counts.delete(id);
    // Order does not matter, so the last entry fills the gap.
    const at = this.list.indexOf(id);
    this.list[at] = this.list[this.list.length - 1];
    this.list.pop();
  }
}
