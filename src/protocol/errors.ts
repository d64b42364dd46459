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
  'IMPORT_INVALID',
  'INTERNAL',
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

const DEVICE_LOST_SENTENCE =
  'The GPU was lost (the driver restarted or the tab used too much memory). Load the model again: the conversation, with any reply written so far, will be rebuilt from its transcript.';

/** The device said it is gone: its lost promise resolved (`reason: message`), or a GPU call failed saying so. */
export const deviceLostError = (evidence: string): EngineError => new EngineError('DEVICE_LOST', DEVICE_LOST_SENTENCE, evidence);

/** A failed GPU call that says its device is lost, as Chromium's WebGPU words it ("[Device] is
 *  lost", "Device is lost"); nothing else in an error's text counts as evidence of a lost device. */
const DEVICE_LOSS_SAID = /\bdevice\b[^.]{0,20}\blost\b/i;

/** Any failure as an EngineError. A typed one stays as it is; a GPU call that failed because the
 *  device is lost is DEVICE_LOST; anything else is a bug (INTERNAL), never blamed on the GPU.
 *  `where` names the part of the app that caught it, for the report. */
export function toEngineError(e: unknown, where: string): EngineError {
  if (e instanceof EngineError) return e;
  const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  if (DEVICE_LOSS_SAID.test(what)) return deviceLostError(what);
  return internalError(what, where, e instanceof Error ? e.stack : undefined);
}

/** A bug. Some screens show only the message, so the message itself carries what to report.
 *  `next` is the way on where the caller knows a better one than reloading the page. */
export const internalError = (what: string, where: string, stack?: string, next = 'reload the page to go on'): EngineError =>
  new EngineError(
    'INTERNAL',
    `Something went wrong in ${where} (${what}). This is a bug in the app, not a problem with your GPU or model: ${next}, and if it happens again, report this message and what you were doing.`,
    stack,
  );
