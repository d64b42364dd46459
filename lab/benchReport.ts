// The decode benchmark's report, the parts more than one entry writes (tools/benchRun.ts for
// npm run bench, tools/benchGpu.ts for npm run bench:gpu): statistics of paired times, the work
// per token, and the catalog shapes against onnxruntime's whole graph. Markdown lines, from the
// results the harness page returns.

import type { CountsResult } from './harness/main.ts';
import type { ShapeBenchJob, ShapeResult } from './harness/shapeBench.ts';
import { findShape, type ModelShape } from './shapeModels.ts';
import { countsTable, ownedRows, totalCounts, type CountsRow, type OwnedCounts } from './workCounts.ts';

export interface Stats {
  min: number;
  median: number;
  max: number;
  n: number;
}

export function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1], n: s.length };
}

export const ms = (x: number) => x.toFixed(2);

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** min / median / max */
export const spread = (xs: number[]) => {
  const s = stats(xs);
  return `${ms(s.min)} / ${ms(s.median)} / ${ms(s.max)}`;
};

/** Median and range of the paired ratios a[i] / b[i] (measured back to back in the same round). */
export function ratioText(a: number[], b: number[]): string {
  const s = stats(a.map((x, i) => x / b[i]));
  return `${ms(s.median)}x (min ${ms(s.min)}, max ${ms(s.max)})`;
}

/** How the counts were taken, for every table of them. */
export const COUNTS_METHOD =
  'WebGPU calls counted in the page by wrapping the prototypes (lab/harness/gpuCounts.ts); exact, and the same on every machine. ' +
  '"Our code" is what the engine issues itself; "onnxruntime\'s runs" what onnxruntime issues while one of its session runs is in flight ' +
  '(the engine awaits each run, so nothing of ours interleaves). onnxruntime\'s whole graph downloads its logits after its run, so that readback ' +
  'counts outside its runs. Bytes read back are the ranges mapped for reading.';

export interface CountsJobText {
  /** The model in words, such as "stories260K (5 layers)". */
  model: string;
  promptTokens: number;
  chunk: number;
  warm: number;
  tokens: number;
}

/** Work per token on one model: our reply path greedy and with the app's default sampling, prefill, and onnxruntime's whole graph. */
export function countsSection(result: CountsResult, job: CountsJobText): string[] {
  const rows: CountsRow[] = [
    ...ownedRows('ours, greedy, per decoded token', result.greedy.decode),
    ...ownedRows("ours, the app's default sampling, per decoded token", result.sampled.decode),
    ...ownedRows('ours, per prompt token', result.greedy.prefill),
    ...(result.dense
      ? [...denseRows("onnxruntime's whole graph, per decoded token", result.dense.decode), ...denseRows("onnxruntime's whole graph, per prompt token", result.dense.prefill)]
      : []),
  ];
  return [
    `## Work per token: ${job.model}`,
    '',
    `Our engine on the chat's decode loop (generate() over ModelRunner, graph capture on, picks on the GPU: greedy, and the app's default sampling with repetition penalty 1.1, whose penalized ids' logits are read back beside the pick), ` +
      `and onnxruntime's whole graph decoding densely. A ${job.promptTokens}-token prompt (ours in chunks of ${job.chunk}, onnxruntime's in one run), ` +
      `then ${plural(job.tokens, 'decoded token')} counted after ${job.warm} more; means per token.`,
    COUNTS_METHOD,
    '',
    ...countsTable(rows),
  ];
}

function denseRows(label: string, counts: OwnedCounts): CountsRow[] {
  return [
    { label: `${label}: all`, counts: totalCounts(counts) },
    { label: `${label}: inside its runs`, counts: counts.onnxruntime },
  ];
}

const sameCounts = (a: OwnedCounts, b: OwnedCounts) => JSON.stringify(a) === JSON.stringify(b);

/** Positions whose counts are identical, in one group each, in order. */
export function groupPositions<T>(points: T[], position: (p: T) => number, counts: (p: T) => OwnedCounts): { positions: number[]; counts: OwnedCounts }[] {
  const groups: { positions: number[]; counts: OwnedCounts }[] = [];
  for (const p of points) {
    const group = groups.find((g) => sameCounts(g.counts, counts(p)));
    if (group) group.positions.push(position(p));
    else groups.push({ positions: [position(p)], counts: counts(p) });
  }
  return groups;
}

const positionsText = (positions: number[]) => `at ${positions.map((p) => p.toLocaleString('en-US')).join(', ')}`;

export function shapeTitle(shape: ModelShape): string {
  const published = findShape(shape.id).nLayers;
  const layers = shape.nLayers === published ? `${published} layers` : `${shape.nLayers} of its ${published} layers`;
  return `${shape.label}: ${layers}, ${shape.nHeads} heads, ${shape.nKvHeads} KV heads, head dim ${shape.headDim}, hidden ${shape.hiddenSize}`;
}

export interface ShapeRun {
  job: ShapeBenchJob;
  result: ShapeResult;
  /** Wall time of this shape, model building and loading included. */
  wallMs: number;
}

/** Our engine against onnxruntime's whole graph on each catalog shape: a summary, then per shape
 *  the times at each position and the work per token. */
export function shapesSection(runs: ShapeRun[]): string[] {
  if (runs.length === 0) return [];
  const positions = runs[0].job.positions;
  const { warm, tokens, cache } = runs[0].job;
  const brief = (c: OwnedCounts) => {
    const t = totalCounts(c);
    return `${t.submits} / ${t.dispatches} / ${t.bindGroups} / ${t.writeBuffers}`;
  };
  const lines = [
    "## The catalog's shapes: ours (streaming) against onnxruntime's whole graph (dense)",
    '',
    "Random-weight models with each catalog model's depth and attention shape as published (lab/shapeModels.ts), in the onnxruntime-genai builder's q4 form " +
      '(GroupQueryAttention over packed q/k/v with do_rotary, MatMulNBits, SkipSimplifiedLayerNormalization, a tied GatherBlockQuantized embedding), ' +
      `with a narrow MLP and vocabulary (${runs.map((r) => `${r.job.shape.label}: MLP ${r.result.widths.mlp}, vocabulary ${r.result.widths.vocab.toLocaleString('en-US')}`).join('; ')}).`,
    `Ours: the app's cache (${cache.sinks} sinks + a window of ${cache.window}, chunks of 64, 64 rollback slots) and the chat's reply path, greedy (picked on the GPU). ` +
      "onnxruntime's whole graph: dense, a growing past_key_values in GPU buffers, the logits read back and picked on the CPU, as transformers.js decodes; " +
      "its 4-bit matmuls run with float activations as the engine's do, so both do the same arithmetic outside attention.",
    'Each position is reached without computing the stream before it: our cache is restored from a snapshot of that length and onnxruntime is handed a past of that length, ' +
      'both all zeros (the work of a token depends on the length, not the values; a dense 8K prefill of these shapes would take SwiftShader hours). ' +
      `At each position both decode ${plural(warm, 'untimed token')}, then ${plural(tokens, 'timed token')} alternating, which the ratios pair.`,
    '',
    '| shape | ours per token: submits / dispatches / bind groups / writeBuffer | dense onnxruntime per token, the same | ' +
      positions.map((p) => `dense / ours at ${p.toLocaleString('en-US')}`).join(' | ') +
      ' | wall time |',
    `|---|---|---|${positions.map(() => '---').join('|')}|---|`,
    ...runs.map(({ job, result, wallMs }) => {
      const at = (p: number) => result.points.find((x) => x.position === p);
      const first = result.points[0];
      return (
        `| ${job.shape.label} | ${brief(first.oursCounts)} | ${brief(first.denseCounts)} | ` +
        positions.map((p) => {
          const point = at(p);
          return point ? stats(point.denseOrt.map((x, i) => x / point.ours[i])).median.toFixed(2) + 'x' : '';
        }).join(' | ') +
        ` | ${(wallMs / 1000).toFixed(0)} s |`
      );
    }),
    '',
    `Counts in the summary are at position ${positions[0].toLocaleString('en-US')}; the tables below list any position where they differ.`,
  ];
  for (const { job, result } of runs) {
    const rows: CountsRow[] = [
      ...groupPositions(result.points, (p) => p.position, (p) => p.oursCounts).flatMap((g) => ownedRows(`ours, greedy, per decoded token ${positionsText(g.positions)}`, g.counts)),
      ...ownedRows(`ours, the app's default sampling, per decoded token at ${job.promptTokens}`, result.counts.sampled.decode),
      ...ownedRows('ours, per prompt token', result.counts.sampled.prefill),
      ...groupPositions(result.points, (p) => p.position, (p) => p.denseCounts).flatMap((g) => denseRows(`onnxruntime's whole graph, per decoded token ${positionsText(g.positions)}`, g.counts)),
      ...denseRows("onnxruntime's whole graph, per prompt token", result.counts.densePrefill),
    ];
    lines.push(
      '',
      `### ${shapeTitle(job.shape)}`,
      '',
      `MLP ${result.widths.mlp}, vocabulary ${result.widths.vocab.toLocaleString('en-US')}, ${(result.modelBytes / 2 ** 20).toFixed(1)} MiB; built and loaded in ${(result.loadMs / 1000).toFixed(1)} s. ` +
        `Prompt counts: a ${job.promptTokens}-token prompt into an empty stream (ours in chunks of 64, onnxruntime's in one run), then ${plural(job.tokens, 'token')} with the app's default sampling counted after ${job.warm} more.`,
      '',
      '| position | ours ms (min / median / max) | dense onnxruntime ms | dense / ours, paired |',
      '|---|---|---|---|',
      ...result.points.map((p) => `| ${p.position.toLocaleString('en-US')} | ${spread(p.ours)} | ${spread(p.denseOrt)} | ${ratioText(p.denseOrt, p.ours)} |`),
      '',
      ...countsTable(rows),
    );
  }
  return lines;
}
