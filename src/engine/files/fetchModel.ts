// The files of a ModelChoice, read in the engine's worker: a llama2.c checkpoint or an ONNX folder
// at URLs (fetched), or the Blobs of the model cache and of picked files (read without a network).

import { EngineError } from '../../protocol/errors.ts';
import type { ModelSource } from '../../protocol/messages.ts';
import { modelFilesFromLlama2c, type ModelFiles } from './modelFiles.ts';
import { toModelFiles } from './modelBlobs.ts';

export type FetchPhase = 'fetch' | 'convert';

export async function fetchModelFiles(source: ModelSource, onProgress: (phase: FetchPhase, done: number, total: number) => void): Promise<ModelFiles> {
  const progress = (done: number, total: number) => onProgress('fetch', done, total);
  if (source.kind === 'blobs') {
    const total = Object.values(source.files).reduce((sum, blob) => sum + blob.size, 0);
    progress(0, total);
    const isLlama2c = !Object.keys(source.files).some((path) => path.endsWith('.onnx'));
    const files = await toModelFiles({ id: source.id, files: source.files }, { onnxFile: source.onnxFile }).catch((error: unknown) => {
      if (error instanceof EngineError) throw error;
      // A Blob over a cached file that was deleted since (here, or by the browser under storage pressure).
      throw new EngineError('MODEL_NOT_FOUND', `The files of ${source.id} can no longer be read; they were deleted or evicted. Pick the model again to download it.`, String(error));
    });
    progress(total, total);
    if (isLlama2c) onProgress('convert', 1, 1);
    return files;
  }
  if (source.kind === 'llama2c') {
    const checkpoint = await fetchBytes(source.checkpointUrl, progress);
    const tokenizer = await fetchBytes(source.tokenizerUrl, progress);
    onProgress('convert', 0, 1);
    return modelFilesFromLlama2c(checkpoint, tokenizer);
  }
  const url = (name: string) => new URL(name, source.baseUrl).href;
  const json = async (name: string) => {
    const response = await fetch(url(name));
    return response.ok ? ((await response.json()) as unknown) : {};
  };
  const text = async (name: string) => {
    const response = await fetch(url(name));
    return response.ok ? await response.text() : undefined;
  };
  return {
    model: await fetchBytes(url(source.modelFile), progress),
    externalData: await Promise.all((source.externalDataFiles ?? []).map(async (name) => ({ path: name, data: await fetchBytes(url(name), progress) }))),
    config: (await json('config.json')) as ModelFiles['config'],
    tokenizerJson: await json('tokenizer.json'),
    tokenizerConfig: await json('tokenizer_config.json'),
    generationConfig: (await json('generation_config.json')) as ModelFiles['generationConfig'],
    chatTemplateJinja: await text('chat_template.jinja'),
  };
}

async function fetchBytes(url: string, onProgress: (done: number, total: number) => void): Promise<Uint8Array<ArrayBuffer>> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new EngineError('DOWNLOAD_FAILED', `Could not fetch ${url}: the connection failed. Check your connection and try again.`, String(e));
  }
  if (!response.ok || !response.body) {
    throw new EngineError('MODEL_CORRUPT', `Could not fetch ${url} (HTTP ${response.status}); check the address or your connection and try again.`);
  }
  const total = Number(response.headers.get('content-length') ?? 0);
  const chunks: Uint8Array[] = [];
  let done = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    chunks.push(value);
    done += value.byteLength;
    onProgress(done, total || done);
  }
  const out = new Uint8Array(done);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
