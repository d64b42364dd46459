// The model cache on disk, in the Origin Private File System: one folder per model, files that
// passed verification kept apart from partial ones, and a manifest written last, so that only a
// complete, verified model is ever opened.
//
//   models/{modelKey}/
//     manifest.json        the model is cached iff this exists; written after every file verified
//     download.json        a download in progress: what it fetches (RemoteModel)
//     files/{fileKey}/     a verified file: segments 000000, 000001, ... and meta.json
//     partial/{fileKey}/   a file in progress: committed segments and meta.json (url, size, hash, etag)
//
// Files are stored as segments because a FileSystemWritableFileStream commits only on close(),
// and reopening it with keepExistingData copies the whole file first (1.7 s for 256 MB in
// Chromium 156): committing one growing file every few megabytes would copy quadratically. Each
// segment is written once and closed, so a reload loses at most the segment being written, and
// loading reads the segments as one Blob without copying them.

/// <reference lib="dom.asynciterable" />

import { EngineError } from '../protocol/errors.ts';
import type { RemoteFile, RemoteModel } from './hub.ts';
import { sameDigest, type Digest } from './integrity.ts';

export interface CachedModel extends Omit<RemoteModel, 'files'> {
  id: string;
  files: { path: string; size: number; digest: Digest | null }[];
  totalBytes: number;
  /** ISO time at which the last file verified. */
  downloadedAt: string;
}

/** A file's identity: what its bytes were checked, or are to be checked, against. */
interface FileMeta {
  url: string;
  size: number;
  digest: Digest | null;
  /** ETag of the first response, where the server exposes it: a resume must see the same one. */
  etag: string | null;
}

type MovableFile = FileSystemFileHandle & { move(destination: FileSystemDirectoryHandle): Promise<void> };

const SEGMENT_NAME = /^\d{6}$/;
const segmentName = (index: number) => String(index).padStart(6, '0');
const keyOf = (name: string) => encodeURIComponent(name);

/** Throws STORAGE_UNAVAILABLE where the browser lacks what the cache needs. */
export async function openStore(): Promise<ModelStore> {
  const unsupported = (detail: string) =>
    new EngineError(
      'STORAGE_UNAVAILABLE',
      'This browser cannot store downloaded models: it lacks writable files in its private file system (or blocks them in private windows). Use a current Chrome, Edge or Firefox in a normal window, or load a model from a folder on this computer instead.',
      detail,
    );
  const fileHandle = globalThis.FileSystemFileHandle?.prototype as Partial<MovableFile> | undefined;
  if (!navigator.storage?.getDirectory || !fileHandle?.createWritable || !fileHandle.move || !navigator.locks) {
    throw unsupported('navigator.storage.getDirectory, FileSystemFileHandle.createWritable/move or navigator.locks is missing');
  }
  try {
    const root = await navigator.storage.getDirectory();
    return new ModelStore(await root.getDirectoryHandle('models', { create: true }));
  } catch (error) {
    throw unsupported(String(error));
  }
}

export class ModelStore {
  constructor(private readonly root: FileSystemDirectoryHandle) {}

  async ids(): Promise<string[]> {
    return (await names(this.root)).map(decodeURIComponent);
  }

  async model(id: string, create = false): Promise<ModelFolder | null> {
    const dir = await child(this.root, keyOf(id), create);
    return dir && new ModelFolder(dir);
  }

  async remove(id: string): Promise<void> {
    await removeChild(this.root, keyOf(id));
  }
}

export class ModelFolder {
  constructor(private readonly dir: FileSystemDirectoryHandle) {}

  manifest = () => readJson<CachedModel>(this.dir, 'manifest.json');
  download = () => readJson<RemoteModel>(this.dir, 'download.json');
  writeDownload = (remote: RemoteModel) => writeJson(this.dir, 'download.json', remote);

  /** Writes the manifest that makes the model loadable, then drops what only a download needed. */
  async complete(manifest: CachedModel): Promise<void> {
    await writeJson(this.dir, 'manifest.json', manifest);
    await removeChild(this.dir, 'download.json');
    await removeChild(this.dir, 'partial');
    // Files an earlier attempt fetched for another file list of the same id.
    const files = await this.sub('files');
    const wanted = new Set(manifest.files.map((f) => keyOf(f.path)));
    for (const name of await names(files)) if (!wanted.has(name)) await removeChild(files, name);
  }

  /** Keeps a file picked on this computer as one verified segment: there is nothing to check it
   *  against but its size, and a local copy cannot be resumed, only written again. */
  async storeFile(path: string, blob: Blob): Promise<void> {
    const files = await this.sub('files');
    await removeChild(files, keyOf(path));
    const dir = (await child(files, keyOf(path), true))!;
    const writable = await (await dir.getFileHandle(segmentName(0), { create: true })).createWritable();
    try {
      await writable.write(blob);
      await writable.close();
    } catch (error) {
      await writable.abort().catch(() => undefined);
      throw error;
    }
    const meta: FileMeta = { url: `local:${path}`, size: blob.size, digest: null, etag: null };
    await writeJson(dir, 'meta.json', meta);
  }

  /** Whether files/ holds `file`, verified against the same size and hash. */
  async isVerified(file: RemoteFile): Promise<boolean> {
    const dir = await child(await this.sub('files'), keyOf(file.path));
    const meta = dir && (await readJson<FileMeta>(dir, 'meta.json'));
    return !!dir && !!meta && sameFile(meta, file) && totalSize(await committedSegments(dir)) === file.size;
  }

  /** Bytes an earlier attempt stored for `file` that a resume keeps. */
  async partialBytes(file: RemoteFile): Promise<number> {
    const dir = await child(await this.sub('partial'), keyOf(file.path));
    const meta = dir && (await readJson<FileMeta>(dir, 'meta.json'));
    return dir && meta && sameFile(meta, file) ? totalSize(await committedSegments(dir)) : 0;
  }

  /** The partial download of `file`, started over where what is stored was fetched for other bytes. */
  async partial(file: RemoteFile): Promise<PartialFile> {
    const parent = await this.sub('partial');
    const key = keyOf(file.path);
    const dir = await child(parent, key);
    const meta = dir && (await readJson<FileMeta>(dir, 'meta.json'));
    if (dir && meta && sameFile(meta, file)) return new PartialFile(parent, dir, meta, await committedSegments(dir));
    await removeChild(parent, key);
    const fresh = (await child(parent, key, true))!;
    const freshMeta: FileMeta = { url: file.url, size: file.size, digest: file.digest, etag: null };
    await writeJson(fresh, 'meta.json', freshMeta);
    return new PartialFile(parent, fresh, freshMeta, []);
  }

  /** Moves a verified partial file into files/. */
  async promote(partial: PartialFile): Promise<void> {
    await partial.moveInto(await this.sub('files'));
  }

  /** Bytes on disk, verified and partial. */
  async storedBytes(): Promise<number> {
    let bytes = 0;
    for (const state of ['files', 'partial']) {
      for await (const dir of (await this.sub(state)).values()) {
        if (dir.kind === 'directory') bytes += totalSize(await committedSegments(dir as FileSystemDirectoryHandle));
      }
    }
    return bytes;
  }

  /** A verified file's bytes as one Blob over its segments (nothing is copied until it is read). */
  async file(path: string): Promise<Blob | null> {
    const dir = await child(await this.sub('files'), keyOf(path));
    return dir && new Blob(await committedSegments(dir));
  }

  private sub = async (name: string) => (await child(this.dir, name, true))!;
}

/** A file being downloaded: its committed segments, and a writer that appends new ones. */
export class PartialFile {
  private writable: FileSystemWritableFileStream | null = null;
  private next: number;
  private filled = 0;

  constructor(
    private readonly parent: FileSystemDirectoryHandle,
    private dir: FileSystemDirectoryHandle,
    readonly meta: FileMeta,
    /** Segments committed by earlier attempts, in order. */
    readonly segments: File[],
  ) {
    this.next = segments.length;
  }

  get storedBytes(): number {
    return totalSize(this.segments);
  }

  async setEtag(etag: string | null): Promise<void> {
    this.meta.etag = etag;
    await writeJson(this.dir, 'meta.json', this.meta);
  }

  /** Appends bytes, closing (committing) each segment once it holds `segmentBytes`. */
  async write(bytes: Uint8Array<ArrayBuffer>, segmentBytes: number): Promise<void> {
    for (let at = 0; at < bytes.length; ) {
      if (!this.writable) {
        const handle = await this.dir.getFileHandle(segmentName(this.next), { create: true });
        this.writable = await handle.createWritable();
        this.filled = 0;
      }
      const take = Math.min(bytes.length - at, segmentBytes - this.filled);
      await this.writable.write(bytes.subarray(at, at + take));
      this.filled += take;
      at += take;
      if (this.filled >= segmentBytes) await this.commit();
    }
  }

  /** Closes the open segment so its bytes survive; what is stored is always a prefix of the file. */
  async commit(): Promise<void> {
    const writable = this.writable;
    if (!writable) return;
    this.writable = null;
    try {
      await writable.close();
      this.next++;
    } catch (error) {
      await writable.abort().catch(() => undefined);
      throw error;
    }
  }

  /** Throws away everything stored for this file, keeping only its identity. */
  async clear(): Promise<void> {
    await this.writable?.abort().catch(() => undefined);
    this.writable = null;
    await removeChild(this.parent, this.dir.name);
    this.dir = (await child(this.parent, this.dir.name, true))!;
    this.segments.length = 0;
    this.next = 0;
    await writeJson(this.dir, 'meta.json', this.meta);
  }

  /** Moves the verified segments, then their meta.json, into files/: a file counts as verified only with its meta. */
  async moveInto(files: FileSystemDirectoryHandle): Promise<void> {
    await removeChild(files, this.dir.name);
    const dest = (await child(files, this.dir.name, true))!;
    for (let index = 0; index < this.next; index++) {
      await ((await this.dir.getFileHandle(segmentName(index))) as MovableFile).move(dest);
    }
    await ((await this.dir.getFileHandle('meta.json')) as MovableFile).move(dest);
    await removeChild(this.parent, this.dir.name);
  }
}

const sameFile = (meta: FileMeta, file: RemoteFile) => meta.url === file.url && meta.size === file.size && sameDigest(meta.digest, file.digest);

/** Segments 000000, 000001, ... up to the first missing or empty one (a segment whose writer never closed). */
async function committedSegments(dir: FileSystemDirectoryHandle): Promise<File[]> {
  const segmentNames = (await names(dir)).filter((name) => SEGMENT_NAME.test(name)).sort();
  const segments: File[] = [];
  for (const [index, name] of segmentNames.entries()) {
    if (name !== segmentName(index)) break;
    const file = await (await dir.getFileHandle(name)).getFile();
    if (file.size === 0) break;
    segments.push(file);
  }
  return segments;
}

const totalSize = (blobs: Blob[]) => blobs.reduce((sum, b) => sum + b.size, 0);

async function names(dir: FileSystemDirectoryHandle): Promise<string[]> {
  const out: string[] = [];
  for await (const name of dir.keys()) out.push(name);
  return out;
}

async function child(dir: FileSystemDirectoryHandle, name: string, create = false): Promise<FileSystemDirectoryHandle | null> {
  try {
    return await dir.getDirectoryHandle(name, { create });
  } catch (error) {
    if ((error as DOMException).name === 'NotFoundError') return null;
    throw error;
  }
}

async function removeChild(dir: FileSystemDirectoryHandle, name: string): Promise<void> {
  try {
    await dir.removeEntry(name, { recursive: true });
  } catch (error) {
    if ((error as DOMException).name !== 'NotFoundError') throw error;
  }
}

async function readJson<T>(dir: FileSystemDirectoryHandle, name: string): Promise<T | null> {
  try {
    return JSON.parse(await (await (await dir.getFileHandle(name)).getFile()).text()) as T;
  } catch {
    // Missing, or cut short by a crash: either way there is nothing to trust.
    return null;
  }
}

/** Replaces a small JSON file atomically: a writable stream commits only on close. */
async function writeJson(dir: FileSystemDirectoryHandle, name: string, value: unknown): Promise<void> {
  const writable = await (await dir.getFileHandle(name, { create: true })).createWritable();
  await writable.write(JSON.stringify(value));
  await writable.close();
}
