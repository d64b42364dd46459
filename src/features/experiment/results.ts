// What a run's scores say: perplexity per segment and overall, the chart (the shared SVG line
// chart), the plain-words summary beside it, and the files a result exports as (JSON with every
// id and its NLL, so anyone can recompute the figures; CSV; the chart as SVG).

import { formatCount } from '../../protocol/format.ts';
import type { ArmResult, ArmStatus, ExperimentArm, ExperimentResult, RecallResult } from '../../protocol/messages.ts';
import { CHART_COLORS, lineChart, type Marker } from '../../ui/lineChart.ts';

/** One arm as the view draws it, while it runs or once saved. */
export interface ArmScores {
  arm: ExperimentArm;
  status: ArmStatus | 'running' | 'waiting';
  nll: number[];
  msPerToken: number[];
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** exp of the mean NLL; NaN for no tokens. */
export const perplexity = (nll: readonly number[]) => (nll.length === 0 ? NaN : Math.exp(mean(nll)));
const median = (xs: readonly number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const SEGMENTS = [10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10_000, 20_000, 25_000, 50_000, 100_000];
/** The segment the chart averages over: a round number of tokens, at most 30 segments. */
export function segmentLength(tokens: number): number {
  return SEGMENTS.find((s) => tokens / s <= 30) ?? Math.ceil(tokens / 30);
}

/** Perplexity of each segment of `segment` tokens, the last one possibly shorter. */
export function segments(nll: readonly number[], segment: number): number[] {
  const out: number[] = [];
  for (let at = 0; at < nll.length; at += segment) out.push(perplexity(nll.slice(at, at + segment)));
  return out;
}

export interface ArmRow {
  label: string;
  status: ArmScores['status'];
  tokens: number;
  perplexity: number;
  /** Over the last quarter of the tokens it scored: where a collapse or an explosion shows. */
  lastQuarter: number;
  msPerToken: number;
}

export function armRows(arms: readonly ArmScores[]): ArmRow[] {
  return arms.map((a) => ({
    label: a.arm.label,
    status: a.status,
    tokens: a.nll.length,
    perplexity: perplexity(a.nll),
    lastQuarter: perplexity(a.nll.slice(a.nll.length - Math.max(1, Math.floor(a.nll.length / 4)))),
    msPerToken: median(a.msPerToken),
  }));
}

export const formatPerplexity = (x: number) => (!Number.isFinite(x) ? '–' : x >= 1000 ? x.toExponential(2) : x.toFixed(2));

export interface ChartFacts {
  modelLabel: string;
  /** Ids each arm scores at most (the plan's tokens), so the axis stays put while lines grow. */
  tokens: number;
  trainedContext: number | null;
  /** The StreamingLLM cache size S + W, marked where it falls on the axis. */
  cacheTokens: number | null;
}

/** The chart of perplexity per segment, one line per arm, as an SVG string. */
export function perplexityChart(arms: readonly ArmScores[], facts: ChartFacts): string {
  const segment = segmentLength(facts.tokens);
  const markers: Marker[] = [];
  if (facts.cacheTokens !== null) markers.push({ x: facts.cacheTokens, label: `cache ${formatCount(facts.cacheTokens)}` });
  if (facts.trainedContext !== null) markers.push({ x: facts.trainedContext, label: `trained length ${formatCount(facts.trainedContext)}` });
  return lineChart(
    arms.map((a, i) => ({
      label: a.status === 'stopped' ? `${a.arm.label} (stopped)` : a.arm.label,
      color: CHART_COLORS[i % CHART_COLORS.length],
      // Each segment's perplexity at its middle; the positions are those of the ids scored (1 on).
      points: segments(a.nll, segment).map((y, k) => [1 + Math.min(k * segment + segment / 2, a.nll.length), y] as [number, number]),
    })),
    {
      title: `${facts.modelLabel}: perplexity per ${formatCount(segment)} tokens`,
      xLabel: 'position in the text (tokens)',
      yLabel: 'perplexity (log scale)',
      logY: true,
      xRange: [0, facts.tokens],
      markers,
    },
  );
}

/** The chart's facts for a finished or saved result. */
export function chartFactsOf(result: ExperimentResult): ChartFacts {
  const streaming = result.arms.find((a) => a.arm.mode === 'streaming' || a.arm.mode === 'window');
  return {
    modelLabel: result.model.label,
    tokens: result.text.tokens,
    trainedContext: result.trainedContext,
    cacheTokens: streaming ? streaming.arm.sinks + streaming.arm.window : null,
  };
}

/**
 * The run in plain words: what the perplexity did under each arm, what it means, and what
 * StreamingLLM does not do (remember what left the window), with the recall check's answers.
 */
export function summaryOf(result: Pick<ExperimentResult, 'arms' | 'recall' | 'trainedContext'>): string[] {
  const done = result.arms.filter((a) => a.nll.length > 0);
  const find = (mode: string, sinks?: (n: number) => boolean) => done.find((a) => a.arm.mode === mode && (!sinks || sinks(a.arm.sinks)));
  const streaming = find('streaming');
  const window = find('window');
  const dense = find('dense');
  const out: string[] = [];
  if (streaming) {
    // The first segment is the text's opening, hard for any model whatever it keeps.
    const per = segments(streaming.nll, segmentLength(streaming.nll.length)).filter(Number.isFinite);
    const later = per.length > 2 ? per.slice(1) : per;
    out.push(
      `${streaming.arm.label} gave a perplexity of ${formatPerplexity(perplexity(streaming.nll))} over ${formatCount(streaming.nll.length)} tokens, ` +
        `between ${formatPerplexity(Math.min(...later))} and ${formatPerplexity(Math.max(...later))} per segment${later.length < per.length ? ' after the first' : ''}, ` +
        `with a cache that never grows past ${formatCount(streaming.arm.sinks + streaming.arm.window)} tokens.`,
    );
  }
  if (dense && result.trainedContext !== null) {
    const trained = result.trainedContext;
    if (dense.nll.length > trained + 1) {
      out.push(
        `Dense attention, which keeps every token, gave ${formatPerplexity(perplexity(dense.nll.slice(0, trained - 1)))} within the ${formatCount(trained)} positions the model was trained on ` +
          `and ${formatPerplexity(perplexity(dense.nll.slice(trained - 1)))} past them: positions it never saw in training.`,
      );
    } else {
      out.push(`Dense attention stayed within the ${formatCount(trained)} positions the model was trained on, where it is the reference the others are measured against (${formatPerplexity(perplexity(dense.nll))}).`);
    }
  }
  if (streaming && window) {
    const [s, w] = [perplexity(streaming.nll), perplexity(window.nll)];
    out.push(
      w > 2 * s
        ? `A plain window of the same size without sinks gave ${formatPerplexity(w)}, against ${formatPerplexity(s)} with sinks: once the first tokens were evicted it collapsed. This model leans on its first tokens, and the sinks keep them.`
        : `A plain window of the same size without sinks gave ${formatPerplexity(w)}, against ${formatPerplexity(s)} with sinks: no collapse on this model, whose attention does not lean on its first tokens. The sinks cost nothing here, but buy nothing either.`,
    );
  }
  out.push(
    'What StreamingLLM does not do: remember what left the window. It keeps the model fluent on an endless stream, at a constant cache; the tokens it evicted are gone, and nothing in them can be recalled.',
  );
  out.push(...recallWords(result.recall));
  return out;
}

function recallWords(recall: readonly RecallResult[]): string[] {
  if (recall.length === 0) return [];
  const line = (r: RecallResult) =>
    `planted ${formatCount(r.distance)} tokens before its question (${r.insideWindow ? 'inside the window' : 'beyond the window'}), the fact was ${r.answered ? 'recalled' : 'not recalled'}` +
    (r.answeredDense === null ? '' : `; with dense attention it was ${r.answeredDense ? 'recalled' : 'not recalled'}`);
  const words = [`Recall check: ${recall.map(line).join('; ')}.`];
  const inside = recall.filter((r) => r.insideWindow);
  if (inside.length > 0 && inside.every((r) => !r.answered)) {
    words.push('This model did not recall the fact even while it was inside the window: it cannot copy from its context, so this check says nothing about eviction on it.');
  }
  return words;
}

const FORMAT = 'endless-chat-experiment/1';

/** The result as a file: each arm's settings, the ids scored (the first is context only) and the
 *  NLL of each id after the first, so the figures can be recomputed, with `npm run harness` too. */
export function experimentToJson(result: ExperimentResult): string {
  const { arms, ...rest } = result;
  return JSON.stringify(
    {
      format: FORMAT,
      ...rest,
      arms: arms.map((a) => ({ label: a.arm.label, mode: a.arm.mode, sinks: a.arm.sinks, window: a.arm.window, status: a.status, ids: a.ids, nll: a.nll, msPerToken: a.msPerToken })),
    },
    null,
    1,
  );
}

/** One row per scored token: the arm, its settings, the id's position and the id, its NLL and time. */
export function experimentToCsv(result: ExperimentResult): string {
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const rows = ['arm,mode,sinks,window,position,id,nll,ms'];
  for (const a of result.arms) {
    a.nll.forEach((nll, i) => rows.push([quote(a.arm.label), a.arm.mode, a.arm.sinks, a.arm.window, i + 1, a.ids[i + 1], nll, a.msPerToken[i]].join(',')));
  }
  return rows.join('\n') + '\n';
}

/** "experiment-stories260K-2026-12-05T17-30" plus the extension. */
export function experimentFileName(result: ExperimentResult, extension: 'json' | 'csv' | 'svg'): string {
  const model = result.model.label.replace(/[^A-Za-z0-9._-]+/g, '-');
  const when = new Date(result.startedAt).toISOString().slice(0, 16).replace(/:/g, '-');
  return `experiment-${model}-${when}.${extension}`;
}

/** The scores of a result's arms, as the view draws them. */
export const scoresOf = (arms: readonly ArmResult[]): ArmScores[] => arms.map((a) => ({ arm: a.arm, status: a.status, nll: a.nll, msPerToken: a.msPerToken }));
