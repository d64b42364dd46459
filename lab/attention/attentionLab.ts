// What the kernel lab page (lab/attention) takes and returns; shared by the page, the GPU tests
// and the benchmark script.

import type { AttentionMode, CacheDtype } from '../../src/protocol/messages.ts';
import type { RingConfig } from '../../src/engine/kv/ringLayout.ts';
import type { IoDtype } from '../../src/engine/kernels/attention.ts';
import type { RopeConfig } from '../../src/engine/kernels/rope.ts';

export interface StreamSpec {
  seed: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  mode: AttentionMode;
  nSinks: number;
  windowSize: number;
  maxChunk: number;
  rope: RopeConfig;
  scale?: number;
  ioDtype: IoDtype;
  cacheDtype: CacheDtype;
}

export interface CaseSpec extends StreamSpec {
  /** Chunk sizes fed in order; their sum is the stream length. */
  chunks: number[];
  /** How many tokens to compare with the float64 reference (first, last and a seeded sample). */
  maxChecked?: number;
}

export interface Comparison {
  /** Tokens compared. */
  checked: number;
  /** Largest relative L2 error of one token's output [nHeads * headDim], over tokens and layers. */
  maxRelL2: number;
  worst: { layer: number; t: number; got: number[]; expected: number[] } | null;
  /** NaN or infinite output values anywhere in the stream (poisoned outputs that were never written). */
  nonFinite: number;
}

export interface CaseResult extends Comparison {
  tokens: number;
  ms: number;
}

export interface BenchSpec {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  nSinks: number;
  windows: number[];
  iterations: number;
}

export interface BenchRow {
  window: number;
  /** Median milliseconds per decode step of one layer. */
  splitMs: number;
  naiveMs: number;
  speedup: number;
  /** Relative L2 difference between the two kernels' outputs (they must agree). */
  agreement: number;
}

export interface AttentionLab {
  adapter(): Promise<{ description: string; architecture: string; vendor: string; hasShaderF16: boolean; limits: Record<string, number> }>;
  runCase(spec: CaseSpec): Promise<CaseResult>;
  /** Max relative L2 difference between the outputs of two chunk schedules of one stream. */
  compareSchedules(spec: StreamSpec, a: number[], b: number[]): Promise<{ maxRelL2: number; nonFinite: number }>;
  /** Snapshot after `before` chunks, restore into a fresh cache, feed `after`: both continuations must match exactly. */
  snapshotRoundTrip(spec: StreamSpec, before: number[], after: number[]): Promise<{ maxAbsDiff: number; snapshotBytes: number; reference: Comparison }>;
  /** Feed `before`, then `discarded`, truncate back, feed `after` with new tokens, compare with the reference. */
  truncateAndRegenerate(spec: StreamSpec, before: number[], discarded: number[], after: number[]): Promise<Comparison>;
  /** Runs a named invalid setup and returns the EngineError code it threw, or 'NO_ERROR'. */
  invalidSetup(name: string): Promise<string>;
  benchDecode(spec: BenchSpec): Promise<BenchRow[]>;
  /**
   * Runs kv_append (through StreamingAttention) with every V element of token t set to t + 1, one
   * step at a time (n > 0 appends a chunk of n, n < 0 truncates n tokens), and after each step
   * reads back which stream token each slot of the V cache holds (-1: never written).
   */
  slotMaps(config: RingConfig, steps: number[]): Promise<number[][]>;
}

declare global {
  interface Window {
    attentionLab?: AttentionLab;
  }
}
