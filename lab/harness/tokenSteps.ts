// Decoders advanced one token at a time with the WebGPU work and the wall time of each token
// recorded: our engine on the chat's own decode loop (generate() over ModelRunner, which picks
// tokens on the GPU where the sampling allows), and onnxruntime's whole graph decoding densely as transformers.js
// does (a growing past_key_values, the logits read back, the pick on the CPU).

import type { Tensor } from 'onnxruntime-web/webgpu';
import type { ModelRunner } from '../../src/engine/modelRunner.ts';
import { generate, type GeneratedToken, type GenerateResult } from '../../src/engine/generate/generator.ts';
import type { SamplingParams } from '../../src/protocol/messages.ts';
import type { FullGraphSession } from '../ort/fullGraphSession.ts';
import { addOwned, countsBetween, perToken, zeroOwned, type OwnedCounts } from '../workCounts.ts';
import { workCounts } from './gpuCounts.ts';

export interface Measured<T> {
  value: T;
  counts: OwnedCounts;
  ms: number;
}

export async function measure<T>(work: () => Promise<T>): Promise<Measured<T>> {
  const before = workCounts();
  const start = performance.now();
  const value = await work();
  const ms = performance.now() - start;
  return { value, ms, counts: countsBetween(before, workCounts()) };
}

/** Replies in a row before giving up on a model that keeps ending them at once. */
const MAX_REPLIES = 20;

/** A reply of our engine, a token at a time: each decode() is the work between two tokens the
 *  chat shows (feed the last pick, pick the next, detokenize). */
export class ReplySteps {
  private reply: AsyncGenerator<GeneratedToken, GenerateResult, undefined>;

  /** Starts the reply; nothing runs before prefill(). */
  constructor(
    private readonly runner: ModelRunner,
    private readonly promptIds: number[],
    private readonly sampling: SamplingParams,
  ) {
    this.reply = this.start(promptIds);
  }

  private start(promptIds: number[]) {
    return generate(this.runner, this.runner.tokenizer, promptIds, { maxTokens: Number.MAX_SAFE_INTEGER, sampling: this.sampling, eosIds: this.runner.stopIds });
  }

  /** Feeds the prompt and picks the first token. */
  async prefill(): Promise<Measured<unknown>> {
    const m = await measure(() => this.reply.next());
    if (m.value.done) throw new Error('the reply ended before its first token');
    return m;
  }

  /** One decoded token. A reply the model ends (an end-of-sequence pick) is followed by a new
   *  one on the same stream, whose first token is a prefill and not measured. */
  async decode(): Promise<Measured<unknown>> {
    for (let restarts = 0; ; restarts++) {
      const m = await measure(() => this.reply.next());
      if (!m.value.done) return m;
      if (restarts === MAX_REPLIES) throw new Error(`${MAX_REPLIES} replies in a row ended before their second token`);
      this.reply = this.start(this.promptIds.slice(-1));
      await this.reply.next();
    }
  }
}

/** onnxruntime's whole graph decoding greedily over `past`, a token at a time. */
export class DenseSteps {
  private next: number;

  constructor(
    private readonly session: FullGraphSession,
    private readonly past: Map<string, Tensor>,
    firstId: number,
  ) {
    this.next = firstId;
  }

  /** Feeds `ids` (a prompt) at once, as transformers.js prefills. */
  prefill(ids: number[]): Promise<Measured<unknown>> {
    return measure(async () => (this.next = argmax(await this.session.feed(ids, this.past), ids.length - 1)));
  }

  decode(): Promise<Measured<unknown>> {
    return measure(async () => (this.next = argmax(await this.session.feed([this.next], this.past), 0)));
  }
}

/** Id of the largest logit in row `row` of logits [rows, vocab]. */
function argmax(logits: Float32Array, row: number): number {
  const vocab = logits.length / (row + 1);
  let best = 0;
  for (let i = 1; i < vocab; i++) if (logits[row * vocab + i] > logits[row * vocab + best]) best = i;
  return best;
}

/** Work per token: of a prefill (per prompt token) and of decoding (per token, in steady state). */
export interface PathCounts {
  prefill: OwnedCounts;
  decode: OwnedCounts;
}

/** Runs `warm` decode steps, then the work per token of `tokens` more. */
async function decodeCounts(step: () => Promise<Measured<unknown>>, warm: number, tokens: number): Promise<OwnedCounts> {
  for (let i = 0; i < warm; i++) await step();
  let counts = zeroOwned();
  for (let i = 0; i < tokens; i++) counts = addOwned(counts, (await step()).counts);
  return perToken(counts, tokens);
}

/** Our reply path's work per token from a fresh stream: the prompt's prefill, then decoding. */
export async function replyCounts(runner: ModelRunner, promptIds: number[], sampling: SamplingParams, warm: number, tokens: number): Promise<PathCounts> {
  runner.cache.reset();
  const steps = new ReplySteps(runner, promptIds, sampling);
  const prefill = perToken((await steps.prefill()).counts, promptIds.length);
  return { prefill, decode: await decodeCounts(() => steps.decode(), warm, tokens) };
}

/** onnxruntime's whole graph, dense from an empty past: the prompt at once, then greedy decoding. */
export async function denseCounts(session: FullGraphSession, promptIds: number[], warm: number, tokens: number): Promise<PathCounts> {
  const past = new Map<string, Tensor>();
  try {
    const steps = new DenseSteps(session, past, 0);
    const prefill = perToken((await steps.prefill(promptIds)).counts, promptIds.length);
    return { prefill, decode: await decodeCounts(() => steps.decode(), warm, tokens) };
  } finally {
    for (const t of past.values()) t.dispose();
  }
}

/** onnxruntime's whole graph's work per prompt token, the prompt fed at once into an empty past. */
export async function densePrefillCounts(session: FullGraphSession, promptIds: number[]): Promise<OwnedCounts> {
  const past = new Map<string, Tensor>();
  try {
    return perToken((await new DenseSteps(session, past, 0).prefill(promptIds)).counts, promptIds.length);
  } finally {
    for (const t of past.values()) t.dispose();
  }
}
