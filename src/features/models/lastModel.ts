// The model this browser used last, remembered in localStorage so a reload, a new tab or a take-over
// loads it again by itself: the built-in model, or a model kept in the model cache (a hub download
// or local files, which are copied into the cache when picked). Only references are kept; the bytes
// are read again from the app or the cache.

import { openCachedModel } from '../../models/index.ts';
import { KV_CACHE_DTYPE, STORY_KV_CACHE_DTYPE } from '../../protocol/cache.ts';
import type { ChatSettings, CacheShape } from '../settings/settings.ts';
import { BUILT_IN_ID, builtInModel } from './builtInModel.ts';
import type { PickedModel } from './modelSource.ts';

type ModelRef =
  | { kind: 'builtin' }
  | { kind: 'cached'; cacheId: string; key: string; label: string; onnxFile?: string; defaults: ChatSettings; cache: CacheShape };

const KEY = 'endless-chat:last-model';

export function rememberModel(model: PickedModel): void {
  const source = model.choice.source;
  let ref: ModelRef | null = null;
  if (source.kind === 'blobs' && source.id === BUILT_IN_ID) ref = { kind: 'builtin' };
  else if (model.cacheId && source.kind === 'blobs') {
    ref = { kind: 'cached', cacheId: model.cacheId, key: model.choice.key, label: model.choice.label, onnxFile: source.onnxFile, defaults: model.defaults, cache: model.cache };
  }
  try {
    if (ref) localStorage.setItem(KEY, JSON.stringify(ref));
  } catch {
    // Storage refused (private mode, quota): the model is simply not loaded by itself next time.
  }
}

export function forgetModel(cacheId?: string): void {
  const ref = rememberedRef();
  if (!cacheId || (ref?.kind === 'cached' && ref.cacheId === cacheId)) localStorage.removeItem(KEY);
}

/** The remembered model; one remembered before the cache had a choice of dtype gets the default of
 *  its kind of model (an ONNX file: a chat model, f16; none: a llama2.c story model, f32). */
export function rememberedRef(): ModelRef | null {
  try {
    const ref = JSON.parse(localStorage.getItem(KEY) ?? 'null') as ModelRef | null;
    if (ref?.kind === 'builtin') return ref;
    if (ref?.kind !== 'cached' || typeof ref.cacheId !== 'string') return null;
    const saved: Partial<ChatSettings> = ref.defaults;
    return { ...ref, defaults: { ...ref.defaults, cacheDtype: saved.cacheDtype ?? (ref.onnxFile ? KV_CACHE_DTYPE : STORY_KV_CACHE_DTYPE) } };
  } catch {
    return null;
  }
}

/** The remembered model with its files opened, or null when none is remembered. Rejects when its files are gone. */
export async function rememberedModel(): Promise<PickedModel | null> {
  const ref = rememberedRef();
  if (!ref) return null;
  if (ref.kind === 'builtin') return builtInModel();
  const { files } = await openCachedModel(ref.cacheId);
  return {
    choice: { key: ref.key, label: ref.label, source: { kind: 'blobs', id: ref.cacheId, files, onnxFile: ref.onnxFile } },
    defaults: ref.defaults,
    cache: ref.cache,
    cacheId: ref.cacheId,
  };
}

export const hasRememberedModel = (): boolean => rememberedRef() !== null;
