// Test fixtures built on demand from the app's built-in stories260K (public/models/stories260K),
// exported into .cache/fixtures
// in every ONNX structure the engine accepts, rebuilt whenever the checkpoint or the exporter is
// newer than the folder. Safe to call from several test workers at once: each builds in its own
// temporary folder and renames it into place.

import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportLlama2cFolder, type ExportFolderOptions } from './exportLlama2c.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The app's built-in model, which the tests read too: the repository needs nothing beside it. */
export const STORIES260K_DIR = resolve(REPO_ROOT, 'public/models/stories260K');
export const STORIES260K_CHECKPOINT = join(STORIES260K_DIR, 'stories260K.bin');
export const STORIES260K_TOKENIZER = join(STORIES260K_DIR, 'tok512.bin');

/** Small enough that stories260K's ~1.3 MB of weights span four external data files. */
export const FIXTURE_CHUNK_BYTES = 384 * 1024;

/** The structures, by folder suffix: the hub's decoder forms, each exported from stories260K. */
export const FIXTURE_STRUCTURES = {
  /** Builder form, GroupQueryAttention with do_rotary, weights embedded. */
  fused: { rotary: 'fused' },
  /** Builder form, RotaryEmbedding nodes before GroupQueryAttention. */
  separate: { rotary: 'separate' },
  /** Builder form with every projection and lm_head as MatMulNBits (4 bits, blocks of 32). */
  q4: { weights: 'q4' },
  /** Builder form, weights in model.onnx_data, model.onnx_data_1, ... */
  chunked: { externalData: true, chunkBytes: FIXTURE_CHUNK_BYTES },
  /** Builder form with Qwen3's per-head q/k RMSNorm (a different model: unit norm weights). */
  'qk-norm': { qkNorm: true },
  /** optimum/TorchScript form: MatMul/Softmax attention, RoPE in Mul/Slice/Neg/Concat. */
  unfused: { attention: 'unfused' },
  /** The unfused form with chunked external data. */
  'unfused-chunked': { attention: 'unfused', externalData: true, chunkBytes: FIXTURE_CHUNK_BYTES },
  /** The unfused form with Qwen3's per-head q/k norm (the same model as 'qk-norm'). */
  'unfused-qk-norm': { attention: 'unfused', qkNorm: true },
} as const satisfies Record<string, ExportFolderOptions>;

export type FixtureStructure = keyof typeof FIXTURE_STRUCTURES;

const FIXTURE_FILES = ['model.onnx', 'config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json'];
const INPUTS = [
  STORIES260K_CHECKPOINT,
  STORIES260K_TOKENIZER,
  ...['src/engine/llama2c/llama2c.ts', 'src/engine/llama2c/onnxGraph.ts', 'src/engine/llama2c/onnxExport.ts', 'src/engine/llama2c/tokenizerJson.ts'],
  ...['lab/onnxExportForms.ts', 'lab/exportLlama2c.ts', 'lab/fixtures.ts'],
].map((path) => resolve(REPO_ROOT, path));

/** Absolute path of `.cache/fixtures/stories260K-<structure>/`, exported if missing or stale. */
export async function ensureStories260kFixture(structure: FixtureStructure = 'fused'): Promise<string> {
  const dir = join(REPO_ROOT, '.cache', 'fixtures', `stories260K-${structure}`);
  const newestInput = Math.max(...(await Promise.all(INPUTS.map(async (path) => (await stat(path)).mtimeMs))));
  if (await isFresh(dir, newestInput)) return dir;

  const tmp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await mkdir(tmp, { recursive: true });
  try {
    await exportLlama2cFolder(STORIES260K_CHECKPOINT, STORIES260K_TOKENIZER, tmp, FIXTURE_STRUCTURES[structure]);
    if (!(await isFresh(dir, newestInput))) {
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
    }
  } catch (error) {
    // Another worker may have renamed its copy into place first; theirs is as good as ours.
    if (!(await isFresh(dir, newestInput))) throw error;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return dir;
}

async function isFresh(dir: string, newestInput: number): Promise<boolean> {
  try {
    const times = await Promise.all(FIXTURE_FILES.map(async (file) => (await stat(join(dir, file))).mtimeMs));
    return Math.min(...times) >= newestInput;
  } catch {
    return false;
  }
}
