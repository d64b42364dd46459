// Bad model input met while loading, through ModelRunner.load with a stand-in GPU context: every file
// below is refused with a typed error and a sentence before any GPU work starts. (Attention that
// cannot be found is refused in splitGraph.test.ts, a template that throws in chatTemplate.test.ts,
// a truncated checkpoint or tokenizer.bin by its reader in export.test.ts, an operator onnxruntime
// lacks in tests/gpu/faults.test.ts, since only onnxruntime on the GPU can tell.)

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ModelRunner } from '../../src/engine/modelRunner.ts';
import type { GpuContext } from '../../src/engine/gpu/device.ts';
import { modelFilesFromLlama2c, type ModelFiles } from '../../src/engine/files/modelFiles.ts';
import { EngineError } from '../../src/protocol/errors.ts';
import { STORIES260K_CHECKPOINT, STORIES260K_TOKENIZER } from '../../lab/fixtures.ts';

const checkpoint = new Uint8Array(readFileSync(STORIES260K_CHECKPOINT));
const tokenizerBin = new Uint8Array(readFileSync(STORIES260K_TOKENIZER));
const good = modelFilesFromLlama2c(checkpoint, tokenizerBin);
const cache = { mode: 'streaming' as const, nSinks: 4, windowSize: 64, maxChunk: 16, dtype: 'f32' as const };

/** A GPU context whose device only answers its limits: every file here must fail before using it. */
function standInGpu(limit = 256 * 2 ** 20): GpuContext {
  const device = { limits: { maxBufferSize: limit, maxStorageBufferBindingSize: limit } } as unknown as GPUDevice;
  return { device, adapterInfo: { vendor: '', architecture: '', description: '' }, hasShaderF16: false };
}

async function loadError(files: ModelFiles, gpu = standInGpu()): Promise<EngineError> {
  try {
    await ModelRunner.load(files, cache, gpu);
  } catch (e) {
    if (e instanceof EngineError) return e;
    throw e;
  }
  throw new Error('the model loaded');
}

describe('loading bad model files', () => {
  it('refuses a truncated ONNX file with MODEL_CORRUPT', async () => {
    const error = await loadError({ ...good, model: good.model.subarray(0, Math.floor(good.model.byteLength / 2)) });
    expect(error.code).toBe('MODEL_CORRUPT');
    expect(error.message).toMatch(/download it again/);
  });

  it('refuses an ONNX file overwritten with noise with MODEL_CORRUPT', async () => {
    const noisy = new Uint8Array(good.model); // a copy: the exporter hands out a Node Buffer, whose slice() is a view
    for (let i = 64; i < noisy.byteLength; i += 7) noisy[i] = (i * 131) & 0xff;
    const error = await loadError({ ...good, model: noisy });
    expect(error.code).toBe('MODEL_CORRUPT');
  });

  it('refuses a truncated llama2.c checkpoint with MODEL_CORRUPT when converting it', () => {
    expect(() => modelFilesFromLlama2c(checkpoint.subarray(0, checkpoint.byteLength - 100), tokenizerBin)).toThrow(
      expect.objectContaining({ code: 'MODEL_CORRUPT' }),
    );
  });

  it('refuses a missing tokenizer.json with MODEL_CORRUPT', async () => {
    const error = await loadError({ ...good, tokenizerJson: {} });
    expect(error.code).toBe('MODEL_CORRUPT');
    expect(error.message).toBe("The model's tokenizer.json could not be read; download the model again.");
  });

  it('refuses the tokenizer.json of a model with a larger vocabulary, naming both sizes', async () => {
    const json = structuredClone(good.tokenizerJson) as { model: { vocab: Record<string, number> } };
    for (let id = 512; id < 32000; id++) json.model.vocab[`<extra_${id}>`] = id;
    const error = await loadError({ ...good, tokenizerJson: json });
    expect(error.code).toBe('MODEL_CORRUPT');
    expect(error.message).toMatch(/^The tokenizer.json has 32000 tokens but the model only 512: it belongs to another model\./);
  });

  it('refuses a missing config.json with MODEL_CORRUPT', async () => {
    const error = await loadError({ ...good, config: {} as ModelFiles['config'] });
    expect(error.code).toBe('MODEL_CORRUPT');
    expect(error.message).toMatch(/config\.json states neither head_dim nor hidden_size/);
  });

  it('refuses a weight larger than one GPU buffer with DEVICE_LIMIT before onnxruntime sees it', async () => {
    // The embedding is 512 x 64 f32 = 128 KiB.
    const error = await loadError(good, standInGpu(64 * 1024));
    expect(error.code).toBe('DEVICE_LIMIT');
    expect(error.message).toMatch(/^The model's weight ".+" takes 128 KiB, but this GPU holds at most 64 KiB in one buffer\. Choose a smaller/);
  });
});
