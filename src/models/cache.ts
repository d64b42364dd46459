// The model cache's public surface: download a hub model (checking storage first, resuming what an
// earlier attempt left), list cached and partial models, open one as bytes, delete one.

import { EngineError } from '../protocol/errors.ts';
import { formatBytes } from '../protocol/format.ts';
import { cancelled, transferFile } from './download.ts';
import { DEFAULT_HUB_URL, hubModelId, resolveHubModel, type HubModelSpec } from './hub.ts';
import type { ModelBlobs } from '../protocol/messages.ts';
import { RateMeter, type DownloadProgress } from './progress.ts';
import { openStore, type CachedModel, type ModelStore } from './store.ts';

export type { CachedModel } from './store.ts';

export interface DownloadOptions {
  /** The hub's address; tests point it at a local server. */
  hubUrl?: string;
  signal?: AbortSignal;
  onProgress?(progress: DownloadProgress): void;
  /** At most this much of a file is lost when the page goes away mid-download: bytes are committed in segments of this size. */
  segmentBytes?: number;
}

export interface CachedModelSummary {
  id: string;
  repo: string;
  revision: string;
  /** False for a download that stopped before every file verified: downloadModel resumes it, deleteCachedModel removes it. */
  complete: boolean;
  totalBytes: number;
  /** Bytes on disk now, verified or partial. */
  storedBytes: number;
}

export interface StorageStatus {
  usage: number | null;
  quota: number | null;
  persisted: boolean;
}

const DEFAULT_SEGMENT_BYTES = 16 << 20;
/** Room kept free beyond the files themselves: the open segment's swap file, the JSON sidecars, and other data of this site. */
const STORAGE_MARGIN_BYTES = 64 << 20;
const PROGRESS_INTERVAL_MS = 100;

const lockName = (id: string) => `endless-chat:model:${id}`;

/**
 * Downloads a hub model into the cache and returns its manifest; a model already cached is returned
 * without touching the network. Refuses before downloading when storage is short, and resumes the
 * partial files of an earlier attempt (a reload, a broken connection, a cancel).
 */
export async function downloadModel(spec: HubModelSpec, options: DownloadOptions = {}): Promise<CachedModel> {
  const id = hubModelId(spec);
  const store = await openStore();
  return withModelLock(id, async () => {
    try {
      const cached = await (await store.model(id))?.manifest();
      if (cached) return cached;
      return await download(id, spec, store, options);
    } catch (error) {
      throw asEngineError(error, id, options.signal);
    }
  });
}

async function download(id: string, spec: HubModelSpec, store: ModelStore, options: DownloadOptions): Promise<CachedModel> {
  const { signal, onProgress } = options;
  const remote = await resolveHubModel(spec, options.hubUrl ?? DEFAULT_HUB_URL, signal);
  const progress: DownloadProgress = {
    modelId: id,
    bytesDone: 0,
    bytesTotal: remote.files.reduce((sum, f) => sum + f.size, 0),
    bytesResumed: 0,
    bytesPerSecond: null,
    secondsLeft: null,
    persisted: false,
    files: remote.files.map((f) => ({ path: f.path, bytesDone: 0, bytesTotal: f.size, state: 'queued' })),
  };
  // What earlier attempts left, read without writing anything: a refusal below must leave no trace.
  const earlier = await store.model(id);
  if (earlier) {
    for (const [i, file] of remote.files.entries()) {
      const state = progress.files[i];
      if (await earlier.isVerified(file)) {
        state.bytesDone = file.size;
        state.state = 'done';
      } else {
        state.bytesDone = await earlier.partialBytes(file);
      }
    }
  }
  progress.bytesResumed = progress.bytesDone = progress.files.reduce((sum, f) => sum + f.bytesDone, 0);
  await checkRoom(id, progress.bytesTotal - progress.bytesDone);
  progress.persisted = await requestPersistence();
  const folder = earlier ?? (await store.model(id, true))!;
  await folder.writeDownload(remote);

  const meter = new RateMeter(performance.now());
  let lastReport = -Infinity;
  const report = (force: boolean) => {
    const now = performance.now();
    if (!onProgress || (!force && now - lastReport < PROGRESS_INTERVAL_MS)) return;
    lastReport = now;
    progress.bytesDone = progress.files.reduce((sum, f) => sum + f.bytesDone, 0);
    progress.bytesPerSecond = meter.bytesPerSecond;
    progress.secondsLeft = meter.bytesPerSecond ? (progress.bytesTotal - progress.bytesDone) / meter.bytesPerSecond : null;
    onProgress(structuredClone(progress));
  };
  report(true);

  for (const [i, file] of remote.files.entries()) {
    const state = progress.files[i];
    if (state.state === 'done') continue;
    state.state = 'downloading';
    report(true);
    await transferFile(file, folder, {
      segmentBytes: options.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
      signal,
      onBytes(bytesDone, networkBytes) {
        state.bytesDone = bytesDone;
        meter.add(networkBytes, performance.now());
        // Stored bytes counted or dropped (a resume, a restart) are news; network bytes are reported at a steady pace.
        report(networkBytes === 0);
      },
    });
    state.state = 'done';
  }
  const manifest: CachedModel = {
    id,
    repo: remote.repo,
    revision: remote.revision,
    commit: remote.commit,
    files: remote.files.map(({ path, size, digest }) => ({ path, size, digest })),
    totalBytes: progress.bytesTotal,
    downloadedAt: new Date().toISOString(),
  };
  await folder.complete(manifest);
  report(true);
  return manifest;
}

/**
 * Keeps files picked on this computer in the model cache under `id`, as a hub download is kept, so
 * a reload, another tab or a take-over can load them without a file dialog. A model already kept
 * under that id is returned as it is.
 */
export async function keepLocalModel(id: string, files: Record<string, Blob>): Promise<CachedModel> {
  return guardStorage(async () => {
    const store = await openStore();
    return withModelLock(id, async () => {
      const folder = (await store.model(id, true))!;
      const kept = await folder.manifest();
      if (kept) return kept;
      try {
        await checkRoom(id, Object.values(files).reduce((sum, f) => sum + f.size, 0));
        for (const [path, blob] of Object.entries(files)) await folder.storeFile(path, blob);
        const manifest: CachedModel = {
          id,
          repo: 'local',
          revision: 'local',
          commit: 'local',
          files: Object.entries(files).map(([path, blob]) => ({ path, size: blob.size, digest: null })),
          totalBytes: Object.values(files).reduce((sum, f) => sum + f.size, 0),
          downloadedAt: new Date().toISOString(),
        };
        await folder.complete(manifest);
        return manifest;
      } catch (error) {
        await store.remove(id).catch(() => undefined);
        if ((error as DOMException | undefined)?.name === 'QuotaExceededError') {
          throw new EngineError('STORAGE_FULL', `There is no room in this browser's storage to keep ${id}; it loads now but must be picked again after a reload. Delete models you no longer need to make room.`, String(error));
        }
        throw error;
      }
    });
  });
}

/** Cached models and downloads that stopped part-way, with their sizes. */
export async function listCachedModels(): Promise<CachedModelSummary[]> {
  return guardStorage(async () => {
    const store = await openStore();
    const summaries: CachedModelSummary[] = [];
    for (const id of await store.ids()) {
      const folder = (await store.model(id))!;
      const manifest = await folder.manifest();
      const model = manifest ?? (await folder.download());
      if (!model) continue;
      summaries.push({
        id,
        repo: model.repo,
        revision: model.revision,
        complete: manifest !== null,
        totalBytes: model.files.reduce((sum, f) => sum + f.size, 0),
        storedBytes: await folder.storedBytes(),
      });
    }
    return summaries.sort((a, b) => a.id.localeCompare(b.id));
  });
}

/** The files of a cached model, each as a Blob over its stored segments. */
export async function openCachedModel(id: string): Promise<ModelBlobs> {
  return guardStorage(async () => {
    const folder = await (await openStore()).model(id);
    const manifest = await folder?.manifest();
    if (!folder || !manifest) throw new EngineError('MODEL_NOT_FOUND', `The model ${id} is not downloaded completely. Download it (again) before loading it.`);
    const files: Record<string, Blob> = {};
    for (const file of manifest.files) {
      const blob = await folder.file(file.path);
      if (blob?.size !== file.size) {
        throw new EngineError('MODEL_CORRUPT', `The stored copy of ${id} is damaged (${file.path} is missing or has the wrong size). Delete the model and download it again.`);
      }
      files[file.path] = blob;
    }
    return { id, files };
  });
}

/** Removes a model's files, partial downloads and manifest. */
export async function deleteCachedModel(id: string): Promise<void> {
  return guardStorage(async () => {
    const store = await openStore();
    await withModelLock(id, () => store.remove(id));
  });
}

/** How much this site stores and may store, and whether the browser keeps it under storage pressure. */
export async function storageStatus(): Promise<StorageStatus> {
  const estimate = await navigator.storage?.estimate?.().catch(() => undefined);
  const persisted = (await navigator.storage?.persisted?.().catch(() => false)) ?? false;
  return { usage: estimate?.usage ?? null, quota: estimate?.quota ?? null, persisted };
}

/** One download or delete per model at a time, across the tabs and workers of this site. */
async function withModelLock<T>(id: string, task: () => Promise<T>): Promise<T> {
  return navigator.locks.request(lockName(id), { ifAvailable: true }, async (lock) => {
    if (!lock) throw new EngineError('MODEL_BUSY', `The model ${id} is being downloaded or deleted, perhaps in another tab. Wait for that to finish, or cancel it, then try again.`);
    return task();
  });
}

async function checkRoom(id: string, bytesNeeded: number): Promise<void> {
  const { usage, quota } = await storageStatus();
  if (usage === null || quota === null || bytesNeeded <= 0) return;
  const free = Math.max(0, quota - usage);
  if (free >= bytesNeeded + STORAGE_MARGIN_BYTES) return;
  throw new EngineError(
    'STORAGE_FULL',
    `Not enough storage for ${id}: it needs ${formatBytes(bytesNeeded)} more (plus ${formatBytes(STORAGE_MARGIN_BYTES)} of headroom), but the browser lets this site store only ${formatBytes(free)} more (${formatBytes(usage)} of ${formatBytes(quota)} used). Delete cached models you no longer need or free disk space, then try again.`,
    `needed ${bytesNeeded} + ${STORAGE_MARGIN_BYTES}, quota ${quota}, usage ${usage}`,
  );
}

/** Asks the browser not to evict the models under storage pressure; it may say no (Chrome decides by site engagement). */
async function requestPersistence(): Promise<boolean> {
  try {
    return (await navigator.storage.persisted()) || (await navigator.storage.persist());
  } catch {
    return false;
  }
}

/** Storage failures other than the ones named elsewhere (a file locked by another tab, a disk error) still reach the UI as EngineErrors. */
async function guardStorage<T>(task: () => Promise<T>): Promise<T> {
  try {
    return await task();
  } catch (error) {
    if (error instanceof EngineError) throw error;
    throw new EngineError('STORAGE_UNAVAILABLE', 'The browser could not read or change the stored models. Reload the page and try again; if this repeats, clear this site\'s data in the browser settings.', String(error));
  }
}

function asEngineError(error: unknown, id: string, signal?: AbortSignal): EngineError {
  if (error instanceof EngineError) return error;
  const name = (error as DOMException | undefined)?.name;
  if (signal?.aborted || name === 'AbortError') return cancelled();
  if (name === 'QuotaExceededError') {
    return new EngineError(
      'STORAGE_FULL',
      `Storage for this site ran full while downloading ${id}. What arrived is kept: delete cached models you no longer need or free disk space, then start the download again and it continues where it stopped.`,
      String(error),
    );
  }
  return new EngineError('DOWNLOAD_FAILED', `Downloading ${id} failed (${String(error)}). Try again; the download continues where it stopped.`, String(error));
}
