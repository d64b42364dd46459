// Typed errors that a user or a caller can meet. They cross the worker boundary as plain objects
// (toJSON / fromJSON) so the code survives postMessage, and every message says what to do next.

export const ENGINE_ERROR_CODES = [
  'WEBGPU_UNAVAILABLE',
  'DEVICE_LIMIT',
  'DEVICE_LOST',
  'UNSUPPORTED_SHAPE',
  'CHUNK_TOO_LARGE',
  'CACHE_FULL',
  'CACHE_TRUNCATE_IMPOSSIBLE',
  'SNAPSHOT_MISMATCH',
  'MODEL_UNSUPPORTED',
  'MODEL_CORRUPT',
  'MODEL_NOT_FOUND',
  'MODEL_BUSY',
  'DOWNLOAD_FAILED',
  'STORAGE_FULL',
  'STORAGE_UNAVAILABLE',
  'CONFIG_INVALID',
  'CHAT_TEMPLATE_FAILED',
  'ABORTED',
] as const;

export type EngineErrorCode = (typeof ENGINE_ERROR_CODES)[number];

export interface EngineErrorData {
  code: EngineErrorCode;
  message: string;
  detail?: string;
}

export class EngineError extends Error {
  readonly code: EngineErrorCode;
  readonly detail?: string;

  constructor(code: EngineErrorCode, message: string, detail?: string) {
    super(message);
    this.name = 'EngineError';
    this.code = code;
    this.detail = detail;
  }

  toJSON(): EngineErrorData {
    return { code: this.code, message: this.message, detail: this.detail };
  }

  static fromJSON(data: EngineErrorData): EngineError {
    return new EngineError(data.code, data.message, data.detail);
  }
}
