// Milliseconds per generated token across a whole conversation: with a fixed-size cache the line
// should stay flat however long the conversation gets.

import { formatCount } from '../../protocol/format.ts';

const WIDTH = 280;
const HEIGHT = 72;
const MAX_POINTS = 140;

/** Bucket means, so a conversation of any length draws at most MAX_POINTS points. */
function buckets(values: number[]): number[] {
  const size = Math.max(1, Math.ceil(values.length / MAX_POINTS));
  const out: number[] = [];
  for (let i = 0; i < values.length; i += size) {
    const part = values.slice(i, i + size);
    out.push(part.reduce((a, b) => a + b, 0) / part.length);
  }
  return out;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

export function LatencyChart({ msPerToken }: { msPerToken: number[] }) {
  if (msPerToken.length < 2) return <p className="muted">The chart of milliseconds per token appears after the first reply.</p>;
  const points = buckets(msPerToken);
  const top = Math.max(1, median(msPerToken) * 3, ...points) * 1.05;
  const x = (i: number) => (points.length === 1 ? 0 : (i / (points.length - 1)) * WIDTH);
  const y = (v: number) => HEIGHT - (Math.min(v, top) / top) * HEIGHT;
  const quarter = Math.max(1, Math.floor(msPerToken.length / 4));
  const early = median(msPerToken.slice(0, quarter));
  const late = median(msPerToken.slice(-quarter));
  return (
    <figure className="latency-chart">
      <svg viewBox={`0 -4 ${WIDTH} ${HEIGHT + 8}`} role="img" aria-label={`Milliseconds per token over ${msPerToken.length} tokens: median ${early.toFixed(0)} ms in the first quarter, ${late.toFixed(0)} ms in the last.`}>
        <line className="axis" x1="0" y1={HEIGHT} x2={WIDTH} y2={HEIGHT} />
        <line className="median" x1="0" y1={y(median(msPerToken))} x2={WIDTH} y2={y(median(msPerToken))} />
        <polyline className="series" points={points.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')} />
      </svg>
      <figcaption>
        {formatCount(msPerToken.length)} tokens · median {early.toFixed(0)} ms/token in the first quarter, {late.toFixed(0)} ms/token in the last
      </figcaption>
    </figure>
  );
}
