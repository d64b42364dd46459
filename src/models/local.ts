// Models on this computer: a folder served over HTTP (the dev server's /@fs/ URLs, any static host)
// or files the user picked, read into the same ModelBlobs that the cache gives.

/// <reference lib="dom.asynciterable" />

import { EngineError } from '../protocol/errors.ts';
import type { ModelBlobs } from '../protocol/messages.ts';

/** `paths` relative to `baseUrl`, which names a folder (a trailing slash is added where missing). */
export async function openFolderUrl(baseUrl: string, paths: string[], signal?: AbortSignal): Promise<ModelBlobs> {
  const base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`, globalThis.location?.href);
  const files: Record<string, Blob> = {};
  for (const path of paths) {
    const url = new URL(path, base).href;
    let response: Response;
    try {
      response = await fetch(url, { signal });
    } catch (error) {
      if (signal?.aborted) throw new EngineError('ABORTED', 'Loading the model was cancelled.');
      throw new EngineError('DOWNLOAD_FAILED', `Could not read ${path} from ${base.href}; check that the server is running.`, String(error));
    }
    if (!response.ok) throw new EngineError('MODEL_NOT_FOUND', `The model folder ${base.href} has no ${path} (HTTP ${response.status}). Check the folder and the file names.`, url);
    files[path] = await response.blob();
  }
  return { id: base.href, files };
}

/** Files from `<input type="file" webkitdirectory>` (paths kept below the picked folder) or a plain multiple-file input. */
export function openPickedFiles(picked: FileList | File[]): ModelBlobs {
  const files: Record<string, Blob> = {};
  let folder: string | null = null;
  for (const file of Array.from(picked)) {
    const relative = file.webkitRelativePath;
    if (!relative) {
      files[file.name] = file;
      continue;
    }
    const slash = relative.indexOf('/');
    folder ??= relative.slice(0, slash);
    const path = relative.slice(slash + 1);
    if (!isHidden(path)) files[path] = file;
  }
  return { id: `local:${folder ?? 'picked files'}`, files };
}

/** A folder from showDirectoryPicker(), walked recursively. */
export async function openDirectoryHandle(dir: FileSystemDirectoryHandle): Promise<ModelBlobs> {
  const files: Record<string, Blob> = {};
  const walk = async (handle: FileSystemDirectoryHandle, prefix: string) => {
    for await (const [name, entry] of handle.entries()) {
      if (isHidden(name)) continue;
      if (entry.kind === 'file') files[prefix + name] = await (entry as FileSystemFileHandle).getFile();
      else await walk(entry as FileSystemDirectoryHandle, `${prefix}${name}/`);
    }
  };
  await walk(dir, '');
  return { id: `local:${dir.name}`, files };
}

/** A git clone of a hub repository keeps a second copy of every weight file under .git/. */
const isHidden = (path: string) => path.split('/').some((segment) => segment.startsWith('.'));
