// Turns what the user picked (a catalog model, or files from this computer) into the ModelChoice
// the engine loads. The seam for the hub download cache (engine/model/source): hubModel() is where
// a cached copy will be opened instead of the engine fetching the hub's URLs itself.

import { EngineError } from '../../protocol/errors.ts';
import type { ModelChoice } from '../../protocol/messages.ts';
import { STORY_MODEL_CACHE, STORY_MODEL_SETTINGS, type CacheShape, type ChatSettings } from '../settings/settings.ts';
import type { CatalogModel } from './catalog.ts';

/** A model ready to load, with the settings it starts with. */
export interface PickedModel {
  choice: ModelChoice;
  defaults: ChatSettings;
  cache: CacheShape;
  /** Files picked from this computer: they must be picked again after a reload. */
  local: boolean;
}

const HUB_URL = 'https://huggingface.co';

export function hubModel(model: CatalogModel): PickedModel {
  const { repo, revision, checkpoint, tokenizer } = model.hub;
  const resolve = (path: string) => `${HUB_URL}/${repo}/resolve/${revision}/${path}`;
  return {
    choice: { key: model.key, label: model.label, source: { kind: 'llama2c', checkpointUrl: resolve(checkpoint), tokenizerUrl: resolve(tokenizer) } },
    defaults: model.defaults,
    cache: model.cache,
    local: false,
  };
}

/** A llama2.c checkpoint and its tok*.bin tokenizer picked together. The engine reads them through
 *  blob: URLs, which stay valid for as long as this page is open. */
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
    choice: {
      key: `local:${checkpoint.name}:${checkpoint.size}`,
      label: checkpoint.name.replace(/\.bin$/, ''),
      source: { kind: 'llama2c', checkpointUrl: URL.createObjectURL(checkpoint), tokenizerUrl: URL.createObjectURL(tokenizer) },
    },
    defaults: STORY_MODEL_SETTINGS,
    cache: STORY_MODEL_CACHE,
    local: true,
  };
}
