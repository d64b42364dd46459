// Converts a llama2.c checkpoint and its tokenizer into a model folder the engine loads like a
// Hugging Face ONNX export: model.onnx (+ model.onnx_data), config.json, generation_config.json,
// tokenizer.json and tokenizer_config.json.
//
//   npx tsx tools/exportLlama2c.ts <checkpoint.bin> <tokenizer.bin> <outDir> [--rotary fused|separate] [--external-data]

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EngineError } from '../src/protocol/errors.ts';
import { readLlama2cCheckpoint, readLlama2cTokenizer } from '../src/engine/model/llama2c.ts';
import {
  exportLlama2cToOnnx,
  llama2cGenerationConfig,
  llama2cHfConfig,
  type RotaryPlacement,
} from '../src/engine/model/onnxExport.ts';
import { llama2cTokenizerToHf } from '../src/engine/model/tokenizerJson.ts';

export const EXTERNAL_DATA_FILE = 'model.onnx_data';

export interface ExportFolderOptions {
  rotary?: RotaryPlacement;
  /** Weights in model.onnx_data instead of inside model.onnx. */
  externalData?: boolean;
}

export async function exportLlama2cFolder(
  checkpointPath: string,
  tokenizerPath: string,
  outDir: string,
  options: ExportFolderOptions = {},
): Promise<void> {
  const weights = readLlama2cCheckpoint(new Uint8Array(await readFile(checkpointPath)));
  const tokenizer = readLlama2cTokenizer(new Uint8Array(await readFile(tokenizerPath)), weights.config.vocabSize);
  const onnx = exportLlama2cToOnnx(weights, {
    rotary: options.rotary,
    externalData: options.externalData ? { location: EXTERNAL_DATA_FILE } : undefined,
  });
  const { tokenizerJson, tokenizerConfig } = llama2cTokenizerToHf(tokenizer, weights.config.seqLen);
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'model.onnx'), onnx.model);
  if (onnx.externalData) await writeFile(join(outDir, onnx.externalData.location), onnx.externalData.bytes);
  await writeFile(join(outDir, 'config.json'), json(llama2cHfConfig(weights.config)));
  await writeFile(join(outDir, 'generation_config.json'), json(llama2cGenerationConfig()));
  await writeFile(join(outDir, 'tokenizer.json'), json(tokenizerJson));
  await writeFile(join(outDir, 'tokenizer_config.json'), json(tokenizerConfig));
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rotary: { type: 'string', default: 'fused' },
      'external-data': { type: 'boolean', default: false },
    },
  });
  const [checkpoint, tokenizer, outDir] = positionals;
  if (positionals.length !== 3 || (values.rotary !== 'fused' && values.rotary !== 'separate')) {
    console.error(
      'usage: npx tsx tools/exportLlama2c.ts <checkpoint.bin> <tokenizer.bin> <outDir> [--rotary fused|separate] [--external-data]',
    );
    process.exit(2);
  }
  try {
    await exportLlama2cFolder(checkpoint, tokenizer, outDir, { rotary: values.rotary, externalData: values['external-data'] });
    console.log(`Wrote ${resolve(outDir)}`);
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
    console.error(`${error.code}: ${error.message}`);
    process.exit(1);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
