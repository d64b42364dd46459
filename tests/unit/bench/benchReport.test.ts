// The benchmark report's sections (lab/benchReport.ts) on made-up results: every count lands in
// its row and column, positions with the same counts share a row, and the ratios pair the tokens.

import { describe, expect, it } from 'vitest';
import { countsSection, groupPositions, ratioText, shapesSection, type ShapeRun } from '../../../lab/benchReport.ts';
import { CATALOG_SHAPES } from '../../../lab/shapeModels.ts';
import { zeroCounts, type OwnedCounts, type WorkCounts } from '../../../lab/workCounts.ts';

const counts = (c: Partial<WorkCounts>): WorkCounts => ({ ...zeroCounts(), ...c });
const owned = (ours: Partial<WorkCounts>, onnxruntime: Partial<WorkCounts>): OwnedCounts => ({ ours: counts(ours), onnxruntime: counts(onnxruntime) });
const path = (decode: OwnedCounts, prefill = owned({}, {})) => ({ decode, prefill });
/** The cells of the table row whose label starts with `label`. */
const cells = (lines: string[], label: string) => {
  const line = lines.find((l) => l.startsWith(`| ${label}`));
  if (!line) throw new Error(`no row "${label}" in\n${lines.join('\n')}`);
  return line.split('|').slice(2, -1).map((c) => c.trim());
};

describe('the benchmark report', () => {
  it('pairs ratios token by token', () => {
    expect(ratioText([10, 40, 90], [5, 10, 10])).toBe('4.00x (min 2.00, max 9.00)');
  });

  it('groups positions whose counts are equal, in order', () => {
    const a = owned({ submits: 25 }, { submits: 26 });
    const b = owned({ submits: 25 }, { submits: 27 });
    const groups = groupPositions([{ p: 128, c: a }, { p: 512, c: b }, { p: 2048, c: a }], (x) => x.p, (x) => x.c);
    expect(groups.map((g) => g.positions)).toEqual([[128, 2048], [512]]);
  });

  it("puts each path's counts in the rows for our code, onnxruntime's runs and both", () => {
    const greedy = owned({ submits: 25, dispatches: 74, readBytes: 520 }, { submits: 26, dispatches: 267, bindGroups: 267 });
    const sampled = owned({ submits: 25, readBytes: 2048 }, { submits: 26 });
    const dense = owned({ submits: 1, mapAsyncs: 1, readBytes: 2048 }, { submits: 26, dispatches: 363 });
    const lines = countsSection(
      { layers: 24, greedy: path(greedy, owned({ writeBytes: 128.5 }, { dispatches: 5.9 })), sampled: path(sampled), dense: path(dense) },
      { model: 'stories260K, its layers repeated to 24', promptTokens: 128, chunk: 64, warm: 4, tokens: 16 },
    );
    expect(lines[0]).toBe('## Work per token: stories260K, its layers repeated to 24');
    expect(cells(lines, 'ours, greedy, per decoded token: all')).toEqual(['51', '341', '267', '0', '0', '0', '0', '0', '520']);
    expect(cells(lines, 'ours, greedy, per decoded token: our code')).toEqual(['25', '74', '0', '0', '0', '0', '0', '0', '520']);
    expect(cells(lines, "ours, the app's default sampling, per decoded token: all").at(-1)).toBe('2,048');
    expect(cells(lines, 'ours, per prompt token: all')).toEqual(['0', '5.9', '0', '0', '128.5', '0', '0', '0', '0']);
    expect(cells(lines, "onnxruntime's whole graph, per decoded token: all").slice(0, 2)).toEqual(['27', '363']);
    expect(cells(lines, "onnxruntime's whole graph, per decoded token: inside its runs").slice(0, 2)).toEqual(['26', '363']);
  });

  it('writes per shape the paired times at each position and the counts, merging equal positions', () => {
    const shape = CATALOG_SHAPES.find((s) => s.id === 'qwen2.5-0.5b-instruct')!;
    const oursCounts = owned({ submits: 25 }, { submits: 26, dispatches: 171, bindGroups: 171, writeBuffers: 171 });
    // Two tokens: the median is the larger, as everywhere in the report.
    const point = (position: number, ours: number[], denseOrt: number[], denseSubmits: number) => ({ position, ours, denseOrt, oursCounts, denseCounts: owned({ submits: 1 }, { submits: denseSubmits }) });
    const run: ShapeRun = {
      job: { shape, widths: { mlp: 256, vocab: 2048 }, seed: 1, cache: { sinks: 4, window: 2044 }, positions: [128, 8192], warm: 1, tokens: 2, promptTokens: 64 },
      result: {
        widths: { mlp: 256, vocab: 2048, positions: 8230 },
        modelBytes: 40 * 2 ** 20,
        counts: { sampled: path(owned({ submits: 25, readBytes: 8192 }, { submits: 26 }), owned({ writeBytes: 512.5 }, {})), densePrefill: owned({}, { dispatches: 4.5 }) },
        points: [point(128, [10, 20], [12, 30], 19), point(8192, [10, 10], [80, 100], 20)],
        loadMs: 24_000,
      },
      wallMs: 300_000,
    };
    const lines = shapesSection([run]);
    expect(cells(lines, 'Qwen2.5 0.5B Instruct')).toEqual(['51 / 171 / 171 / 171', '20 / 0 / 0 / 0', '1.50x', '10.00x', '300 s']);
    expect(lines).toContain('### Qwen2.5 0.5B Instruct: 24 layers, 14 heads, 2 KV heads, head dim 64, hidden 896');
    expect(cells(lines, '8,192')).toEqual(['10.00 / 10.00 / 10.00', '80.00 / 100.00 / 100.00', '10.00x (min 8.00, max 10.00)']);
    expect(cells(lines, 'ours, greedy, per decoded token at 128, 8,192: all').slice(0, 2)).toEqual(['51', '171']);
    expect(cells(lines, "onnxruntime's whole graph, per decoded token at 128: all")[0]).toBe('20');
    expect(cells(lines, "onnxruntime's whole graph, per decoded token at 8,192: all")[0]).toBe('21');
    expect(cells(lines, "ours, the app's default sampling, per decoded token at 64: all").at(-1)).toBe('8,192');
    expect(cells(lines, 'ours, per prompt token: our code')[4]).toBe('512.5');
    expect(cells(lines, "onnxruntime's whole graph, per prompt token: inside its runs")[1]).toBe('4.5');
  });
});
