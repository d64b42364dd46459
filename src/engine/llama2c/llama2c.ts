// Reads llama2.c's legacy checkpoint (run.c's format) and its tokenizer.bin into plain, validated
// structures; every size is checked against the header before a tensor is viewed.
//
// Tensors are Float32Array views over the input bytes where alignment allows (a copy otherwise),
// read in the platform's byte order: little-endian on every platform that runs wasm or WebGPU.

import { EngineError } from '../../protocol/errors.ts';

/** llama2.c fixes these rather than storing them in the checkpoint. */
export const LLAMA2C_ROPE_THETA = 10000;
export const LLAMA2C_RMS_NORM_EPS = 1e-5;
export const LLAMA2C_BOS_ID = 1;
export const LLAMA2C_EOS_ID = 2;

export interface Llama2cConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  /** Trained context length. */
  seqLen: number;
  /** True when the classifier is the token embedding (the file stores no wcls). */
  sharedClassifier: boolean;
}

export interface Llama2cWeights {
  config: Llama2cConfig;
  tokenEmbedding: Float32Array; // (vocabSize, dim)
  rmsAtt: Float32Array; // (nLayers, dim)
  wq: Float32Array; // (nLayers, dim out, dim in); heads rotate adjacent pairs (2p, 2p+1)
  wk: Float32Array; // (nLayers, kvDim out, dim in)
  wv: Float32Array; // (nLayers, kvDim out, dim in)
  wo: Float32Array; // (nLayers, dim out, dim in)
  rmsFfn: Float32Array; // (nLayers, dim)
  w1: Float32Array; // (nLayers, hiddenDim out, dim in): the gate
  w2: Float32Array; // (nLayers, dim out, hiddenDim in): down
  w3: Float32Array; // (nLayers, hiddenDim out, dim in): up
  rmsFinal: Float32Array; // (dim)
  wcls: Float32Array; // (vocabSize, dim); the very same array as tokenEmbedding when shared
}

export interface Llama2cTokenizer {
  /** Pieces as llama2.c spells them: spaces as ' ', BOS/EOS as '\n<s>\n' / '\n</s>\n', bytes as '<0x0A>'. */
  pieces: string[];
  scores: number[];
  maxTokenLength: number;
}

const HEADER_INTS = 7;
// llama2.c's versioned export (export.py --version 1/2) starts with the magic "ak42".
const VERSIONED_MAGIC = 0x616b3432;

export function headDimOf(config: Llama2cConfig): number {
  return config.dim / config.nHeads;
}

export function readLlama2cCheckpoint(bytes: Uint8Array): Llama2cWeights {
  if (bytes.byteLength < HEADER_INTS * 4) {
    throw corrupt(`The checkpoint is ${bytes.byteLength} bytes, shorter than its ${HEADER_INTS * 4}-byte header.`);
  }
  const header = new DataView(bytes.buffer, bytes.byteOffset, HEADER_INTS * 4);
  if (header.getUint32(0, true) === VERSIONED_MAGIC) {
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      'This is a versioned llama2.c checkpoint; only the legacy format is supported. Export it again with export.py --version 0.',
    );
  }
  const ints = Array.from({ length: HEADER_INTS }, (_, i) => header.getInt32(i * 4, true));
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, signedVocab, seqLen] = ints;
  const config: Llama2cConfig = {
    dim,
    hiddenDim,
    nLayers,
    nHeads,
    nKvHeads,
    // run.c's convention: a negative vocab_size means that an unshared classifier follows.
    vocabSize: Math.abs(signedVocab),
    seqLen,
    sharedClassifier: signedVocab > 0,
  };
  validateConfig(config, ints);

  const headDim = headDimOf(config);
  const kvDim = nKvHeads * headDim;
  const sizes = {
    tokenEmbedding: config.vocabSize * dim,
    rmsAtt: nLayers * dim,
    wq: nLayers * dim * dim,
    wk: nLayers * kvDim * dim,
    wv: nLayers * kvDim * dim,
    wo: nLayers * dim * dim,
    rmsFfn: nLayers * dim,
    w1: nLayers * hiddenDim * dim,
    w2: nLayers * dim * hiddenDim,
    w3: nLayers * hiddenDim * dim,
    rmsFinal: dim,
    // Two RoPE tables (freq_cis_real, freq_cis_imag) that every reader recomputes instead.
    ropeTables: 2 * seqLen * (headDim / 2),
    wcls: config.sharedClassifier ? 0 : config.vocabSize * dim,
  };
  const totalFloats = Object.values(sizes).reduce((a, b) => a + b, 0);
  const expectedBytes = HEADER_INTS * 4 + totalFloats * 4;
  if (bytes.byteLength !== expectedBytes) {
    throw corrupt(
      `The checkpoint header (dim ${dim}, ${nLayers} layers, vocabulary ${config.vocabSize}) needs ` +
        `${expectedBytes} bytes, but the file has ${bytes.byteLength}. It is truncated or not a llama2.c ` +
        'legacy checkpoint: download it again.',
    );
  }

  const floats = floatView(bytes, HEADER_INTS * 4, totalFloats);
  let offset = 0;
  const take = (n: number): Float32Array => {
    const view = floats.subarray(offset, offset + n);
    offset += n;
    return view;
  };
  const tokenEmbedding = take(sizes.tokenEmbedding);
  const rmsAtt = take(sizes.rmsAtt);
  const wq = take(sizes.wq);
  const wk = take(sizes.wk);
  const wv = take(sizes.wv);
  const wo = take(sizes.wo);
  const rmsFfn = take(sizes.rmsFfn);
  const w1 = take(sizes.w1);
  const w2 = take(sizes.w2);
  const w3 = take(sizes.w3);
  const rmsFinal = take(sizes.rmsFinal);
  take(sizes.ropeTables);
  const wcls = config.sharedClassifier ? tokenEmbedding : take(sizes.wcls);
  return { config, tokenEmbedding, rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, rmsFinal, wcls };
}

export function readLlama2cTokenizer(bytes: Uint8Array, vocabSize: number): Llama2cTokenizer {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const need = (offset: number, n: number, what: string): void => {
    if (offset + n > bytes.byteLength) {
      throw corrupt(
        `The tokenizer file ends at byte ${bytes.byteLength} while reading ${what} (needs ${offset + n} bytes). ` +
          'It is truncated or belongs to another model: download it again.',
      );
    }
  };
  need(0, 4, 'max_token_length');
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength <= 0) throw corrupt(`The tokenizer's max_token_length is ${maxTokenLength}; the file is not a llama2.c tokenizer.`);
  const pieces: string[] = [];
  const scores: number[] = [];
  let offset = 4;
  for (let id = 0; id < vocabSize; id++) {
    need(offset, 8, `token ${id} of ${vocabSize}`);
    const score = view.getFloat32(offset, true);
    const length = view.getInt32(offset + 4, true);
    offset += 8;
    if (length < 0 || length > maxTokenLength) {
      throw corrupt(`Token ${id} of the tokenizer claims ${length} bytes (max_token_length is ${maxTokenLength}); the file is damaged: download it again.`);
    }
    need(offset, length, `the bytes of token ${id}`);
    try {
      pieces.push(utf8.decode(bytes.subarray(offset, offset + length)));
    } catch {
      throw corrupt(`Token ${id} of the tokenizer is not valid UTF-8; the file is damaged: download it again.`);
    }
    scores.push(score);
    offset += length;
  }
  if (offset !== bytes.byteLength) {
    throw corrupt(
      `The tokenizer file has ${bytes.byteLength - offset} bytes after its ${vocabSize} tokens: it was made ` +
        'for a model with a larger vocabulary. Use the tokenizer that belongs to this checkpoint.',
    );
  }
  return { pieces, scores, maxTokenLength };
}

function validateConfig(config: Llama2cConfig, header: number[]): void {
  const { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen } = config;
  const positive = [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen].every((n) => n > 0);
  if (!positive || dim % nHeads !== 0 || nHeads % nKvHeads !== 0 || (dim / nHeads) % 2 !== 0) {
    throw corrupt(
      `The checkpoint header [${header.join(', ')}] (dim, hidden_dim, n_layers, n_heads, n_kv_heads, ` +
        'vocab_size, seq_len) does not describe a valid model; the file is damaged or not a llama2.c checkpoint.',
    );
  }
}

function floatView(bytes: Uint8Array, byteOffset: number, length: number): Float32Array {
  const start = bytes.byteOffset + byteOffset;
  if (start % 4 === 0) return new Float32Array(bytes.buffer, start, length);
  return new Float32Array(bytes.slice(byteOffset, byteOffset + length * 4).buffer);
}

function corrupt(message: string): EngineError {
  return new EngineError('MODEL_CORRUPT', message);
}
