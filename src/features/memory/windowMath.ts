// Which messages the model still sees: a message's tokens against the cache's sinks and window,
// and the numbers the cache picture and the stats lines print.

import type { CacheState, MessageSpan, ReplyStats } from '../../protocol/messages.ts';

/** 'sinks-only': the message left the window but its first tokens stay as attention sinks. */
export type WindowPlace = 'in' | 'partly-out' | 'out' | 'sinks-only';

export function placeOf(span: MessageSpan, cache: CacheState): WindowPlace {
  const firstInWindow = cache.nTokens - cache.windowSize;
  if (span.end <= cache.nSinks || span.start >= firstInWindow) return 'in';
  if (span.end > firstInWindow) return 'partly-out';
  return span.start < cache.nSinks ? 'sinks-only' : 'out';
}

export function placesOf(cache: CacheState | undefined | null): Map<string, WindowPlace> {
  return new Map((cache?.spans ?? []).map((span) => [span.messageId, placeOf(span, cache!)]));
}

const perSecond = (tokens: number, ms: number) => (ms > 0 ? (tokens / ms) * 1000 : 0);

export interface StatsFigures {
  prefillTokensPerS: number;
  decodeTokensPerS: number;
  firstTokenMs: number;
}

export function figuresOf(stats: ReplyStats): StatsFigures {
  return {
    prefillTokensPerS: perSecond(stats.prefillTokens, stats.prefillMs),
    decodeTokensPerS: perSecond(stats.decodeTokens, stats.decodeMs),
    firstTokenMs: stats.timeToFirstTokenMs,
  };
}

export const formatRate = (perS: number): string => (perS >= 100 ? Math.round(perS).toString() : perS.toFixed(1));
