// Converts a llama2.c checkpoint and its tokenizer into a model folder the engine loads like a
// Hugging Face ONNX export: model.onnx (+ model.onnx_data, model.onnx_data_1, ...), config.json,
// generation_config.json, tokenizer.json and tokenizer_config.json.
//
//   npx tsx tools/exportLlama2c.ts <checkpoint.bin> <tokenizer.bin> <outDir>
//     [--attention gqa|unfused] [--rotary fused|separate] [--weights f32|q4] [--qk-norm]
//     [--external-data [--chunk-bytes N]]

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EngineError } from '../src/protocol/errors.ts';
import { exportLlama2cFolder, type ExportFolderOptions } from '../lab/exportLlama2c.ts';
import type { AttentionForm, RotaryPlacement, WeightFormat } from '../lab/onnxExportForms.ts';

const USAGE =
  'usage: npx tsx tools/exportLlama2c.ts <checkpoint.bin> <tokenizer.bin> <outDir> [--attention gqa|unfused] ' +
  '[--rotary fused|separate] [--weights f32|q4] [--qk-norm] [--external-data [--chunk-bytes N]]';

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
