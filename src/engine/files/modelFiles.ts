// A model as the engine loads it: ONNX bytes (and external data), its Hugging Face config and its
// tokenizer files, whether they came from an ONNX folder or from a llama2.c checkpoint converted
// here in the browser by the project's exporter.

import { readLlama2cCheckpoint, readLlama2cTokenizer } from '../llama2c/llama2c.ts';
import { exportLlama2cToOnnx, llama2cGenerationConfig, llama2cHfConfig } from '../llama2c/onnxExport.ts';
import { llama2cTokenizerToHf } from '../llama2c/tokenizerJson.ts';
import type { HfConfig } from '../../models/hfConfig.ts';

export interface ModelFiles {
  model: Uint8Array;
  externalData: { path: string; data: Uint8Array }[];
  config: HfConfig;
  tokenizerJson: unknown;
  tokenizerConfig: unknown;
  generationConfig: { eos_token_id?: number | number[]; stop_strings?: string | string[] };
  /** chat_template.jinja, where a model ships its template as a file. */
  chatTemplateJinja?: string;
}

/** Converts a llama2.c checkpoint and tokenizer (karpathy/tinyllamas) into an ONNX decoder. */
export function modelFilesFromLlama2c(checkpoint: Uint8Array, tokenizerBin: Uint8Array): ModelFiles {
  const weights = readLlama2cCheckpoint(checkpoint);
  const tokenizer = readLlama2cTokenizer(tokenizerBin, weights.config.vocabSize);
  const { tokenizerJson, tokenizerConfig } = llama2cTokenizerToHf(tokenizer);
  return {
    model: exportLlama2cToOnnx(weights),
    externalData: [],
    config: llama2cHfConfig(weights.config) as HfConfig,
    tokenizerJson,
    tokenizerConfig,
    generationConfig: llama2cGenerationConfig() as ModelFiles['generationConfig'],
  };
}
