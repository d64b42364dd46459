// A model as the engine loads it: ONNX bytes (and external data), its Hugging Face config and its
// tokenizer files, whether they came from an ONNX folder or from a llama2.c checkpoint converted
// here in the browser by the project's exporter.

import { readLlama2cCheckpoint, readLlama2cTokenizer } from './llama2c.ts';
import { exportLlama2cToOnnx, llama2cGenerationConfig, llama2cHfConfig } from './onnxExport.ts';
import { llama2cTokenizerToHf } from './tokenizerJson.ts';

export interface RopeParameters {
  rope_theta?: number;
  rope_type?: string;
  type?: string;
  factor?: number;
  low_freq_factor?: number;
  high_freq_factor?: number;
  original_max_position_embeddings?: number;
  partial_rotary_factor?: number;
}

/** The fields of a Hugging Face config.json the engine reads. */
export interface HfConfig {
  hidden_size?: number;
  num_attention_heads?: number;
  head_dim?: number;
  rope_theta?: number;
  partial_rotary_factor?: number;
  /** transformers 4. */
  rope_scaling?: RopeParameters | null;
  /** transformers 5: theta and scaling in one object. */
  rope_parameters?: RopeParameters | null;
  num_key_value_heads?: number;
  num_hidden_layers?: number;
  vocab_size?: number;
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

/** onnxruntime-genai's genai_config.json, which its own exports carry instead of config.json. */
interface GenaiConfig {
  model?: {
    bos_token_id?: number;
    eos_token_id?: number | number[];
    vocab_size?: number;
    context_length?: number;
    decoder?: { head_size?: number; hidden_size?: number; num_attention_heads?: number; num_key_value_heads?: number; num_hidden_layers?: number };
  };
}

/** The config.json fields a genai_config.json states; RoPE then comes from the graph's own tables. */
export function hfConfigFromGenai(genai: GenaiConfig): HfConfig {
  const model = genai.model ?? {};
  const decoder = model.decoder ?? {};
  return {
    hidden_size: decoder.hidden_size,
    num_attention_heads: decoder.num_attention_heads,
    num_key_value_heads: decoder.num_key_value_heads,
    num_hidden_layers: decoder.num_hidden_layers,
    head_dim: decoder.head_size,
    vocab_size: model.vocab_size,
    max_position_embeddings: model.context_length,
    bos_token_id: model.bos_token_id,
    eos_token_id: model.eos_token_id,
  };
}
