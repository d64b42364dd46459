// Dense decoding as transformers.js does it (onnxruntime's own attention over a growing
// past_key_values, on WebGPU) against this project's engine, streaming (S + W cache) and dense (a
// cache that holds the whole stream), at given stream positions, measured in one run: the three
// decoders advance through the same token stream together and their timed tokens alternate, so
// a slowdown of the machine hits all three alike.

import type { ModelRunner } from '../../src/engine/modelRunner.ts';
import { FullGraphSession } from '../ort/fullGraphSession.ts';

export interface DenseBenchJob {
  /** Stream positions to time at, increasing. */
  positions: number[];
  /** Tokens timed per decoder at each position. */
  tokensPerPosition: number;
  /** Tokens fed per call while advancing to the next position. */
  prefillChunk: number;
  ids: number[];
}

export interface DensePoint {
  position: number;
  /** ms per token, one entry per timed token. */
  denseOrt: number[];
  streaming: number[];
  dense: number[];
}

interface Stepper {
  name: 'denseOrt' | 'streaming' | 'dense';
  fed: number;
  feed(ids: number[]): Promise<unknown>;
}

/** Rows the dense baseline's cos/sin cache needs for a job. */
export function denseRows(job: DenseBenchJob): number {
  return job.positions[job.positions.length - 1] + (job.tokensPerPosition + 1) * 3 * job.positions.length;
}

export async function benchDense(job: DenseBenchJob, ortModel: Uint8Array, device: GPUDevice, streaming: ModelRunner, dense: ModelRunner): Promise<DensePoint[]> {
  const ort = await FullGraphSession.create(ortModel, [], device);
  const past = new Map();
  const token = (t: number) => job.ids[t % job.ids.length];
  const steppers: Stepper[] = [
    { name: 'denseOrt', fed: 0, feed: (ids) => ort.feed(ids, past) },
    { name: 'streaming', fed: 0, feed: (ids) => streaming.feed(ids) },
    { name: 'dense', fed: 0, feed: (ids) => dense.feed(ids) },
  ];
  const points: DensePoint[] = [];
  try {
    for (const position of job.positions) {
      for (const s of steppers) {
        while (s.fed < position) {
          const n = Math.min(job.prefillChunk, position - s.fed);
          await s.feed(Array.from({ length: n }, (_, i) => token(s.fed + i)));
          s.fed += n;
        }
      }
      const point: DensePoint = { position, denseOrt: [], streaming: [], dense: [] };
      for (let r = 0; r < job.tokensPerPosition; r++) {
        // Rotating the order keeps any one decoder from always running right after another.
        for (let j = 0; j < steppers.length; j++) {
          const s = steppers[(r + j) % steppers.length];
          const start = performance.now();
          await s.feed([token(s.fed)]);
          point[s.name].push(performance.now() - start);
          s.fed++;
        }
      }
      points.push(point);
    }
  } finally {
    for (const t of past.values()) t.dispose();
    await ort.release();
  }
  return points;
}
