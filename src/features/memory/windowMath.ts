// Which messages the model still sees: a message's tokens against the cache's sinks and window,
// and the numbers the cache picture and the stats lines print.

import { formatCount } from '../../protocol/format.ts';
import type { CacheState, MessageSpan, ReplyStats } from '../../protocol/messages.ts';

/** 'sinks-only': the message left the window but its first tokens stay as attention sinks. */
export type WindowPlace = 'in' | 'partly-out' | 'out' | 'sinks-only';

export function placeOf(span: MessageSpan, cache: CacheState): WindowPlace {
  // The next token no longer sees stream indices [nSinks, windowStart): between the sinks and its window.
  const forgotten = Math.min(span.end, cache.ring.windowStart) - Math.max(span.start, cache.nSinks);
  if (forgotten <= 0) return 'in';
  if (span.end > cache.ring.windowStart) return 'partly-out';
  return span.start < cache.nSinks ? 'sinks-only' : 'out';
}

export function placesOf(cache: CacheState | undefined | null): Map<string, WindowPlace> {
  return new Map((cache?.spans ?? []).map((span) => [span.messageId, placeOf(span, cache!)]));
}

const perSecond = (tokens: number, ms: number) => (ms > 0 ? (tokens / ms) * 1000 : 0);

/** The line under a reply: how fast the prompt was read and the reply written, and how long the first token took. */
export function statsLine(stats: ReplyStats): string {
  const prefill = perSecond(stats.prefillTokens, stats.prefillMs);
  const decode = perSecond(stats.decodeTokens, stats.decodeMs);
  return (
    `prefill ${formatRate(prefill)} tok/s · decode ${formatRate(decode)} tok/s · ` +
    `first token ${Math.round(stats.timeToFirstTokenMs)} ms · ${formatCount(stats.decodeTokens)} tokens`
  );
}

/** The line under a reply in plain words: its length, its speed, and how long it took to start. */
export function replyLine(stats: ReplyStats): string {
  const started = stats.timeToFirstTokenMs / 1000;
  return `${formatCount(stats.decodeTokens)} tokens · ${formatRate(perSecond(stats.decodeTokens, stats.decodeMs))} per second · started after ${started < 10 ? started.toFixed(1) : Math.round(started)} s`;
}

export const formatRate = (perS: number): string => (perS >= 100 ? Math.round(perS).toString() : perS.toFixed(1));

/** The stats of a reply written in two parts (Continue): the counts and times of both. */
export function joinStats(first: ReplyStats, next: ReplyStats): ReplyStats {
  return {
    prefillTokens: first.prefillTokens + next.prefillTokens,
    prefillMs: first.prefillMs + next.prefillMs,
    decodeTokens: first.decodeTokens + next.decodeTokens,
    decodeMs: first.decodeMs + next.decodeMs,
    timeToFirstTokenMs: first.timeToFirstTokenMs,
    msPerToken: [...first.msPerToken, ...next.msPerToken],
  };
}
