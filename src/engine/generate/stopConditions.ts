// When a reply ends: stop strings found in text that arrives piece by piece, and the set of
// end-of-sequence ids gathered from a model's configs.

import { EngineError } from '../../protocol/errors.ts';

export interface StopScan {
  /** Text that is safe to show now: it can no longer become part of a stop string. */
  emit: string;
  /** A stop string appeared; emit ends just before it and everything after it is dropped. */
  stopped: boolean;
}

/**
 * Scans streamed text for stop strings. Text that could still be the start of a stop string is
 * held back until the next piece settles it, so a stop string split across tokens never shows.
 */
export class StopStrings {
  private readonly stops: readonly string[];
  private readonly longest: number;
  /** Received but not yet emitted: always a proper prefix of some stop string. */
  private held = '';
  private stopped = false;

  constructor(stops: readonly string[]) {
    for (const s of stops) {
      if (typeof s !== 'string' || s.length === 0) {
        throw new EngineError('CONFIG_INVALID', 'A stop string is empty; remove it or type the text that should end the reply.');
      }
    }
    this.stops = [...stops];
    this.longest = Math.max(0, ...stops.map((s) => s.length));
  }

  /** Feeds the text that follows everything fed so far. */
  push(piece: string): StopScan {
    if (this.stopped) throw new EngineError('CONFIG_INVALID', 'Text was fed after a stop string had ended the reply.');
    const text = this.held + piece;
    let cut = -1;
    for (const stop of this.stops) {
      const at = text.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.stopped = true;
      this.held = '';
      return { emit: text.slice(0, cut), stopped: true };
    }
    // A stop string that began in text emitted earlier would make that text's tail a longer
    // prefix than the one held back, so holding the longest matching suffix is enough.
    const keep = this.heldSuffixLength(text);
    this.held = text.slice(text.length - keep);
    return { emit: text.slice(0, text.length - keep), stopped: false };
  }

  /** Ends the stream without a stop string: returns the text still held back. */
  flush(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }

  /** Length of the longest suffix of text that is a proper prefix of some stop string. */
  private heldSuffixLength(text: string): number {
    for (let n = Math.min(this.longest - 1, text.length); n > 0; n--) {
      const suffix = text.slice(text.length - n);
      if (this.stops.some((s) => s.startsWith(suffix))) return n;
    }
    return 0;
  }
}

/**
 * Merges the end-of-sequence ids a model declares in several places (generation_config.json,
 * config.json, the tokenizer), each of which may be missing, one id, or a list.
 */
export function collectEosIds(...sources: (number | readonly number[] | null | undefined)[]): number[] {
  const ids = new Set<number>();
  for (const source of sources) {
    if (source === null || source === undefined) continue;
    for (const id of typeof source === 'number' ? [source] : source) {
      if (!Number.isInteger(id) || id < 0) {
        throw new EngineError('CONFIG_INVALID', `The end-of-sequence token id ${id} is not a token id; fix eos_token_id in the model's config.`);
      }
      ids.add(id);
    }
  }
  return [...ids];
}
