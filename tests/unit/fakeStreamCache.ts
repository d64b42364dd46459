// A StreamCache for Node tests of the layers above the GPU: the real ring bookkeeping (RingLayout),
// with the stream's ids where the GPU cache holds K and V, so a chunk or a roll-back the layout
// cannot take fails as on the GPU, and what a token may see can be read back as ids.

import type { KvCacheInfo, StreamCache } from '../../src/engine/kv/kvCache.ts';
import { RingLayout } from '../../src/engine/kv/ringLayout.ts';
import type { CacheLayout } from '../../src/protocol/messages.ts';

export class IdCache implements StreamCache {
  readonly layout: RingLayout;
  /** Every id of the stream, by stream index (the GPU cache keeps only the visible ones). */
  readonly ids: number[] = [];
  /** The roll-backs, resets and restores asked of it, in order. */
  readonly calls: string[] = [];

  constructor(readonly choice: CacheLayout) {
    this.layout = new RingLayout(choice);
  }

  get length(): number {
    return this.layout.nTokens;
  }

  /** Appends ids in chunks of at most maxChunk, as the decoder feeds them. */
  append(ids: readonly number[]): void {
    for (let at = 0; at < ids.length; at += this.choice.maxChunk) {
      const chunk = ids.slice(at, at + this.choice.maxChunk);
      this.layout.commit(this.layout.planChunk(chunk.length));
      this.ids.push(...chunk);
    }
  }

  /** The ids token t sees, in stream order. */
  visible(t: number): number[] {
    const sinks = Math.min(this.layout.nSinks, t + 1);
    return [...this.ids.slice(0, sinks), ...this.ids.slice(this.layout.windowStart(t), t + 1)];
  }

  info(): KvCacheInfo {
    const { nSinks, windowSize, ringSize, nTokens } = this.layout;
    return { nLayers: 1, dtype: 'f32', nSinks, windowSize, ringSize, nTokens, evicted: this.layout.evictedCount, ring: this.layout.picture, bytesPerToken: 8, totalBytes: 8 * this.layout.nSlots };
  }

  canTruncateTo(length: number): boolean {
    return this.layout.canTruncateTo(length);
  }

  truncateTo(length: number): void {
    this.calls.push(`truncateTo ${length}`);
    this.layout.truncate(length);
    this.ids.length = length;
  }

  reset(): void {
    this.calls.push('reset');
    this.layout.reset();
    this.ids.length = 0;
  }

  async snapshot(): Promise<Uint8Array<ArrayBuffer>> {
    return new TextEncoder().encode(JSON.stringify(this.ids)) as Uint8Array<ArrayBuffer>;
  }

  restore(bytes: Uint8Array<ArrayBuffer>): void {
    this.calls.push('restore');
    const ids = JSON.parse(new TextDecoder().decode(bytes)) as number[];
    this.layout.reset();
    this.ids.length = 0;
    this.append(ids);
  }
}
