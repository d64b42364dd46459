// What a run's scores say (src/features/experiment/results.ts): perplexity per segment and
// overall, the chart with a line per arm and its marks, the summary in plain words, and the files
// a result exports as.

import { describe, expect, it } from 'vitest';
import { armRows, experimentFileName, experimentToCsv, experimentToJson, perplexityChart, segmentLength, segments, summaryOf, chartFactsOf } from '../../../src/features/experiment/results.ts';
import type { ArmResult, ExperimentArm, ExperimentResult } from '../../../src/protocol/messages.ts';

const arm = (a: ExperimentArm, nll: number[], status: ArmResult['status'] = 'done'): ArmResult => ({ arm: a, status, ids: Array.from({ length: nll.length + 1 }, (_, i) => 100 + i), nll, msPerToken: nll.map(() => 2) });
const flat = (n: number, x: number) => Array.from({ length: n }, () => x);
const STREAMING: ExperimentArm = { label: 'StreamingLLM 4+60', mode: 'streaming', sinks: 4, window: 60 };
const WINDOW: ExperimentArm = { label: 'window 0+64', mode: 'window', sinks: 0, window: 64 };
const DENSE: ExperimentArm = { label: 'dense', mode: 'dense', sinks: 0, window: 1200, limit: 1200 };

const result = (arms: ArmResult[], extra: Partial<ExperimentResult> = {}): ExperimentResult => ({
  model: { key: 'stories260k:fp32', label: 'stories260K' },
  text: { kind: 'text', title: 'Moby Dick, chapters 1 to 30', tokens: 1200 },
  trainedContext: 512,
  cacheDtype: 'f32',
  chunk: 64,
  arms,
  recall: [],
  startedAt: Date.UTC(2026, 11, 5, 17, 30),
  finishedAt: Date.UTC(2026, 11, 5, 17, 32),
  ...extra,
});

describe('figures', () => {
  it('perplexity per segment of round length, and overall and over the last quarter per arm', () => {
    expect(segmentLength(1199)).toBe(50);
    expect(segmentLength(20_000)).toBe(1000);
    expect(segments([Math.log(2), Math.log(2), Math.log(8)], 2).map((x) => +x.toFixed(9))).toEqual([2, 8]);
    const [row] = armRows([{ arm: STREAMING, status: 'stopped', nll: [...flat(300, Math.log(4)), ...flat(100, Math.log(16))], msPerToken: [1, 5, 3] }]);
    expect(row).toMatchObject({ label: 'StreamingLLM 4+60', status: 'stopped', tokens: 400, msPerToken: 3 });
    expect(row.perplexity).toBeCloseTo(Math.exp((300 * Math.log(4) + 100 * Math.log(16)) / 400), 9);
    expect(row.lastQuarter).toBeCloseTo(16, 9);
  });

  it('the chart has a line per arm, the cache size and the trained length marked', () => {
    const done = result([arm(STREAMING, flat(1199, 1.4)), arm(WINDOW, flat(1199, 1.5)), arm(DENSE, flat(1199, 3), 'stopped')]);
    const svg = perplexityChart(done.arms.map((a) => ({ ...a })), chartFactsOf(done));
    expect(svg.match(/<polyline /g)).toHaveLength(3);
    expect(svg).toContain('>cache 64<');
    expect(svg).toContain('>trained length 512<');
    expect(svg).toContain('>dense (stopped)<');
    expect(svg).toContain('stories260K: perplexity per 50 tokens');
  });
});

describe('the summary in plain words', () => {
  it('says what StreamingLLM kept, what dense did past the trained length, that the window did not collapse, and what was not remembered', () => {
    const dense = [...flat(511, Math.log(4)), ...flat(688, Math.log(40))];
    // The text's opening (the first segment of 50) is hard; the rest is flat.
    const streaming = [...flat(50, Math.log(400)), ...flat(1149, Math.log(4))];
    const words = summaryOf(result([arm(STREAMING, streaming), arm(WINDOW, flat(1199, Math.log(4.1))), arm(DENSE, dense)])).join(' ');
    expect(words).toContain('StreamingLLM 4+60 gave a perplexity of 4.85 over 1,199 tokens, between 4.00 and 4.00 per segment after the first, with a cache that never grows past 64 tokens.');
    expect(words).toContain('gave 4.00 within the 512 positions the model was trained on and 40.00 past them');
    expect(words).toContain('no collapse on this model');
    expect(words).toContain('remember what left the window');
  });

  it('says when the plain window collapsed, and what the recall check found', () => {
    const words = summaryOf(
      result([arm(STREAMING, flat(1199, Math.log(4))), arm(WINDOW, flat(1199, Math.log(400)))], {
        recall: [
          { distance: 10, insideWindow: true, answered: true, answeredDense: true },
          { distance: 500, insideWindow: false, answered: false, answeredDense: true },
        ],
      }),
    ).join(' ');
    expect(words).toContain('once the first tokens were evicted it collapsed');
    expect(words).toContain('planted 10 tokens before its question (inside the window), the fact was recalled; with dense attention it was recalled; planted 500 tokens before its question (beyond the window), the fact was not recalled; with dense attention it was recalled.');
    expect(words).not.toContain('cannot copy from its context');
  });

  it('says a model that recalls nothing even inside the window tells nothing about eviction', () => {
    const words = summaryOf(result([], { recall: [{ distance: 0, insideWindow: true, answered: false, answeredDense: null }] })).join(' ');
    expect(words).toContain('it cannot copy from its context, so this check says nothing about eviction on it');
  });
});

describe('exports', () => {
  const done = result([arm(STREAMING, [1.25, 0.5]), arm({ ...WINDOW, label: 'window, "plain"' }, [2], 'stopped')]);

  it('JSON: each arm with its settings, the ids scored and one NLL per id after the first', () => {
    const json = JSON.parse(experimentToJson(done));
    expect(json.format).toBe('endless-chat-experiment/1');
    expect(json.model).toEqual({ key: 'stories260k:fp32', label: 'stories260K' });
    expect(json.chunk).toBe(64);
    expect(json.arms[0]).toEqual({ label: 'StreamingLLM 4+60', mode: 'streaming', sinks: 4, window: 60, status: 'done', ids: [100, 101, 102], nll: [1.25, 0.5], msPerToken: [2, 2] });
    expect(json.arms[1]).toMatchObject({ mode: 'window', sinks: 0, window: 64, status: 'stopped', ids: [100, 101], nll: [2] });
  });

  it('CSV: a row per scored token, labels quoted where they need it', () => {
    expect(experimentToCsv(done)).toBe(
      'arm,mode,sinks,window,position,id,nll,ms\n' +
        'StreamingLLM 4+60,streaming,4,60,1,101,1.25,2\n' +
        'StreamingLLM 4+60,streaming,4,60,2,102,0.5,2\n' +
        '"window, ""plain""",window,0,64,1,101,2,2\n',
    );
  });

  it('file names carry the model and the time of the run', () => {
    expect(experimentFileName(result([], { model: { key: 'k', label: 'test-org/tiny qwen' } }), 'svg')).toBe('experiment-test-org-tiny-qwen-2026-12-05T17-30.svg');
  });
});
