// The side panel that makes the memory visible: the cache picture for the open conversation,
// its totals, and the latency chart.

import './memory.css';
import type { CacheState } from '../../protocol/messages.ts';
import type { StoredConversation } from '../../storage/conversations.ts';
import { CachePicture } from './CachePicture.tsx';
import { LatencyChart } from './LatencyChart.tsx';
import { formatCount, formatRate } from './windowMath.ts';

interface Props {
  conversation: StoredConversation | undefined;
  /** The engine's cache right now, whichever conversation it holds. */
  liveCache: CacheState | null;
  /** The GPU the engine runs on, once a model is loaded. */
  adapter?: string;
}

export function MemoryPanel({ conversation, liveCache, adapter }: Props) {
  const live = liveCache !== null && liveCache.conversationId === conversation?.id;
  const cache = live ? liveCache : conversation?.lastCache;
  const replies = (conversation?.messages ?? []).filter((m) => m.stats);
  const msPerToken = replies.flatMap((m) => m.stats!.msPerToken);
  const streamed = replies.reduce((n, m) => n + m.stats!.decodeTokens, 0);
  const decodeMs = replies.reduce((n, m) => n + m.stats!.decodeMs, 0);
  return (
    <section className="memory-panel" aria-labelledby="memory-title">
      <h2 id="memory-title">Memory</h2>
      {cache ? (
        <CachePicture cache={cache} live={live} />
      ) : (
        <p className="muted">The picture of the cache appears once the model has read this conversation.</p>
      )}
      <h3>This conversation</h3>
      <dl className="cache-facts">
        <dt>Tokens streamed</dt>
        <dd data-testid="tokens-streamed">{formatCount(streamed)}</dd>
        <dt>Replies</dt>
        <dd>{replies.length}</dd>
        <dt>Decode</dt>
        <dd>{decodeMs > 0 ? `${formatRate((streamed / decodeMs) * 1000)} tokens/s` : '–'}</dd>
      </dl>
      <LatencyChart msPerToken={msPerToken} />
      {adapter && <p className="muted small">Running on {adapter}.</p>}
    </section>
  );
}
