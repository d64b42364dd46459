// One file from its URL into the cache: resumes a partial file with a Range request, hashes while
// streaming, and moves the file among the verified ones only when its size and hash match.

import { EngineError } from '../protocol/errors.ts';
import type { RemoteFile } from './hub.ts';
import { createHasher, type Hasher } from './integrity.ts';
import type { ModelFolder, PartialFile } from './store.ts';

export interface TransferOptions {
  segmentBytes: number;
  signal?: AbortSignal;
  /** `bytesDone` of this file so far; `networkBytes` just received (0 when stored bytes were counted). */
  onBytes(bytesDone: number, networkBytes: number): void;
}

/** Downloads `file` into `folder` and verifies it; a partial file left by an earlier attempt is resumed. */
export async function transferFile(file: RemoteFile, folder: ModelFolder, options: TransferOptions): Promise<void> {
  const { signal, onBytes } = options;
  const partial = await folder.partial(file);
  let hasher = file.digest ? createHasher(file.digest, file.size) : null;
  // A hash state cannot be saved, so the bytes stored by an earlier attempt are hashed again first.
  for (const segment of partial.segments) await hashBlob(hasher, segment, signal);
  let stored = partial.storedBytes;
  onBytes(stored, 0);

  if (stored < file.size) {
    let response = await request(file, stored, signal);
    if (stored > 0 && !resumesAt(response, stored, file.size, partial.meta.etag)) {
      // The server ignored the range (200) or answered another one: start the file over.
      if (response.status !== 200) {
        await response.body?.cancel();
        response = await request(file, 0, signal);
      }
      await partial.clear();
      hasher = file.digest ? createHasher(file.digest, file.size) : null;
      stored = 0;
      onBytes(0, 0);
    }
    if (stored === 0) await partial.setEtag(response.headers.get('etag'));
    stored = await streamInto(response, file, stored, partial, hasher, options);
  }
  if (stored !== file.size) {
    await partial.clear();
    throw corrupt(file, `holds ${stored} bytes where the hub lists ${file.size}`);
  }
  const got = hasher?.hex();
  if (file.digest && got !== file.digest.hex) {
    await partial.clear();
    throw new EngineError(
      'MODEL_CORRUPT',
      `${file.path} arrived damaged: its ${file.digest.algorithm} hash does not match the one the hub lists. Nothing of it was kept; download the model again, and if this repeats, something between you and the hub is altering the file.`,
      `expected ${file.digest.hex}, got ${got} from ${file.url}`,
    );
  }
  await folder.promote(partial);
}

async function request(file: RemoteFile, from: number, signal?: AbortSignal): Promise<Response> {
  let response: Response;
  try {
    // no-store: the HTTP cache would keep a second copy of every weight file on disk.
    response = await fetch(file.url, { signal, cache: 'no-store', headers: from > 0 ? { range: `bytes=${from}-` } : {} });
  } catch (error) {
    throw interrupted(file, from, error, signal);
  }
  if (response.status === 416 && from > 0) {
    // The range lies past the end of what the server holds now: start over.
    await response.body?.cancel();
    return request(file, 0, signal);
  }
  if (response.status === 404) throw new EngineError('MODEL_NOT_FOUND', `The server no longer has ${file.path}. Download the model again; if it is gone from the hub, pick another.`, file.url);
  if (response.status === 401 || response.status === 403) {
    throw new EngineError('MODEL_NOT_FOUND', `The hub refuses ${file.path} (HTTP ${response.status}): the model is gated or private, and this app downloads public models only.`, file.url);
  }
  if (!response.ok || !response.body) {
    throw new EngineError('DOWNLOAD_FAILED', `Downloading ${file.path} failed: the server answered HTTP ${response.status}. Try again in a minute; the download resumes where it stopped.`, file.url);
  }
  return response;
}

/** Whether a response to `Range: bytes=from-` continues the stored bytes of the same file. */
function resumesAt(response: Response, from: number, size: number, etag: string | null): boolean {
  if (response.status !== 206) return false;
  const newEtag = response.headers.get('etag');
  if (etag && newEtag && newEtag !== etag) return false;
  // Content-Range needs the server's Access-Control-Expose-Headers on another origin; Content-Length never does.
  const range = response.headers.get('content-range');
  if (range !== null) {
    const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(range.trim());
    return !!match && Number(match[1]) === from && Number(match[2]) === size - 1 && (match[3] === '*' || Number(match[3]) === size);
  }
  const length = response.headers.get('content-length');
  return length === null || Number(length) === size - from;
}

/** Streams the body into the partial file; returns the bytes stored. Bytes received before a break are kept. */
async function streamInto(response: Response, file: RemoteFile, stored: number, partial: PartialFile, hasher: Hasher | null, options: TransferOptions): Promise<number> {
  const reader = response.body!.getReader();
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array<ArrayBuffer>>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw interrupted(file, stored, error, options.signal);
      }
      if (chunk.done) break;
      const bytes = chunk.value;
      if (stored + bytes.length > file.size) {
        await partial.clear();
        throw corrupt(file, `is longer than the ${file.size} bytes the hub lists`);
      }
      hasher?.update(bytes);
      await partial.write(bytes, options.segmentBytes);
      stored += bytes.length;
      options.onBytes(stored, bytes.length);
    }
    if (stored < file.size) throw interrupted(file, stored, new Error('the response ended early'), options.signal);
    return stored;
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    throw error;
  } finally {
    // What is stored is always a prefix of the file, so committing it lets the next attempt resume.
    await partial.commit().catch(() => undefined);
  }
}

async function hashBlob(hasher: Hasher | null, blob: Blob, signal?: AbortSignal): Promise<void> {
  if (!hasher) return;
  const reader = blob.stream().getReader();
  for (;;) {
    signal?.throwIfAborted();
    const { done, value } = await reader.read();
    if (done) return;
    hasher.update(value);
  }
}

export const cancelled = () => new EngineError('ABORTED', 'The download was cancelled. Start it again to continue where it stopped.');

function interrupted(file: RemoteFile, stored: number, error: unknown, signal?: AbortSignal): EngineError {
  if (signal?.aborted) return cancelled();
  return new EngineError(
    'DOWNLOAD_FAILED',
    `The download of ${file.path} broke off after ${stored} of ${file.size} bytes. Check the connection and start it again: it continues where it stopped.`,
    `${String(error)} (${file.url})`,
  );
}

const corrupt = (file: RemoteFile, what: string) =>
  new EngineError('MODEL_CORRUPT', `${file.path} ${what}. Nothing of it was kept; download the model again.`, file.url);
