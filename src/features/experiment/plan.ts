// The Experiment view's form as data: its settings and their defaults, the arms they make (each
// named in plain words), the checks that refuse a bad value with a sentence, and the time a run
// will take, reckoned in the feeds each arm needs.

import { windowInBudget } from '../../protocol/cache.ts';
import { formatBytes, formatCount } from '../../protocol/format.ts';
import type { ExperimentArm, ExperimentPlan, ExperimentProgress, ExperimentText } from '../../protocol/messages.ts';

export interface ExperimentSettings {
  /** Tokens of the text to score, from its first. */
  tokens: number;
  /** The StreamingLLM cache: S sinks and a window of W; the other arms get the same S + W. */
  sinks: number;
  window: number;
  streaming: boolean;
  plainWindow: boolean;
  dense: boolean;
  recompute: boolean;
  /** Tokens the recomputation arm scores (it costs S + W tokens of work each). */
  recomputeTokens: number;
  ablation: boolean;
  recall: boolean;
  /** Tokens between the planted fact and its question: one check meant inside the window, one beyond
   *  (recallDistances, unless the user gives others). */
  recallInside: number;
  recallBeyond: number;
}

export type ExperimentErrors = Partial<Record<keyof ExperimentSettings | 'arms', string>>;

/** What the form is checked against: the text, the model and the memory the arms may take. */
export interface ExperimentLimits {
  textTokens: number;
  /** Tokens per feed (the model's prefill chunk), which the ring keeps room for. */
  chunk: number;
  bytesPerToken: number;
  /** The most one arm's cache may take: the budget the picker sizes a chat's cache from. */
  budgetBytes: number;
}

/** Sinks of the paper's ablation (Table 1), at one cache size. */
export const ABLATION_SINKS = [0, 1, 2, 4, 8];
/** Recomputation costs a whole window of work per token: the most it may score. */
export const MAX_RECOMPUTE_TOKENS = 2000;
/** Text before the planted fact (the engine's lead), so the fact is never among the sinks. */
export const recallLead = (sinks: number) => Math.max(16, 2 * sinks);

/** Recall distances that suit a cache of sinks + window: one well inside the window (the fact and
 *  the question take some of it), one at twice the cache, long evicted. */
export const recallDistances = (sinks: number, window: number) => ({ inside: Math.floor(window / 4), beyond: 2 * (sinks + window) });

/** Defaults from the chat's own cache (its sinks and window), so the run measures what the chat keeps. */
export function defaultSettings(chat: { nSinks: number; windowSize: number }, textTokens: number): ExperimentSettings {
  const window = chat.windowSize;
  return {
    tokens: Math.min(textTokens, 4000),
    sinks: chat.nSinks,
    window,
    streaming: true,
    plainWindow: true,
    dense: true,
    recompute: false,
    recomputeTokens: Math.min(200, textTokens),
    ablation: false,
    recall: true,
    recallInside: recallDistances(chat.nSinks, window).inside,
    recallBeyond: recallDistances(chat.nSinks, window).beyond,
  };
}

/** The most tokens a dense cache holds within the budget. */
export function denseCapacity(limits: Pick<ExperimentLimits, 'budgetBytes' | 'bytesPerToken'>): number {
  return Math.max(0, windowInBudget(limits.budgetBytes, limits.bytesPerToken, 0, 0));
}

const isCount = (n: number, min: number) => Number.isInteger(n) && n >= min;

export function validateExperiment(s: ExperimentSettings, limits: ExperimentLimits): ExperimentErrors {
  const errors: ExperimentErrors = {};
  if (!isCount(s.tokens, 2)) errors.tokens = 'Score at least 2 tokens (a whole number).';
  else if (s.tokens > limits.textTokens) errors.tokens = `The text has ${formatCount(limits.textTokens)} tokens; score at most that many.`;
  if (!isCount(s.sinks, 0)) errors.sinks = 'Sinks must be a whole number of 0 or more.';
  if (!isCount(s.window, 1)) errors.window = 'The window must be a whole number of at least 1 token.';
  if (!errors.sinks && !errors.window) {
    const ring = s.sinks + s.window + limits.chunk - 1;
    if (ring * limits.bytesPerToken > limits.budgetBytes) {
      errors.window = `A cache of ${formatCount(s.sinks + s.window)} tokens takes ${formatBytes(ring * limits.bytesPerToken)} with this model, more than the ${formatBytes(limits.budgetBytes)} an arm may use; choose a smaller window.`;
    }
    if (s.ablation && s.sinks + s.window <= Math.max(...ABLATION_SINKS)) {
      errors.ablation = `The sink ablation keeps up to ${Math.max(...ABLATION_SINKS)} sinks in the same cache: make sinks + window larger than that.`;
    }
  }
  if (s.recompute && !(isCount(s.recomputeTokens, 2) && s.recomputeTokens <= MAX_RECOMPUTE_TOKENS)) {
    errors.recomputeTokens = `Recomputation scores 2 to ${formatCount(MAX_RECOMPUTE_TOKENS)} tokens (it re-reads the whole window for every one).`;
  }
  if (s.dense && denseCapacity(limits) < 2) errors.dense = 'The memory budget does not hold a dense cache of this model.';
  if (!s.streaming && !s.plainWindow && !s.dense && !s.recompute && !s.ablation) errors.arms = 'Choose at least one arm to run.';
  if (s.recall) {
    const room = limits.textTokens - recallLead(s.sinks);
    for (const key of ['recallInside', 'recallBeyond'] as const) {
      if (!isCount(s[key], 0)) errors[key] = 'The distance must be a whole number of 0 or more tokens.';
      else if (s[key] > room) errors[key] = `The text holds ${formatCount(Math.max(0, room))} tokens to put between the fact and the question.`;
    }
  }
  return errors;
}

/** The arms the settings ask for, each once, in the order they run. */
export function armsOf(s: ExperimentSettings, limits: ExperimentLimits): ExperimentArm[] {
  const budget = s.sinks + s.window;
  const arms: ExperimentArm[] = [];
  const add = (arm: ExperimentArm) => {
    if (!arms.some((a) => a.mode === arm.mode && a.sinks === arm.sinks && a.window === arm.window && a.limit === arm.limit)) arms.push(arm);
  };
  if (s.streaming) add({ label: `StreamingLLM ${s.sinks}+${s.window}`, mode: s.sinks > 0 ? 'streaming' : 'window', sinks: s.sinks, window: s.window });
  if (s.plainWindow) add({ label: `window 0+${budget}`, mode: 'window', sinks: 0, window: budget });
  if (s.dense) {
    const limit = Math.min(s.tokens, denseCapacity(limits));
    add({ label: limit < s.tokens ? `dense, first ${formatCount(limit)}` : 'dense', mode: 'dense', sinks: 0, window: limit, limit });
  }
  if (s.recompute) add({ label: `recompute 0+${budget}, first ${formatCount(s.recomputeTokens)}`, mode: 'recompute', sinks: 0, window: budget, limit: s.recomputeTokens });
  if (s.ablation) {
    for (const sinks of ABLATION_SINKS) add({ label: `${sinks} sink${sinks === 1 ? '' : 's'} + ${budget - sinks}`, mode: sinks > 0 ? 'streaming' : 'window', sinks, window: budget - sinks });
  }
  return arms;
}

export function planOf(s: ExperimentSettings, limits: ExperimentLimits, text: ExperimentText): ExperimentPlan {
  return {
    text,
    tokens: s.tokens,
    arms: armsOf(s, limits),
    recall: s.recall ? { sinks: s.sinks, window: s.window, distances: [s.recallInside, s.recallBeyond], dense: s.dense && s.recallBeyond + 256 <= denseCapacity(limits) } : undefined,
  };
}

/** The arm in plain words, for the form and the table. */
export function describeArm(arm: ExperimentArm): string {
  switch (arm.mode) {
    case 'streaming':
      return `keeps the first ${formatCount(arm.sinks)} tokens and the last ${formatCount(arm.window)}`;
    case 'window':
      return `keeps only the last ${formatCount(arm.window)} tokens`;
    case 'dense':
      return `keeps every token, up to ${formatCount(arm.window)}`;
    case 'recompute':
      return `re-reads the last ${formatCount(arm.window)} tokens afresh for every token`;
  }
}

/** Feeds an arm costs over `tokens` ids: the unit the time left is reckoned in. A feed is one
 *  chunk; recomputation feeds the whole window for each token. */
export function armFeeds(arm: ExperimentArm, tokens: number, chunk: number): number {
  const scored = Math.max(0, Math.min(tokens, arm.limit ?? tokens) - 1);
  return arm.mode === 'recompute' ? scored * Math.ceil((arm.sinks + arm.window) / chunk) : Math.ceil(scored / chunk);
}

export interface TimeLeft {
  /** Seconds left in the arm under way, and in the whole run; null until a rate is measured. */
  arm: number | null;
  all: number | null;
}

/** What the run has measured so far: per arm, ids scored of how many, and when it started. */
export interface RunClock {
  startedAt: number;
  /** Per arm of the plan: ids scored so far. */
  done: number[];
  /** The arm under way. */
  current: number;
}

/** Time left at the rate measured so far (feeds per second over the whole run). */
export function timeLeft(plan: ExperimentPlan, chunk: number, clock: RunClock, now: number): TimeLeft {
  const feeds = plan.arms.map((arm) => armFeeds(arm, plan.tokens, chunk));
  const doneFeeds = plan.arms.map((arm, i) => {
    const total = Math.max(1, Math.min(plan.tokens, arm.limit ?? plan.tokens) - 1);
    return feeds[i] * Math.min(1, clock.done[i] / total);
  });
  const spent = doneFeeds.reduce((a, b) => a + b, 0);
  const seconds = (now - clock.startedAt) / 1000;
  if (spent <= 0 || seconds <= 0) return { arm: null, all: null };
  const rate = spent / seconds;
  const left = (i: number) => Math.max(0, feeds[i] - doneFeeds[i]) / rate;
  let all = 0;
  for (let i = clock.current; i < feeds.length; i++) all += left(i);
  return { arm: left(clock.current), all };
}

/** Adds a progress report to the per-arm scores gathered so far. */
export function withProgress<T extends { nll: number[]; msPerToken: number[] }>(scores: readonly T[], progress: Extract<ExperimentProgress, { kind: 'arm' }>): T[] {
  return scores.map((s, i) => (i === progress.arm ? { ...s, nll: [...s.nll, ...progress.nll], msPerToken: [...s.msPerToken, ...progress.msPerToken] } : s));
}
