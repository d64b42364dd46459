// Converts a llama2.c checkpoint and its tokenizer into a model folder the engine loads like a
// Hugging Face ONNX export: model.onnx (+ model.onnx_data, model.onnx_data_1, ...), config.json,
// generation_config.json, tokenizer.json and tokenizer_config.json.
//
//   npx tsx tools/exportLlama2c.ts <checkpoint.bin> <tokenizer.bin> <outDir>
//     [--attention gqa|unfused] [--rotary fused|separate] [--weights f32|q4] [--qk-norm]
//     [--external-data [--chunk-bytes N]]

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
  type AttentionForm,
  type RotaryPlacement,
  type WeightFormat,
} from '../src/engine/model/onnxExport.ts';
import { llama2cTokenizerToHf } from '../src/engine/model/tokenizerJson.ts';

export const EXTERNAL_DATA_FILE = 'model.onnx_data';

const USAGE =
  'usage: npx tsx tools/exportLlama2c.ts <checkpoint.bin> <tokenizer.bin> <outDir> [--attention gqa|unfused] ' +
  '[--rotary fused|separate] [--weights f32|q4] [--qk-norm] [--external-data [--chunk-bytes N]]';

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
  const onnx = exportLlama2cToOnnx(weights, {
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

/** Options from the command line; throws an Error whose message is the one-line reason they are wrong. */
function parseExportArgs(args: string[]): { positionals: string[]; options: ExportFolderOptions } {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      attention: { type: 'string', default: 'gqa' },
      rotary: { type: 'string', default: 'fused' },
      weights: { type: 'string', default: 'f32' },
      'qk-norm': { type: 'boolean', default: false },
      'external-data': { type: 'boolean', default: false },
      'chunk-bytes': { type: 'string' },
    },
  });
  const choice = <T extends string>(name: string, value: string, allowed: readonly T[]): T => {
    if (!(allowed as readonly string[]).includes(value)) throw new Error(`--${name} must be one of ${allowed.join(', ')}, got "${value}"`);
    return value as T;
  };
  const options: ExportFolderOptions = {
    attention: choice<AttentionForm>('attention', values.attention, ['gqa', 'unfused']),
    rotary: choice<RotaryPlacement>('rotary', values.rotary, ['fused', 'separate']),
    weights: choice<WeightFormat>('weights', values.weights, ['f32', 'q4']),
    qkNorm: values['qk-norm'],
    externalData: values['external-data'],
    chunkBytes: values['chunk-bytes'] === undefined ? undefined : Number(values['chunk-bytes']),
  };
  if (positionals.length !== 3) throw new Error('give a checkpoint, a tokenizer and an output folder');
  if (options.chunkBytes !== undefined && !(Number.isInteger(options.chunkBytes) && options.chunkBytes > 0)) {
    throw new Error('--chunk-bytes must be a positive integer');
  }
  if (options.chunkBytes !== undefined && !options.externalData) throw new Error('--chunk-bytes needs --external-data');
  if (options.attention === 'unfused' && options.rotary !== 'fused') throw new Error('--rotary applies to --attention gqa only');
  return { positionals, options };
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseExportArgs>;
  try {
    parsed = parseExportArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const [checkpoint, tokenizer, outDir] = parsed.positionals;
  try {
    await exportLlama2cFolder(checkpoint, tokenizer, outDir, parsed.options);
    console.log(`Wrote ${resolve(outDir)}`);
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
    console.error(`${error.code}: ${error.message}`);
    process.exit(1);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
