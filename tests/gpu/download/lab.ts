// What the download lab page offers its test (tests/gpu/download.test.ts), in plain data that
// crosses page.evaluate.

import type { EngineErrorData } from '../../../src/protocol/errors.ts';
import type { CachedModel, CachedModelSummary, DownloadProgress, HubModelSpec } from '../../../src/models/index.ts';

export interface LabDownloadOptions {
  hubUrl: string;
  segmentBytes?: number;
  /** Cancels the download once this many bytes are done. */
  abortAtBytes?: number;
}

/** A progress event and when the page received it (performance.now(), ms). */
export type TimedProgress = DownloadProgress & { at: number };

export interface DownloadOutcome {
  model: CachedModel | null;
  error: EngineErrorData | null;
  events: TimedProgress[];
}

/** ModelFiles reduced to what a test compares: hashes of the byte arrays, the JSON as it is. */
export interface ModelFilesSummary {
  modelSha256: string;
  modelBytes: number;
  externalData: { path: string; sha256: string; bytes: number }[];
  config: unknown;
  tokenizerJsonSha256: string;
  tokenizerConfig: unknown;
  generationConfig: unknown;
}

export type Result<T> = { value: T; error: null } | { value: null; error: EngineErrorData };

export interface DownloadLab {
  download(spec: HubModelSpec, options: LabDownloadOptions): Promise<DownloadOutcome>;
  /** Starts a download and returns at once; `latest` reports how far it got. */
  start(spec: HubModelSpec, options: LabDownloadOptions): void;
  latest(): TimedProgress | null;
  /** Waits for the download `start` began. */
  finish(): Promise<DownloadOutcome>;
  list(): Promise<CachedModelSummary[]>;
  remove(id: string): Promise<Result<null>>;
  /** openCachedModel then toModelFiles. */
  open(id: string, onnxFile?: string): Promise<Result<ModelFilesSummary>>;
  openFolderUrl(baseUrl: string, paths: string[]): Promise<Result<ModelFilesSummary>>;
  /** The files chosen in the page's <input type=file webkitdirectory>. */
  openPicked(): Promise<Result<ModelFilesSummary & { id: string; paths: string[] }>>;
  /** Copies the picked files into an OPFS folder and reads that folder's handle, as showDirectoryPicker would give it. */
  openPickedAsDirectory(): Promise<Result<ModelFilesSummary & { id: string; paths: string[] }>>;
  /** Every file under the private file system's models/ folder, with its size. */
  storedFiles(): Promise<{ path: string; size: number }[]>;
}

declare global {
  interface Window {
    downloadLab?: DownloadLab;
  }
}
