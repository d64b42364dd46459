// The experiment of the StreamingLLM paper on the loaded model: each arm scores the text's ids on a
// cache of its own (streaming, window, dense, or recomputation), one after another, through the one
// scorer (score.ts); then a fact planted a chosen distance before a question shows what the window
// still holds. The chat's cache is never fed: every arm runs inside the model's withCache.

import { EngineError } from '../../protocol/errors.ts';
import type { ArmResult, CacheLayout, ExperimentArm, ExperimentPlan, ExperimentProgress, RecallPlan, RecallResult } from '../../protocol/messages.ts';
import { scoreIds, type ScoringModel } from './score.ts';

/** The loaded model as the experiment uses it: ModelRunner. */
export interface ExperimentModel {
  readonly vocabSize: number;
  /** Tokens per feed, and the largest chunk another cache may take. */
  readonly maxChunk: number;
  readonly tokenizer: { encode(text: string, options?: { continuation?: boolean }): number[] };
  withCache<T>(choice: CacheLayout, work: (model: ScoringModel) => Promise<T>): Promise<T>;
}

export interface ExperimentRunOptions {
  /** Ends the run after the feed under way; what was measured is returned. */
  signal?: AbortSignal;
  /** New scores, at most every REPORT_MS per arm and once at each arm's end. */
  onProgress?(progress: ExperimentProgress): void;
}

/** Least time between two progress reports. */
const REPORT_MS = 100;
/** A probability above 1/2 for every answer token counts as recalled (as `npm run eval`'s recall does). */
const RECALLED_NLL = Math.LN2;

const largestPowerOfTwo = (n: number) => 2 ** Math.floor(Math.log2(n));

/** How many of the text's ids an arm scores. */
export function armLength(arm: ExperimentArm, available: number): number {
  return Math.min(available, arm.limit ?? available);
}

/** The cache an arm's ids are scored on: its own layout, chunks of the model's size (a smaller dense
 *  cache takes the largest power of two it holds). */
export function armCache(arm: ExperimentArm, length: number, maxChunk: number): CacheLayout {
  const bad = (why: string): never => {
    throw new EngineError('CONFIG_INVALID', `The arm "${arm.label}" cannot run: ${why}`);
  };
  if (!Number.isInteger(arm.window) || arm.window < 1) bad(`its window must be at least 1 token, got ${arm.window}.`);
  if (!Number.isInteger(arm.sinks) || arm.sinks < 0) bad(`its sinks must be 0 or more, got ${arm.sinks}.`);
  switch (arm.mode) {
    case 'streaming':
      return { mode: 'streaming', nSinks: arm.sinks, windowSize: arm.window, maxChunk };
    case 'window':
      return { mode: 'window', nSinks: 0, windowSize: arm.window, maxChunk };
    case 'dense':
      return { mode: 'dense', nSinks: 0, windowSize: length, maxChunk: Math.min(maxChunk, largestPowerOfTwo(length)) };
    case 'recompute': {
      // A fresh dense pass per token over the sinks + window it may see.
      const capacity = arm.sinks + arm.window;
      return { mode: 'dense', nSinks: 0, windowSize: capacity, maxChunk: Math.min(maxChunk, largestPowerOfTwo(capacity)) };
    }
  }
}

/**
 * Scores the first plan.tokens of the text's ids under every arm of the plan, one after another,
 * then runs the recall check (its filler from anywhere in the text). A stop ends the arm under way
 * after its current feed (status 'stopped', its scores kept); the arms after it are 'not-run', and
 * the recall check is skipped or ends with the distances checked so far.
 */
export async function runExperiment(model: ExperimentModel, textIds: readonly number[], plan: ExperimentPlan, options: ExperimentRunOptions = {}): Promise<{ arms: ArmResult[]; recall: RecallResult[] }> {
  const ids = textIds.slice(0, plan.tokens);
  if (ids.length < 2) throw new EngineError('CONFIG_INVALID', 'The text is too short to measure: it needs at least two tokens.');
  const arms: ArmResult[] = [];
  for (const [index, arm] of plan.arms.entries()) {
    const scored = ids.slice(0, armLength(arm, ids.length));
    if (options.signal?.aborted || scored.length < 2) {
      arms.push({ arm, status: 'not-run', ids: scored, nll: [], msPerToken: [] });
      continue;
    }
    const report = reporter(index, scored.length - 1, options.onProgress);
    const result = await model.withCache(armCache(arm, scored.length, model.maxChunk), (runner) =>
      scoreIds(runner, scored, {
        chunk: model.maxChunk,
        recompute: arm.mode === 'recompute' ? { sinks: arm.sinks, window: arm.window } : undefined,
        signal: options.signal,
        onScored: report.add,
      }),
    );
    report.flush();
    arms.push({ arm, status: result.complete ? 'done' : 'stopped', ids: scored, nll: result.nll, msPerToken: result.msPerToken });
  }
  const recall = plan.recall && !options.signal?.aborted ? await recallCheck(model, textIds, plan.recall, options) : [];
  return { arms, recall };
}

/** Gathers an arm's new scores and hands them on at most every REPORT_MS. */
function reporter(arm: number, total: number, onProgress: ExperimentRunOptions['onProgress']) {
  let nll: number[] = [];
  let ms: number[] = [];
  let done = 0;
  let last = performance.now();
  const flush = () => {
    onProgress?.({ kind: 'arm', arm, nll, msPerToken: ms, done, total });
    nll = [];
    ms = [];
    last = performance.now();
  };
  return {
    add(newNll: readonly number[], newMs: readonly number[]) {
      nll.push(...newNll);
      ms.push(...newMs);
      done += newNll.length;
      if (performance.now() - last >= REPORT_MS) flush();
    },
    flush,
  };
}

/** The planted fact, the question and its answer, short so that a small window still holds them,
 *  with a code that depends on the distance only. */
export function recallTexts(distance: number) {
  const code = String(1000 + ((distance * 7919) % 9000));
  return { fact: `\nThe code is ${code}.\n`, question: '\nWhat is the code? The code is', answer: ` ${code}` };
}

/**
 * For each distance: text, the fact, `distance` tokens of the text, the question, the answer; the
 * answer counts as recalled when each of its tokens gets a probability above 1/2. The text before
 * the fact keeps it out of the sinks, so only the window can hold it.
 */
async function recallCheck(model: ExperimentModel, textIds: readonly number[], plan: RecallPlan, options: ExperimentRunOptions): Promise<RecallResult[]> {
  const lead = Math.max(16, 2 * plan.sinks);
  const results: RecallResult[] = [];
  for (const distance of plan.distances) {
    if (options.signal?.aborted) break;
    options.onProgress?.({ kind: 'recall', done: results.length, total: plan.distances.length });
    if (!Number.isInteger(distance) || distance < 0 || lead + distance > textIds.length) {
      throw new EngineError('CONFIG_INVALID', `A fact cannot be planted ${distance} tokens before the question: the text holds ${Math.max(0, textIds.length - lead)} tokens to put between them.`);
    }
    const texts = recallTexts(distance);
    const encode = (text: string) => model.tokenizer.encode(text, { continuation: true });
    const fact = encode(texts.fact);
    const question = encode(texts.question);
    const answer = encode(texts.answer);
    const ids = [...textIds.slice(0, lead), ...fact, ...textIds.slice(lead, lead + distance), ...question, ...answer];
    const answerAt = ids.length - answer.length;
    // Every answer token is predicted from a cache that still holds the whole fact, or it is not.
    const lastQuery = ids.length - 2;
    const insideWindow = lead >= Math.max(plan.sinks, lastQuery - plan.window + 1);
    const recalled = (nll: number[]) => nll.slice(answerAt - 1).every((x) => x < RECALLED_NLL);
    const score = (choice: CacheLayout) => model.withCache(choice, (runner) => scoreIds(runner, ids, { chunk: model.maxChunk }));
    const streaming = await score({ mode: plan.sinks > 0 ? 'streaming' : 'window', nSinks: plan.sinks, windowSize: plan.window, maxChunk: model.maxChunk });
    const dense = plan.dense ? await score({ mode: 'dense', nSinks: 0, windowSize: ids.length, maxChunk: Math.min(model.maxChunk, largestPowerOfTwo(ids.length)) }) : null;
    results.push({ distance, insideWindow, answered: recalled(streaming.nll), answeredDense: dense ? recalled(dense.nll) : null });
  }
  return results;
}
