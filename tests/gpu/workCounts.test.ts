// What the benchmark's work counts and catalog shapes rest on, in headless Chromium: the counter
// takes exactly the calls our code makes, gives onnxruntime what happens while its run is in
// flight, and follows live buffers; a catalog shape's random-weight model runs in our engine with the
// logits of onnxruntime's whole graph; and a decoded token creates nothing.

import { describe, expect, it } from 'vitest';
import { useLabPage } from './labPage.ts';
import type { Harness } from '../../lab/harness/main.ts';
import { findShape, NARROW_WIDTHS } from '../../lab/shapeModels.ts';
import { zeroCounts } from '../../lab/workCounts.ts';
import { describeModel } from '../../lab/harnessJob.ts';
import { STORIES260K_DIR } from '../../lab/fixtures.ts';

const { call } = useLabPage<Harness>('lab/harness/index.html', 'harness');

describe('work counts', () => {
  it("count our calls as ours, onnxruntime's runs as onnxruntime's, and a call during a run as onnxruntime's", async () => {
    const r = await call('countAttribution');
    expect(r.values).toEqual([4, 3, 20]);
    expect(r.ours).toEqual({
      ours: { submits: 1, dispatches: 2, bindGroups: 1, writeBuffers: 2, writeBytes: 16, buffers: 2, encoders: 1, mapAsyncs: 1, readBytes: 12 },
      onnxruntime: zeroCounts(),
    });
    expect(r.output).toEqual([2, 3, 4, 5]);
    expect(r.run.ours).toEqual(zeroCounts());
    expect(r.run.onnxruntime.submits).toBeGreaterThanOrEqual(1);
    expect(r.run.onnxruntime.dispatches).toBeGreaterThanOrEqual(1);
    // Its output on the CPU: onnxruntime reads the 16 bytes back inside the run.
    expect(r.run.onnxruntime.readBytes).toBeGreaterThanOrEqual(16);
    expect(r.overlap.ours).toEqual(zeroCounts());
    expect(r.overlap.onnxruntime.writeBuffers).toBeGreaterThanOrEqual(1);
    expect(r.liveAdded).toBe(0);
  });
});

describe('shape models', () => {
  // One shape: building the others takes one to two minutes each on SwiftShader, and they differ
  // from it only in head counts and sizes, which the attention tests cover.
  const shape = findShape('llama-3.2-1b-instruct');
  it(`give our engine the logits of onnxruntime's whole graph at ${shape.label}'s attention shape`, async () => {
    const job = { shape: { ...shape, nLayers: 2 }, widths: NARROW_WIDTHS, seed: 3, cache: { sinks: 4, window: 2044 } };
    const r = await call('compareShape', job, [[1, 17, 400, 1999, 3], [5], [1024], [7, 8, 9]]);
    console.log(`${shape.label} shape, 2 layers: max |engine - onnxruntime| ${r.maxDiff.toExponential(2)} over ${r.tokens} tokens, logits up to ${r.maxLogit.toFixed(2)}`);
    expect(r.tokens).toBe(10);
    // Logits up to about 25: 1e-4 is float32 rounding over these widths, far below any attention error.
    expect(r.maxLogit).toBeGreaterThan(1);
    expect(r.maxDiff).toBeLessThan(1e-4);
  });
});

describe('work per decoded token', () => {
  // The chat's decode loop on the built-in model with graph capture, as the app loads it: after the
  // first tokens (which compile, capture and size what later ones reuse) a token creates nothing.
  it('creates no buffer, bind group or extra encoder, replays onnxruntime without a bind group, and reads back under 1 KiB', async () => {
    const r = await call('benchCounts', { model: describeModel(STORIES260K_DIR), cache: { sinks: 4, window: 60 }, promptIds: [1, 403, 407, 261, 378], warm: 4, tokens: 12, dense: false });
    for (const path of [r.greedy, r.sampled]) {
      const { ours, onnxruntime } = path.decode;
      console.log(`per decoded token, ${r.layers} layers: ours ${JSON.stringify(ours)}; onnxruntime ${JSON.stringify(onnxruntime)}`);
      expect([ours.buffers, ours.bindGroups, onnxruntime.buffers, onnxruntime.bindGroups]).toEqual([0, 0, 0, 0]);
      expect(ours.encoders).toBeLessThanOrEqual(ours.submits);
      expect(ours.submits + onnxruntime.submits).toBeLessThanOrEqual(2 * r.layers + 2);
      // A replay writes no uniform: our few small writes (the id, the chunk's and the pick's uniforms) are all.
      expect(onnxruntime.writeBuffers).toBe(0);
      expect(ours.mapAsyncs).toBe(1);
      expect(ours.readBytes).toBeLessThan(1024);
    }
  });
});
