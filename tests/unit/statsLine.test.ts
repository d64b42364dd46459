import { describe, expect, it } from 'vitest';
import { replyLine, statsLine } from '../../src/features/memory/windowMath.ts';
import type { ReplyStats } from '../../src/protocol/messages.ts';

const stats = (overrides: Partial<ReplyStats>): ReplyStats => ({
  prefillTokens: 0, prefillMs: 0, decodeTokens: 0, decodeMs: 0, timeToFirstTokenMs: 0, msPerToken: [], ...overrides,
});

describe('the stats line under a reply', () => {
  it('divides prompt tokens by the prefill time and reply tokens by the decode time, and rounds the time to the first token', () => {
    // Every figure distinct, so a rate taken from the other phase's time or tokens shows.
    const line = statsLine(stats({ prefillTokens: 300, prefillMs: 1500, decodeTokens: 48, decodeMs: 2000, timeToFirstTokenMs: 1620.4 }));
    expect(line).toBe('prefill 200 tok/s · decode 24.0 tok/s · first token 1620 ms · 48 tokens');
  });

  it('writes rates of 100 and more as whole numbers and counts with thousands separators', () => {
    const line = statsLine(stats({ prefillTokens: 12_345, prefillMs: 10_000, decodeTokens: 1_500, decodeMs: 12_000, timeToFirstTokenMs: 10_049.6 }));
    expect(line).toBe('prefill 1235 tok/s · decode 125 tok/s · first token 10050 ms · 1,500 tokens');
  });

  it('says 0 tokens/s for a phase that took no time, as a reply stopped before its first token has', () => {
    expect(statsLine(stats({ prefillTokens: 7, prefillMs: 35 }))).toBe('prefill 200 tok/s · decode 0.0 tok/s · first token 0 ms · 0 tokens');
  });
});

describe('the plain line under a reply', () => {
  it('says the reply tokens, the writing speed over the decode time, and the seconds to the first token', () => {
    expect(replyLine(stats({ prefillTokens: 300, prefillMs: 1500, decodeTokens: 1_500, decodeMs: 12_000, timeToFirstTokenMs: 1620.4 }))).toBe('1,500 tokens · 125 per second · started after 1.6 s');
    expect(replyLine(stats({ decodeTokens: 48, decodeMs: 2000, timeToFirstTokenMs: 12_600 }))).toBe('48 tokens · 24.0 per second · started after 13 s');
  });
});
