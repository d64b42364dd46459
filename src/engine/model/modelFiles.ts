// A model as the engine loads it: ONNX bytes (and external data), its Hugging Face config and its
// tokenizer files, whether they came from an ONNX folder or from a llama2.c checkpoint converted
// here in the browser by the project's exporter.

import { EngineError } from '../../protocol/errors.ts';
import type { RopeScaling } from '../kernels/rope.ts';
import type { RotaryConfig } from '../decoder/decoder.ts';
import { readLlama2cCheckpoint, readLlama2cTokenizer } from './llama2c.ts';
import { exportLlama2cToOnnx, llama2cGenerationConfig, llama2cHfConfig } from './onnxExport.ts';
import { llama2cTokenizerToHf } from './tokenizerJson.ts';

/** The fields of a Hugging Face config.json the engine reads. */
export interface HfConfig {
  hidden_size?: number;
  num_attention_heads?: number;
  head_dim?: number;
  rope_theta?: number;
  partial_rotary_factor?: number;
  rope_scaling?: { rope_type?: string; type?: string; factor?: number; low_freq_factor?: number; high_freq_factor?: number; original_max_position_embeddings?: number } | null;
  max_position_embeddings?: number;
  eos_token_id?: number | number[];
  bos_token_id?: number;
}

export interface ModelFiles {
  model: Uint8Array;
  externalData: { path: string; data: Uint8Array }[];
  config: HfConfig;
  tokenizerJson: unknown;
  tokenizerConfig: unknown;
  generationConfig: { eos_token_id?: number | number[]; bos_token_id?: number };
  /** chat_template.jinja, where a model ships its template as a file. */
  chatTemplateJinja?: string;
}

/** Converts a llama2.c checkpoint and tokenizer (karpathy/tinyllamas) into an ONNX decoder. */
export function modelFilesFromLlama2c(checkpoint: Uint8Array, tokenizerBin: Uint8Array): ModelFiles {
  const weights = readLlama2cCheckpoint(checkpoint);
  const tokenizer = readLlama2cTokenizer(tokenizerBin, weights.config.vocabSize);
  const { tokenizerJson, tokenizerConfig } = llama2cTokenizerToHf(tokenizer);
  return {
    model: exportLlama2cToOnnx(weights).model,
    externalData: [],
    config: llama2cHfConfig(weights.config) as HfConfig,
    tokenizerJson,
    tokenizerConfig,
    generationConfig: llama2cGenerationConfig() as ModelFiles['generationConfig'],
  };
}

/** RoPE settings from config.json, in the kernel's terms. */
export function rotaryFromConfig(config: HfConfig): RotaryConfig {
  const headDim = config.head_dim ?? (config.hidden_size && config.num_attention_heads ? config.hidden_size / config.num_attention_heads : undefined);
  if (!headDim) throw new EngineError('MODEL_CORRUPT', 'The model\'s config.json states neither head_dim nor hidden_size and num_attention_heads; download the model again.');
  const rotaryDim = Math.round(headDim * (config.partial_rotary_factor ?? 1));
  return { theta: config.rope_theta ?? 10000, rotaryDim, scaling: scalingFromConfig(config.rope_scaling) };
}

function scalingFromConfig(s: HfConfig['rope_scaling']): RopeScaling | undefined {
  if (!s) return undefined;
  const type = s.rope_type ?? s.type;
  if (type === 'default') return undefined;
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
