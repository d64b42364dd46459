// The model's rotary embedding: read from config.json (transformers 4 `rope_theta`/`rope_scaling`
// or transformers 5 `rope_parameters`), checked against the cos/sin tables the graph itself
// carries, or fitted from those tables when no config states it. A wrong theta would run silently
// and badly, so config and graph must agree or the model is refused.

import { EngineError } from '../../protocol/errors.ts';
import { inverseFrequencies, type RopeScaling } from '../kernels/rope.ts';
import type { HfConfig, RopeParameters } from '../../models/hfConfig.ts';
import type { RotaryTables, SplitDecoder } from './split/splitDecoder.ts';

/** What the kernel needs from the model's config.json beyond what the graph states. */
export interface RotaryConfig {
  theta: number;
  /** Dims per head the model rotates (head_dim * partial_rotary_factor in Hugging Face configs). */
  rotaryDim: number;
  scaling?: RopeScaling;
}

/**
 * Largest |cos - cos'| or |sin - sin'| accepted between the graph's tables and the config's RoPE.
 * Exporters compute t * inv_freq in float32 (an angle error near 1e-3 at position 16K) and may
 * store fp16 (5e-4); any other theta or scaling differs by far more within a few hundred positions.
 */
const TABLE_TOLERANCE = 1e-2;
/** RoPE base transformers assumes when a Llama-style config states none. */
const DEFAULT_THETA = 10000;

/** RoPE of the model: config.json's, checked against the graph's tables where it has them. */
export function modelRotary(config: HfConfig, split: SplitDecoder): RotaryConfig {
  const site = split.sites[0];
  const tables = split.rotaryTables;
  const stated = statedRope(config);
  const graphRotaryDim = 2 * (site?.rotaryPairs ?? 0);
  const headDim = config.head_dim ?? (config.hidden_size && config.num_attention_heads ? config.hidden_size / config.num_attention_heads : undefined);
  if (!headDim) throw new EngineError('MODEL_CORRUPT', "The model's config.json states neither head_dim nor hidden_size and num_attention_heads; download the model again.");
  const rotaryDim = Math.round(headDim * (stated.partialRotaryFactor ?? config.partial_rotary_factor ?? 1));

  if (stated.theta === undefined && tables) {
    const rotary = { theta: fitTheta(tables, rotaryDim), rotaryDim, scaling: stated.scaling };
    const mismatch = tableMismatch(rotary, tables, graphRotaryDim);
    if (mismatch) {
      throw new EngineError(
        'MODEL_UNSUPPORTED',
        `The model's config states no RoPE base (rope_theta), and its graph's rotary tables follow no standard RoPE (${mismatch}); ` +
          'add a config.json with rope_theta and rope_scaling, or choose another export.',
      );
    }
    return rotary;
  }
  const rotary = { theta: stated.theta ?? DEFAULT_THETA, rotaryDim, scaling: stated.scaling };
  const mismatch = tables ? tableMismatch(rotary, tables, graphRotaryDim) : undefined;
  if (mismatch) {
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      `The model's config.json and its ONNX graph disagree on the rotary embedding (config: theta ${rotary.theta}` +
        `${rotary.scaling ? `, ${rotary.scaling.type} scaling` : ''}; ${mismatch}). Running it would give wrong answers: ` +
        'the config may belong to another model; download the model again or choose another export.',
    );
  }
  return rotary;
}

/** theta and scaling as config.json states them, in either transformers' spelling. */
function statedRope(config: HfConfig): { theta?: number; scaling?: RopeScaling; partialRotaryFactor?: number } {
  const parameters = config.rope_parameters ?? undefined;
  const theta = config.rope_theta ?? parameters?.rope_theta;
  const scaling = scalingFrom(config.rope_scaling ?? parameters);
  return { theta, scaling, partialRotaryFactor: parameters?.partial_rotary_factor };
}

function scalingFrom(s: RopeParameters | undefined | null): RopeScaling | undefined {
  if (!s) return undefined;
  const type = s.rope_type ?? s.type;
  if (type === undefined || type === 'default') return undefined;
  if (type === 'linear' && s.factor) return { type: 'linear', factor: s.factor };
  if (type === 'llama3' && s.factor && s.low_freq_factor && s.high_freq_factor && s.original_max_position_embeddings) {
    return {
      type: 'llama3',
      factor: s.factor,
      lowFreqFactor: s.low_freq_factor,
      highFreqFactor: s.high_freq_factor,
      originalMaxPositionEmbeddings: s.original_max_position_embeddings,
    };
  }
  throw new EngineError('MODEL_UNSUPPORTED', `This model uses "${type}" RoPE scaling, which the attention kernel does not implement yet.`);
}

/**
 * A pair's frequency from its table column: the angle at row 1, refined at rows 2, 4, 8, ...
 * where each step's estimate predicts the next angle well enough to unwrap it.
 */
export function tableFrequency(tables: RotaryTables, pair: number): number {
  const angle = (row: number) => Math.atan2(tables.sin[row * tables.pairs + pair], tables.cos[row * tables.pairs + pair]);
  let frequency = angle(1);
  for (let row = 2; row < tables.rows; row *= 2) {
    const turns = Math.round((row * frequency - angle(row)) / (2 * Math.PI));
    frequency = (angle(row) + 2 * Math.PI * turns) / row;
  }
  return frequency;
}

/** theta = f1^(-rotaryDim / 2), from pair 1's frequency f1 = theta^(-2 / rotaryDim). */
function fitTheta(tables: RotaryTables, rotaryDim: number): number {
  if (tables.pairs < 2 || rotaryDim < 4) throw new EngineError('MODEL_UNSUPPORTED', 'The model rotates too few dims to read its RoPE base from the graph; add a config.json with rope_theta.');
  return tableFrequency(tables, 1) ** (-rotaryDim / 2);
}

/** Where the config's RoPE and the graph's tables differ beyond rounding, in words; undefined if they agree. */
function tableMismatch(rotary: RotaryConfig, tables: RotaryTables, graphRotaryDim: number): string | undefined {
  const invFreq = inverseFrequencies({ theta: rotary.theta, rotaryDim: graphRotaryDim, layout: 'half', scaling: rotary.scaling, frequencyDim: Math.min(rotary.rotaryDim, graphRotaryDim) });
  // Pairs a padded export never rotates hold whatever it wrote: only the model's pairs count.
  const pairs = Math.min(tables.pairs, rotary.rotaryDim / 2);
  let worst = { diff: 0, row: 0, pair: 0 };
  for (let row = 0; row < tables.rows; row++) {
    for (let pair = 0; pair < pairs; pair++) {
      const at = row * tables.pairs + pair;
      const angle = row * invFreq[pair];
      const diff = Math.max(Math.abs(tables.cos[at] - Math.cos(angle)), Math.abs(tables.sin[at] - Math.sin(angle)));
      if (diff > worst.diff) worst = { diff, row, pair };
    }
  }
  if (worst.diff <= TABLE_TOLERANCE) return undefined;
  const graphFrequency = tableFrequency(tables, worst.pair);
  return `at position ${worst.row}, pair ${worst.pair} rotates by frequency ${graphFrequency.toPrecision(6)} in the graph but ${invFreq[worst.pair].toPrecision(6)} by the config`;
}
