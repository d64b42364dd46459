// The decode loop, read top to bottom like llama2.c's generate(): feed the prompt, then for every
// token pick it from the logits, decode its text, check the stop conditions, time it, and feed it,
// until an end-of-sequence id, a stop string, the token limit or an abort; and report exactly what
// was fed. ModelRunner is the model on the GPU; tests pass fakes.

import { EngineError } from '../../protocol/errors.ts';
import type { FinishReason, SamplingParams } from '../../protocol/messages.ts';
import { IncrementalDecoder, type TokenDecoder } from '../text/incrementalDecoder.ts';
import { appendIds } from '../text/tokenIds.ts';
import { RecentIds } from './recentIds.ts';
import type { FeedOptions } from '../decoder/decoder.ts';
import type { TopLogits } from '../kernels/topLogits.ts';
import { Sampler } from './sampler.ts';
import { StopStrings, collectEosIds } from './stopConditions.ts';

export type { TokenDecoder };

/** What the generator needs from the model: feeding tokens into the stream and getting the logits after the last one. */
export interface TokenModel {
  /**
   * Appends ids to the model's token stream and resolves to the logits [vocab] after the last one.
   * When signal aborts, it may reject with EngineError('ABORTED') (or the signal's reason); a
   * rejected call must leave the stream as it was, because the generator reports those ids as not fed.
   */
  feed(ids: readonly number[], options?: FeedOptions): Promise<Float32Array>;
  /**
   * feed(), returning only the k best logits after the last id among the ids not in `penalized`,
   * and the raw logits of those (see Sampler.sampleTop); or the whole row when it cannot pick them
   * (NaN or +Infinity among the logits, k or the penalized ids beyond its limits). Models that pick
   * on the GPU offer it, so a token reads back a few values instead of the vocabulary.
   */
  feedTop?(ids: readonly number[], k: number, penalized: readonly number[], options?: FeedOptions): Promise<TopLogits | Float32Array>;
}

export interface GenerateOptions {
  /** Most tokens to generate, at least 1. */
  maxTokens: number;
  sampling: SamplingParams;
  /** Ids that end the reply; they are neither shown nor fed. */
  eosIds: readonly number[];
  stopStrings?: readonly string[];
  signal?: AbortSignal;
  /** How many of the most recent ids the repetition penalty sees; default 64. */
  repetitionWindow?: number;
  /**
   * Logits [vocab] after the last id already in the model's stream. Give them, with empty
   * promptIds, to continue a stream that was fed earlier; leave them out when promptIds is not empty.
   */
  startLogits?: Float32Array;
  /** Ids in the stream before promptIds; only the repetition penalty reads them. */
  history?: readonly number[];
}

export interface GeneratedToken {
  id: number;
  /** Newly shown text; '' while it is held back (a possible stop string, an incomplete character). */
  text: string;
  /** Position among the generated tokens, from 0. */
  index: number;
  /** Milliseconds since the previous token was yielded (the first: since the call began). */
  ms: number;
}

export interface GenerateResult {
  finishReason: FinishReason;
  /** Every generated id that was yielded, in order; an end-of-sequence id is not among them. */
  ids: number[];
  /**
   * Exactly the ids this call put into the model's stream, in order: promptIds (unless that feed
   * was aborted) and then the generated ids that were fed. The last generated id is not fed when the
   * reply ends on a stop string, the token limit or an abort, so the caller can feed it, or the
   * chat template's end-of-turn tokens, as it sees fit.
   */
  fedIds: number[];
  /**
   * The whole reply. It extends the concatenated texts of the yielded tokens with what was still
   * held back at the end (except after a stop string, which is cut off with everything after it),
   * so a UI should show this text once the generator returns.
   */
  text: string;
}

export const DEFAULT_REPETITION_WINDOW = 64;

const NONE: readonly number[] = [];

/**
 * Generates a reply token by token. Aborting options.signal ends it at the next token boundary with
 * finishReason 'aborted' rather than an exception; stop it that way rather than by breaking out of
 * the loop, which loses the returned GenerateResult.
 */
export async function* generate(
  model: TokenModel,
  tokenizer: TokenDecoder,
  promptIds: readonly number[],
  options: GenerateOptions,
): AsyncGenerator<GeneratedToken, GenerateResult, undefined> {
  checkOptions(promptIds, options);
  const sampler = new Sampler(options.sampling);
  const stops = new StopStrings(options.stopStrings ?? []);
  const eos = new Set(collectEosIds(options.eosIds));
  const { maxTokens, signal } = options;
  const window = options.repetitionWindow ?? DEFAULT_REPETITION_WINDOW;
  const recent = new RecentIds(window, options.history ?? [], promptIds);
  // Kept up to date by recent.push: a GPU pick leaves these out and reads their raw logits.
  const penalized = options.sampling.repetitionPenalty !== 1 ? recent.distinct : NONE;

  const ids: number[] = [];
  const fedIds: number[] = [];
  const text = new IncrementalDecoder(tokenizer);
  let shown = '';
  const finish = (finishReason: FinishReason): GenerateResult => {
    const all = finishReason === 'stop_string' ? shown : shown + stops.flush() + text.pending;
    return { finishReason, ids, fedIds, text: all };
  };
  /** Logits the sampler needs after each generated token: all, or the best k (set from the first row). */
  let k: number | null | undefined;
  const feed = async (batch: readonly number[]): Promise<Float32Array | TopLogits | undefined> => {
    try {
      const logits = k && model.feedTop ? await model.feedTop(batch, k, penalized, { signal }) : await model.feed(batch, { signal });
      appendIds(fedIds, batch);
      return logits;
    } catch (e) {
      if (isAbort(e, signal)) return undefined;
      throw e;
    }
  };

  let last = performance.now();
  let logits: Float32Array | TopLogits | undefined = options.startLogits;
  if (promptIds.length > 0) {
    if (signal?.aborted) return finish('aborted');
    logits = await feed(promptIds);
  }
  for (;;) {
    // A model may finish a feed that raced with the abort; the reply still ends here.
    if (logits === undefined || signal?.aborted) return finish('aborted');

    // Pick: from the whole row once, then from the candidates the GPU picked (the same draw).
    let id: number;
    if (logits instanceof Float32Array) {
      id = sampler.sample(logits, recent.distinct);
      k ??= model.feedTop ? sampler.topNeeded(logits.length) : null;
    } else {
      id = sampler.sampleTop(logits);
    }
    if (eos.has(id)) return finish('eos');
    ids.push(id);
    recent.push(id);

    // Detokenize: only the new piece, held back while it may begin a stop string.
    const scan = stops.push(text.push(id));
    shown += scan.emit;

    // Time, then hand the token out.
    const now = performance.now();
    yield { id, text: scan.emit, index: ids.length - 1, ms: now - last };
    last = now;

    // Stop, or feed the token for the next one.
    if (scan.stopped) return finish('stop_string');
    if (ids.length === maxTokens) return finish('max_tokens');
    if (signal?.aborted) return finish('aborted');
    logits = await feed([id]);
  }
}

function checkOptions(promptIds: readonly number[], options: GenerateOptions): void {
  const refuse = (message: string): never => {
    throw new EngineError('CONFIG_INVALID', message);
  };
  const { maxTokens, repetitionWindow, startLogits } = options;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) {
    refuse(`The maximum reply length must be a whole number of at least 1 token; it is ${maxTokens}.`);
  }
  if (repetitionWindow !== undefined && (!Number.isInteger(repetitionWindow) || repetitionWindow < 0)) {
    refuse(`The repetition window must be a whole number of 0 or more tokens; it is ${repetitionWindow}.`);
  }
  if (promptIds.length === 0 && startLogits === undefined) {
    refuse('There is nothing to generate from: give prompt ids, or the logits of a stream fed earlier as startLogits.');
  }
  if (promptIds.length > 0 && startLogits !== undefined) {
    refuse('Give either prompt ids or startLogits, not both: the logits would not follow the prompt.');
  }
}

function isAbort(e: unknown, signal: AbortSignal | undefined): boolean {
  if (!signal?.aborted) return false;
  return (
    e === signal.reason ||
    (e instanceof EngineError && e.code === 'ABORTED') ||
    (e instanceof Error && e.name === 'AbortError')
  );
}

