// Turns what the user picked (a catalog model, or files from this computer) into the ModelChoice
// the engine loads. Catalog models go through the model cache (engine/model/source): downloaded
// from the hub once, with progress and resume, then opened from the browser's storage, offline too.

import { deleteCachedModel, downloadModel, listCachedModels, openCachedModel, type HubModelSpec } from '../../engine/model/source/index.ts';
import { EngineError } from '../../protocol/errors.ts';
import type { ModelChoice } from '../../protocol/messages.ts';
import { STORY_MODEL_CACHE, STORY_MODEL_SETTINGS, type CacheShape, type ChatSettings } from '../settings/settings.ts';
import type { CatalogModel } from './catalog.ts';

/** A model ready to load, with the settings it starts with. */
export interface PickedModel {
  choice: ModelChoice;
  defaults: ChatSettings;
  cache: CacheShape;
}

/** The hub, or a stand-in for it that a build names (the end-to-end tests run one on localhost). */
const HUB_URL: string = import.meta.env.VITE_HUB_URL ?? 'https://huggingface.co';

const specOf = (model: CatalogModel): HubModelSpec => ({
  repo: model.hub.repo,
  revision: model.hub.revision,
  files: [model.hub.checkpoint, model.hub.tokenizer],
  id: model.key,
});

/** The engine reads the cached Blobs through blob: URLs, which stay valid while this page is open. */
function llama2cChoice(key: string, label: string, checkpoint: Blob, tokenizer: Blob): ModelChoice {
  return { key, label, source: { kind: 'llama2c', checkpointUrl: URL.createObjectURL(checkpoint), tokenizerUrl: URL.createObjectURL(tokenizer) } };
}

/** Downloads a catalog model (or finds it already downloaded) and opens it from the cache. */
export async function hubModel(model: CatalogModel, onProgress: (done: number, total: number) => void): Promise<PickedModel> {
  await downloadModel(specOf(model), { hubUrl: HUB_URL, onProgress: (p) => onProgress(p.bytesDone, p.bytesTotal) });
  const { files } = await openCachedModel(model.key);
  return { choice: llama2cChoice(model.key, model.label, files[model.hub.checkpoint], files[model.hub.tokenizer]), defaults: model.defaults, cache: model.cache };
}

/** Keys of the catalog models downloaded completely. */
export async function downloadedModels(): Promise<Set<string>> {
  const cached = await listCachedModels().catch(() => []);
  return new Set(cached.filter((m) => m.complete).map((m) => m.id));
}

export const deleteDownload = (model: CatalogModel): Promise<void> => deleteCachedModel(model.key);

/** A llama2.c checkpoint and its tok*.bin tokenizer picked together. */
export function localModel(files: File[]): PickedModel {
  if (files.some((f) => f.name.endsWith('.onnx'))) {
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      'ONNX folders cannot be opened from this computer yet (the engine reads ONNX models from a web address only). Pick a llama2.c checkpoint and its tok*.bin tokenizer instead.',
    );
  }
  const bins = files.filter((f) => f.name.endsWith('.bin'));
  const tokenizers = bins.filter((f) => /^tok.*\.bin$/.test(f.name));
  const checkpoints = bins.filter((f) => !tokenizers.includes(f));
  if (tokenizers.length !== 1 || checkpoints.length !== 1) {
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      'Pick two files together: a llama2.c checkpoint (such as stories260K.bin) and its tokenizer, whose name starts with "tok" (such as tok512.bin).',
      `picked: ${files.map((f) => f.name).join(', ')}`,
    );
  }
  const [checkpoint] = checkpoints;
  const [tokenizer] = tokenizers;
  return {
    choice: llama2cChoice(`local:${checkpoint.name}:${checkpoint.size}`, checkpoint.name.replace(/\.bin$/, ''), checkpoint, tokenizer),
    defaults: STORY_MODEL_SETTINGS,
    cache: STORY_MODEL_CACHE,
  };
}
