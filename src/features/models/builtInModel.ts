// The model that ships with the app: Karpathy's stories260K (1 MiB, MIT), served from public/ beside
// the page and cached by the service worker, so the app chats the moment it opens, offline too.

import { MODEL_CATALOG } from '../../models/catalog.ts';
import { EngineError } from '../../protocol/errors.ts';
import { fitModel } from './hubModels.ts';
import type { PickedModel } from './modelSource.ts';

export const BUILT_IN_ID = 'builtin:stories260K';
const FILES = ['stories260K.bin', 'tok512.bin'];
const entry = MODEL_CATALOG.find((e) => e.id === 'stories260k')!;

/** The catalog's stories260K: the same key, so settings and saved caches are shared with a hub download of it. */
const fitted = fitModel(entry, { hasShaderF16: false, maxBufferSize: Infinity, maxStorageBufferBindingSize: Infinity });
export const BUILT_IN_LABEL = entry.label;
/** The checkpoint and its tokenizer, tok512.bin (6,227 bytes). */
export const BUILT_IN_BYTES = entry.variants[0].downloadBytes + 6_227;

/** Relative to the app's base, so it works under GitHub Pages' /<repo>/ path too. */
const fileUrl = (name: string) => new URL(`${import.meta.env.BASE_URL}models/stories260K/${name}`, location.href).href;

/** Reads the two files (from the service worker's cache when offline) as Blobs for the engine. */
export async function builtInModel(): Promise<PickedModel> {
  const files: Record<string, Blob> = {};
  for (const name of FILES) {
    let response: Response;
    try {
      response = await fetch(fileUrl(name));
    } catch (e) {
      throw new EngineError('MODEL_NOT_FOUND', 'The built-in model could not be read: the app was opened offline before it was ever cached. Open the app once with a connection, then it works offline.', String(e));
    }
    if (!response.ok) throw new EngineError('MODEL_NOT_FOUND', `The built-in model is missing from this copy of the app (HTTP ${response.status} for ${name}). Reload the page; if it persists, pick a model from the list.`);
    files[name] = await response.blob();
  }
  return {
    choice: { key: fitted.key, label: BUILT_IN_LABEL, source: { kind: 'blobs', id: BUILT_IN_ID, files } },
    defaults: fitted.defaults,
    cache: fitted.cache,
  };
}
