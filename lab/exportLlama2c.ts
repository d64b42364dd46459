// Writes a llama2.c checkpoint and its tokenizer as a model folder the engine loads like a Hugging
// Face ONNX export: model.onnx (+ model.onnx_data, model.onnx_data_1, ...), config.json,
// generation_config.json, tokenizer.json and tokenizer_config.json. The test fixtures
// (lab/fixtures.ts) and the exporter command (tools/exportLlama2c.ts) both write folders with it.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readLlama2cCheckpoint, readLlama2cTokenizer } from '../src/engine/llama2c/llama2c.ts';
import { llama2cGenerationConfig, llama2cHfConfig } from '../src/engine/llama2c/onnxExport.ts';
import { llama2cTokenizerToHf } from '../src/engine/llama2c/tokenizerJson.ts';
import { exportLlama2cForm, type AttentionForm, type RotaryPlacement, type WeightFormat } from './onnxExportForms.ts';

export const EXTERNAL_DATA_FILE = 'model.onnx_data';

export interface ExportFolderOptions {
  attention?: AttentionForm;
  rotary?: RotaryPlacement;
  weights?: WeightFormat;
  qkNorm?: boolean;
  /** Weights in model.onnx_data instead of inside model.onnx. */
  externalData?: boolean;
  /** With externalData: files of at most this many bytes (model.onnx_data, model.onnx_data_1, ...). */
  chunkBytes?: number;
}

export async function exportLlama2cFolder(
  checkpointPath: string,
  tokenizerPath: string,
  outDir: string,
  options: ExportFolderOptions = {},
): Promise<void> {
  const weights = readLlama2cCheckpoint(new Uint8Array(await readFile(checkpointPath)));
  const tokenizer = readLlama2cTokenizer(new Uint8Array(await readFile(tokenizerPath)), weights.config.vocabSize);
  const onnx = exportLlama2cForm(weights, {
    attention: options.attention,
    rotary: options.rotary,
    weights: options.weights,
    qkNorm: options.qkNorm,
    externalData: options.externalData ? { location: EXTERNAL_DATA_FILE, chunkBytes: options.chunkBytes } : undefined,
  });
  const { tokenizerJson, tokenizerConfig } = llama2cTokenizerToHf(tokenizer, weights.config.seqLen);
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'model.onnx'), onnx.model);
  for (const file of onnx.externalFiles) await writeFile(join(outDir, file.location), file.bytes);
  await writeFile(join(outDir, 'config.json'), json(llama2cHfConfig(weights.config)));
  await writeFile(join(outDir, 'generation_config.json'), json(llama2cGenerationConfig()));
  await writeFile(join(outDir, 'tokenizer.json'), json(tokenizerJson));
  await writeFile(join(outDir, 'tokenizer_config.json'), json(tokenizerConfig));
}
