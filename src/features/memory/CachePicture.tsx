// The live picture of the KV cache: the sink slots, the ring of window slots filling and turning
// (the arc the next token sees, and where it will write), and what has been evicted so far.

import type { CacheState } from '../../protocol/messages.ts';
import { formatBytes, formatCount } from '../../protocol/format.ts';

const RADIUS = 52;
const CIRCUMFERENCE = 2 * Math.PI * RADIUS;
const MAX_SINK_SQUARES = 16;

/** Dash settings that draw `length` ring slots starting at slot `from` (wrapping past the top). */
function arc(from: number, length: number, ringSize: number) {
  const dash = (Math.min(length, ringSize) / ringSize) * CIRCUMFERENCE;
  return { strokeDasharray: `${dash} ${CIRCUMFERENCE - dash}`, strokeDashoffset: -((from % ringSize) / ringSize) * CIRCUMFERENCE };
}

/** `stale`: an earlier picture of this conversation, while the cache holds another one. */
export function CachePicture({ cache, stale }: { cache: CacheState; stale: boolean }) {
  const { nSinks, windowSize, ringSize, nTokens, evicted, ring, dtype, bytesPerToken, totalBytes } = cache;
  const { filled, turns, next: headPos } = ring;
  // The window the next token sees: from ring.windowStart up to the newest token.
  const seen = Math.max(0, nTokens - ring.windowStart);
  const headAngle = (headPos / ringSize) * 2 * Math.PI - Math.PI / 2;
  return (
    <figure className="cache-picture" aria-label="What the model remembers">
      <svg viewBox="0 0 140 140" role="img" aria-label={`Ring of ${ringSize} slots, ${filled} filled, turned ${turns} times; the model sees the last ${seen} tokens and ${Math.min(nSinks, nTokens)} sinks.`}>
        <g transform="rotate(-90 70 70)">
          <circle className="ring-track" cx="70" cy="70" r={RADIUS} />
          {filled > 0 && <circle className="ring-filled" cx="70" cy="70" r={RADIUS} style={arc(0, filled, ringSize)} />}
          {seen > 0 && <circle className="ring-window" cx="70" cy="70" r={RADIUS} style={arc(headPos - seen + ringSize, seen, ringSize)} />}
        </g>
        <line className="ring-head" x1={70 + Math.cos(headAngle) * 42} y1={70 + Math.sin(headAngle) * 42} x2={70 + Math.cos(headAngle) * 62} y2={70 + Math.sin(headAngle) * 62} />
        <text x="70" y="66" className="ring-count">{formatCount(nTokens)}</text>
        <text x="70" y="82" className="ring-caption">tokens</text>
      </svg>
      <figcaption>
        <div className="sinks" aria-label={`${nSinks} sink slots`}>
          {Array.from({ length: Math.min(nSinks, MAX_SINK_SQUARES) }, (_, i) => (
            <span key={i} className={i < nTokens ? 'sink filled' : 'sink'} />
          ))}
          <span className="sinks-label">the first {formatCount(nSinks)}, always remembered</span>
        </div>
        <ul className="legend">
          <li>
            <span className="swatch window" /> remembered
          </li>
          <li>
            <span className="swatch filled" /> kept for going back after an edit, not remembered
          </li>
          <li>
            <span className="swatch head" /> where the next word goes
          </li>
        </ul>
        {stale && <p className="stale">As of this conversation's last reply; the model has read another conversation since.</p>}
      </figcaption>
      <p className="memory-summary" data-testid="memory-summary">
        Remembers the first {formatCount(nSinks)} and the last {formatCount(windowSize)} tokens · forgot {formatCount(evicted)}
      </p>
      <dl className="cache-facts">
        <dt title="Every token of the conversation the model has read or written, its chat format included">Tokens in the conversation</dt>
        <dd data-testid="cache-tokens">{formatCount(nTokens)}</dd>
        <dt>Forgotten so far</dt>
        <dd data-testid="cache-evicted">{formatCount(evicted)}</dd>
        <dt>GPU memory</dt>
        <dd>{formatBytes(totalBytes)} · {dtype === 'f16' ? '16-bit' : '32-bit'}</dd>
      </dl>
      <details className="cache-details">
        <summary>Details</summary>
        <dl className="cache-facts">
          <dt>Window</dt>
          <dd>{formatCount(windowSize)} tokens · {formatBytes(windowSize * bytesPerToken)}</dd>
          <dt>Attention sinks</dt>
          <dd>{nSinks} tokens · {formatBytes(nSinks * bytesPerToken)}</dd>
          <dt>Ring</dt>
          <dd>{formatCount(ringSize)} slots, turned {formatCount(turns)}×</dd>
          <dt>KV cache</dt>
          <dd>{formatBytes(totalBytes)} · {dtype}</dd>
        </dl>
      </details>
    </figure>
  );
}
