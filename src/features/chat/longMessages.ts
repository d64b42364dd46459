// The user's rule for messages longer than the model's window, remembered in localStorage once they
// chose one: read all of it (the exact streaming state, slow for a long paste) or only what the cache
// keeps (fast). Until they choose, nothing is chosen for them. And the line that says, while the user
// types, how long the draft is against what the model remembers.

import type { LongMessageRule } from '../../protocol/messages.ts';
import { formatCount } from '../../protocol/format.ts';

const KEY = 'endless-chat:long-messages';

export function loadLongMessageRule(): LongMessageRule | null {
  try {
    const saved = localStorage.getItem(KEY);
    return saved === 'kept' || saved === 'all' ? saved : null;
  } catch {
    return null;
  }
}

export function saveLongMessageRule(rule: LongMessageRule): void {
  try {
    localStorage.setItem(KEY, rule);
  } catch {
    // Not remembered (storage refused); the choice still holds for this page.
  }
}

/**
 * Whether a draft may be longer than the window, before it is tokenized (the tokenizer lives in the
 * engine's worker): at 2 characters a token, fewer than most tokenizers manage on prose, so the
 * choice shows for every message that could exceed the window.
 */
export const mayExceedWindow = (text: string, windowSize: number): boolean => text.length > 2 * windowSize;

/** The draft's length against what the model keeps, in plain words: "312 tokens · the model
 *  remembers the first 4 and the last 64". */
export function draftLengthLine(tokens: number, cache: { nSinks: number; windowSize: number }): string {
  const kept = `the first ${formatCount(cache.nSinks)} and the last ${formatCount(cache.windowSize)}`;
  const count = `${formatCount(tokens)} ${tokens === 1 ? 'token' : 'tokens'}`;
  return tokens > cache.nSinks + cache.windowSize ? `${count} · more than the model remembers: ${kept}` : `${count} · the model remembers ${kept}`;
}
