// The attention kernel in headless Chromium (WebGPU through SwiftShader) against the float64
// reference of docs/architecture.md section 1, on fresh random inputs (set ATTENTION_SEED to replay
// a run), and the quick cases also on inputs that never change (FIXED_SEED), so every run checks a
// known set too.

import { describe, expect, it } from 'vitest';
import { useLabPage } from './labPage.ts';
import type { AttentionLab, CaseSpec, StreamSpec } from '../../lab/attention/attentionLab.ts';

const SEED = Number(process.env.ATTENTION_SEED ?? Math.floor(Math.random() * 2 ** 31));
const FIXED_SEED = 20_240_229;
const F32_TOLERANCE = 1e-5;
const F16_TOLERANCE = 2e-3;

const { call: lab } = useLabPage<AttentionLab>('lab/attention/index.html', 'attentionLab');

/** Chunk sizes summing to `total`, cycling through `sizes`. */
function chunks(total: number, sizes: number[]): number[] {
  const out: number[] = [];
  let fed = 0;
  for (let i = 0; fed < total; i++) {
    const n = Math.min(sizes[i % sizes.length], total - fed);
    out.push(n);
    fed += n;
  }
  return out;
}

const halfRope = (headDim: number) => ({ theta: 10000, rotaryDim: headDim, layout: 'half' as const });

function stream(overrides: Partial<StreamSpec>): StreamSpec {
  return {
    seed: SEED,
    nLayers: 1,
    nHeads: 4,
    nKvHeads: 2,
    headDim: 8,
    mode: 'streaming',
    nSinks: 4,
    windowSize: 16,
    maxChunk: 8,
    rope: halfRope(overrides.headDim ?? 8),
    ioDtype: 'f32',
    cacheDtype: 'f32',
    ...overrides,
  };
}

interface Case {
  name: string;
  spec: CaseSpec;
  /** Quick enough to run twice: also with FIXED_SEED. */
  fixedSeed?: true;
}

const cases: Case[] = [
  // Small heads, every group ratio, streams that wrap the ring many times.
  ...[1, 2, 4, 8].map((group): Case => ({
    name: `head dim 8, ${group} query heads per KV head, 4 sinks + window 16, ragged chunks, 300 tokens`,
    spec: { ...stream({ nHeads: 2 * group, nKvHeads: 2, maxChunk: 13 }), chunks: chunks(300, [1, 7, 13, 2, 1, 1, 5]) },
    ...(group === 1 && { fixedSeed: true }),
  })),
  {
    name: 'window mode (no sinks), window 1, one token at a time',
    spec: { ...stream({ mode: 'window', nSinks: 0, windowSize: 1, maxChunk: 1 }), chunks: chunks(40, [1]) },
    fixedSeed: true,
  },
  {
    name: 'one sink, window 1, chunks of 8 wrap a ring of 8 slots',
    spec: { ...stream({ nSinks: 1, windowSize: 1, maxChunk: 8 }), chunks: chunks(120, [8, 3, 8]) },
    fixedSeed: true,
  },
  {
    name: 'dense mode grows to its capacity without eviction',
    spec: { ...stream({ mode: 'dense', nSinks: 0, windowSize: 200, maxChunk: 32 }), chunks: chunks(200, [32, 1, 17]) },
    fixedSeed: true,
  },
  {
    name: 'head dim 64, interleaved RoPE (llama2.c), group 4, 4 sinks + window 100, chunk 64',
    spec: {
      ...stream({ nHeads: 8, nKvHeads: 2, headDim: 64, windowSize: 100, maxChunk: 64, rope: { theta: 10000, rotaryDim: 64, layout: 'interleaved' } }),
      chunks: chunks(700, [64, 1, 33]),
    },
  },
  {
    name: 'head dim 128, partial rotary dim 64, Llama-3 scaling, group 8, f32',
    spec: {
      ...stream({
        nHeads: 16, nKvHeads: 2, headDim: 128, windowSize: 60, maxChunk: 32,
        rope: { theta: 500000, rotaryDim: 64, layout: 'half', scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 } },
      }),
      chunks: chunks(400, [32, 1, 1, 9]),
    },
  },
  {
    name: 'head dim 128, multi-head (group 1), linear scaling, two layers, window 33',
    spec: {
      ...stream({ nLayers: 2, nHeads: 4, nKvHeads: 4, headDim: 128, windowSize: 33, maxChunk: 16, rope: { theta: 10000, rotaryDim: 128, layout: 'half', scaling: { type: 'linear', factor: 4 } } }),
      chunks: chunks(260, [16, 5, 1]),
    },
  },
  {
    name: 'prefill chunk of 512 over window 64, then decode past several wraps',
    spec: { ...stream({ nHeads: 8, nKvHeads: 4, headDim: 8, windowSize: 64, maxChunk: 512 }), chunks: [512, 512, ...chunks(200, [1, 3])] },
  },
  {
    name: 'window 1024 with 4 sinks, head dim 64, decode splits the window across workgroups',
    spec: { ...stream({ nHeads: 4, nKvHeads: 1, headDim: 64, windowSize: 1024, maxChunk: 256 }), chunks: [...chunks(2600, [256]), ...chunks(30, [1])], maxChecked: 120 },
  },
  {
    name: 'window 4096 with 1 sink, head dim 8, group 2, streams past the first wrap',
    spec: { ...stream({ nSinks: 1, nHeads: 4, nKvHeads: 2, headDim: 8, windowSize: 4096, maxChunk: 512 }), chunks: [...chunks(4700, [512]), ...chunks(40, [1, 2])], maxChecked: 120 },
  },
  // Packed f16: cache storage, inputs/outputs, and both.
  {
    name: 'f16 cache storage, f32 inputs, head dim 64, group 2',
    spec: { ...stream({ cacheDtype: 'f16', nHeads: 4, nKvHeads: 2, headDim: 64, windowSize: 50, maxChunk: 16 }), chunks: chunks(300, [16, 1, 7]) },
  },
  {
    name: 'f16 inputs and outputs, f32 cache, head dim 8, interleaved RoPE',
    spec: { ...stream({ ioDtype: 'f16', rope: { theta: 10000, rotaryDim: 8, layout: 'interleaved' }, maxChunk: 8 }), chunks: chunks(200, [8, 1, 3]) },
    fixedSeed: true,
  },
  {
    name: 'f16 everywhere, head dim 128, group 4, window 200, prefill 128',
    spec: { ...stream({ ioDtype: 'f16', cacheDtype: 'f16', nHeads: 8, nKvHeads: 2, headDim: 128, windowSize: 200, maxChunk: 128 }), chunks: [...chunks(640, [128]), ...chunks(20, [1])] },
  },
];

async function checkAgainstReference(spec: CaseSpec): Promise<void> {
  const result = await lab('runCase', spec);
  const tolerance = spec.cacheDtype === 'f16' || spec.ioDtype === 'f16' ? F16_TOLERANCE : F32_TOLERANCE;
  const where = result.worst
    ? `worst at layer ${result.worst.layer} token ${result.worst.t}: got ${result.worst.got.map((x) => x.toFixed(5))}, expected ${result.worst.expected.map((x) => x.toFixed(5))}`
    : '';
  expect(result.nonFinite, 'outputs left poisoned (NaN) or non-finite').toBe(0);
  expect(result.checked).toBeGreaterThan(0);
  expect(result.maxRelL2, `relative L2 error ${result.maxRelL2} over ${result.checked} tokens; ${where}`).toBeLessThan(tolerance);
}

describe(`attention kernel against the float64 reference (seed ${SEED})`, () => {
  for (const { name, spec } of cases) it(name, () => checkAgainstReference(spec));
});

describe(`attention kernel against the float64 reference, quick cases (fixed seed ${FIXED_SEED})`, () => {
  for (const { name, spec } of cases.filter((c) => c.fixedSeed)) it(name, () => checkAgainstReference({ ...spec, seed: FIXED_SEED }));
});

describe('chunked prefill equals feeding one token at a time', () => {
  it('streaming 4 + 24, head dim 64, group 2: chunks of 32 vs single tokens', async () => {
    const spec = stream({ nHeads: 4, nKvHeads: 2, headDim: 64, windowSize: 24, maxChunk: 32 });
    const result = await lab('compareSchedules', spec, chunks(160, [32]), chunks(160, [1]));
    expect(result.nonFinite).toBe(0);
    expect(result.maxRelL2).toBeLessThan(F32_TOLERANCE);
  });

  it('window mode 0 + 10, head dim 8, group 8: ragged chunks vs single tokens', async () => {
    const spec = stream({ mode: 'window', nSinks: 0, nHeads: 16, nKvHeads: 2, windowSize: 10, maxChunk: 20 });
    const result = await lab('compareSchedules', spec, chunks(150, [20, 3, 11]), chunks(150, [1]));
    expect(result.maxRelL2).toBeLessThan(F32_TOLERANCE);
  });
});

describe('cache operations', () => {
  it('a snapshot restored into a fresh cache continues the stream exactly', async () => {
    const spec = stream({ nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 16, windowSize: 20, maxChunk: 8, cacheDtype: 'f16' });
    const result = await lab('snapshotRoundTrip', spec, chunks(90, [8, 1]), chunks(40, [1, 5]));
    expect(result.maxAbsDiff).toBe(0);
    expect(result.snapshotBytes).toBeGreaterThan(2 * 2 * (4 + 27) * 2 * 16 * 2);
    expect(result.reference.maxRelL2).toBeLessThan(F16_TOLERANCE);
  });

  it('truncating to a checkpoint and regenerating matches a stream that never had the discarded tokens', async () => {
    const spec = stream({ nHeads: 4, nKvHeads: 2, headDim: 8, windowSize: 16, maxChunk: 8 });
    const result = await lab('truncateAndRegenerate', spec, chunks(100, [8]), [5, 1, 1], chunks(30, [1, 4]));
    expect(result.nonFinite).toBe(0);
    expect(result.maxRelL2).toBeLessThan(F32_TOLERANCE);
  });
});

describe('bad input is refused with a clear error before any GPU work', () => {
  const expected: Record<string, string> = {
    oddHeadDim: 'UNSUPPORTED_SHAPE',
    unevenGroups: 'UNSUPPORTED_SHAPE',
    rotaryDimTooLarge: 'UNSUPPORTED_SHAPE',
    chunkTooLarge: 'CHUNK_TOO_LARGE',
    denseOverflow: 'CACHE_FULL',
    cacheOverBindingLimit: 'DEVICE_LIMIT',
    tooFewStorageBuffers: 'DEVICE_LIMIT',
    headDimOverWorkgroupMemory: 'DEVICE_LIMIT',
    inputBufferTooSmall: 'CONFIG_INVALID',
    windowZero: 'CONFIG_INVALID',
  };
  for (const [name, code] of Object.entries(expected)) {
    it(`${name} is refused with ${code}`, async () => {
      expect(await lab('invalidSetup', name)).toBe(code);
    });
  }
});
