// The side panel that makes the memory visible: the cache picture for the open conversation,
// its totals, and the latency chart.

import './memory.css';
import type { CacheState } from '../../protocol/messages.ts';
import type { StoredConversation } from '../../storage/records.ts';
import { CachePicture } from './CachePicture.tsx';
import { LatencyChart } from './LatencyChart.tsx';
import { formatCount } from '../../protocol/format.ts';
import { formatRate } from './windowMath.ts';
import { emptied } from '../../protocol/cache.ts';

interface Props {
  conversation: StoredConversation | undefined;
  /** The engine's cache right now, whichever conversation it holds. */
  liveCache: CacheState | null;
  /** A model is loaded: without one there is no cache to draw. */
  loaded: boolean;
  /** The GPU the engine runs on, once a model is loaded. */
  adapter?: string;
}

/** Whether two pictures are of the same cache layout (the settings did not change between them). */
const sameLayout = (a: CacheState, b: CacheState) => a.nSinks === b.nSinks && a.windowSize === b.windowSize && a.ringSize === b.ringSize && a.bytesPerToken === b.bytesPerToken;

export function MemoryPanel({ conversation, liveCache, loaded, adapter }: Props) {
  const live = liveCache !== null && liveCache.conversationId === conversation?.id;
  const saved = conversation?.lastCache;
  // The engine's cache now has another layout (the settings changed) than this conversation's
  // last picture: that picture is no longer true, so the new, empty cache is drawn instead.
  const resized = !live && liveCache !== null && saved !== undefined && !sameLayout(saved, liveCache);
  const cache = !loaded ? undefined : live ? liveCache : resized ? emptied(liveCache) : saved;
  const replies = (conversation?.messages ?? []).filter((m) => m.stats);
  const msPerToken = replies.flatMap((m) => m.stats!.msPerToken);
  const streamed = replies.reduce((n, m) => n + m.stats!.decodeTokens, 0);
  const decodeMs = replies.reduce((n, m) => n + m.stats!.decodeMs, 0);
  return (
    <section className="memory-panel" aria-labelledby="memory-title">
      <h2 id="memory-title">Memory</h2>
      {!loaded ? (
        <p className="muted" data-testid="memory-empty">
          No model is loaded, so nothing is in memory. Choose a model to see what it remembers.
        </p>
      ) : cache ? (
        <CachePicture cache={cache} stale={!live && !resized} />
      ) : (
        <p className="muted">The picture of what the model remembers appears once it has read this conversation.</p>
      )}
      {loaded && resized && (
        <p className="small muted" data-testid="memory-resized">
          The settings changed, so the model forgot everything. The next reply reads this conversation again: its first {formatCount(liveCache.nSinks)} and last{' '}
          {formatCount(liveCache.windowSize)} tokens.
        </p>
      )}
      <h3>This conversation</h3>
      <dl className="cache-facts">
        <dt>Tokens the model wrote</dt>
        <dd data-testid="tokens-streamed">{formatCount(streamed)}</dd>
        <dt>Replies</dt>
        <dd>{replies.length}</dd>
        <dt>Writing speed</dt>
        <dd>{decodeMs > 0 ? `${formatRate((streamed / decodeMs) * 1000)} tokens/s` : '–'}</dd>
      </dl>
      <LatencyChart msPerToken={msPerToken} />
      {adapter && <p className="muted small">Running on {adapter}.</p>}
    </section>
  );
}
