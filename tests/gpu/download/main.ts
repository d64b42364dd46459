// The download lab: runs the model sources of src/models in the browser for
// tests/gpu/download.test.ts, through window.downloadLab.

/// <reference lib="dom.asynciterable" />

import { toModelFiles } from '../../../src/engine/files/modelBlobs.ts';
import { deleteCachedModel, downloadModel, listCachedModels, openCachedModel, openDirectoryHandle, openFolderUrl, openPickedFiles } from '../../../src/models/index.ts';
import { EngineError } from '../../../src/protocol/errors.ts';
import type { ModelBlobs } from '../../../src/protocol/messages.ts';
import type { DownloadLab, DownloadOutcome, ModelFilesSummary, Result, TimedProgress } from './lab.ts';

const sha256 = async (bytes: Uint8Array<ArrayBuffer>) =>
  Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)), (b) => b.toString(16).padStart(2, '0')).join('');

async function summarize(blobs: ModelBlobs, onnxFile?: string): Promise<ModelFilesSummary> {
  const files = await toModelFiles(blobs, { onnxFile });
  return {
    modelSha256: await sha256(files.model as Uint8Array<ArrayBuffer>),
    modelBytes: files.model.length,
    externalData: await Promise.all(
      files.externalData.map(async (d) => ({ path: d.path, sha256: await sha256(d.data as Uint8Array<ArrayBuffer>), bytes: d.data.length })),
    ),
    config: files.config,
    tokenizerJsonSha256: await sha256(new TextEncoder().encode(JSON.stringify(files.tokenizerJson))),
    tokenizerConfig: files.tokenizerConfig,
    generationConfig: files.generationConfig,
  };
}

async function attempt<T>(task: () => Promise<T>): Promise<Result<T>> {
  try {
    return { value: await task(), error: null };
  } catch (error) {
    if (error instanceof EngineError) return { value: null, error: error.toJSON() };
    throw error;
  }
}

let running: { events: TimedProgress[]; done: Promise<DownloadOutcome> } | null = null;

function run(...[spec, options]: Parameters<DownloadLab['download']>): { events: TimedProgress[]; done: Promise<DownloadOutcome> } {
  const events: TimedProgress[] = [];
  const controller = new AbortController();
  const done = downloadModel(spec, {
    hubUrl: options.hubUrl,
    segmentBytes: options.segmentBytes,
    signal: controller.signal,
    onProgress(progress) {
      events.push({ ...progress, at: performance.now() });
      if (options.abortAtBytes !== undefined && progress.bytesDone >= options.abortAtBytes) controller.abort();
    },
  }).then(
    (model): DownloadOutcome => ({ model, error: null, events }),
    (error: unknown): DownloadOutcome => {
      if (error instanceof EngineError) return { model: null, error: error.toJSON(), events };
      throw error;
    },
  );
  return { events, done };
}

const picked = () => (document.querySelector('#folder') as HTMLInputElement).files!;

async function storedFiles(): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  const walk = async (dir: FileSystemDirectoryHandle, prefix: string) => {
    for await (const [name, handle] of dir.entries()) {
      if (handle.kind === 'file') out.push({ path: prefix + name, size: (await (handle as FileSystemFileHandle).getFile()).size });
      else await walk(handle as FileSystemDirectoryHandle, `${prefix}${name}/`);
    }
  };
  await walk(await (await navigator.storage.getDirectory()).getDirectoryHandle('models', { create: true }), '');
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

async function copyIntoOpfs(): Promise<FileSystemDirectoryHandle> {
  const root = await navigator.storage.getDirectory();
  await root.removeEntry('picked-copy', { recursive: true }).catch(() => undefined);
  const top = await root.getDirectoryHandle('picked-copy', { create: true });
  for (const file of Array.from(picked())) {
    const parts = file.webkitRelativePath.split('/').slice(1);
    let dir = top;
    for (const part of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(part, { create: true });
    const writable = await (await dir.getFileHandle(parts[parts.length - 1], { create: true })).createWritable();
    await writable.write(file);
    await writable.close();
  }
  return top;
}

window.downloadLab = {
  download: (spec, options) => run(spec, options).done,
  start(spec, options) {
    running = run(spec, options);
  },
  latest: () => running?.events.at(-1) ?? null,
  finish: () => running!.done,
  list: listCachedModels,
  remove: (id) => attempt(async () => (await deleteCachedModel(id), null)),
  open: (id, onnxFile) => attempt(async () => summarize(await openCachedModel(id), onnxFile)),
  openFolderUrl: (baseUrl, paths) => attempt(async () => summarize(await openFolderUrl(baseUrl, paths))),
  openPicked: () =>
    attempt(async () => {
      const blobs = openPickedFiles(picked());
      return { ...(await summarize(blobs)), id: blobs.id, paths: Object.keys(blobs.files).sort() };
    }),
  openPickedAsDirectory: () =>
    attempt(async () => {
      const blobs = await openDirectoryHandle(await copyIntoOpfs());
      return { ...(await summarize(blobs)), id: blobs.id, paths: Object.keys(blobs.files).sort() };
    }),
  storedFiles,
};
