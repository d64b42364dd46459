// The llama2.c exporter end to end: the exported stories260K runs in onnxruntime (wasm, in Node)
// and decodes the golden text in both rotary forms, prefill equals token-by-token decode,
// the tokenizer.json encodes like llama2.c's own encode(), and damaged files are refused.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../src/protocol/errors.ts';
import {
  readLlama2cCheckpoint,
  readLlama2cTokenizer,
  type Llama2cTokenizer,
  type Llama2cWeights,
} from '../../src/engine/llama2c/llama2c.ts';
import { exportLlama2cToOnnx } from '../../src/engine/llama2c/onnxExport.ts';
import {
  STORIES260K_CHECKPOINT,
  STORIES260K_TOKENIZER,
  ensureStories260kFixture,
} from '../../lab/fixtures.ts';
import { exportLlama2cForm, type RotaryPlacement } from '../../lab/onnxExportForms.ts';

const GOLDEN_IDS = [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317];
const GOLDEN_TEXT =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, ' +
  'she saw a big, red ball. She wanted to play with it, but it was too high.\nLily\'s mom said, "Lily, let\'s go to';
const N_LAYERS = 5;
const N_KV_HEADS = 4;
const PADDED_HEAD_DIM = 16;
const VOCAB = 512;

ort.env.wasm.numThreads = 1;

let checkpointBytes: Uint8Array;
let tokenizerBytes: Uint8Array;
let weights: Llama2cWeights;

beforeAll(async () => {
  checkpointBytes = new Uint8Array(await readFile(STORIES260K_CHECKPOINT));
  tokenizerBytes = new Uint8Array(await readFile(STORIES260K_TOKENIZER));
  weights = readLlama2cCheckpoint(checkpointBytes);
});

/** Runs the exported decoder with a growing KV cache, the way transformers.js feeds builder graphs. */
class Decoder {
  private past: Record<string, ort.Tensor> = {};
  private total = 0;

  constructor(
    private readonly session: ort.InferenceSession,
    private readonly rotary: RotaryPlacement,
  ) {
    for (let layer = 0; layer < N_LAYERS; layer++) {
      for (const kind of ['key', 'value']) {
        this.past[`past_key_values.${layer}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, N_KV_HEADS, 0, PADDED_HEAD_DIM]);
      }
    }
  }

  /** Feeds `ids` as one chunk; returns logits (ids.length, vocab). */
  async step(ids: number[]): Promise<Float32Array> {
    const n = ids.length;
    this.total += n;
    const feeds: Record<string, ort.Tensor> = {
      ...this.past,
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, n]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(this.total).fill(1n), [1, this.total]),
    };
    if (this.rotary === 'separate') {
      const positions = BigInt64Array.from({ length: n }, (_, i) => BigInt(this.total - n + i));
      feeds.position_ids = new ort.Tensor('int64', positions, [1, n]);
    }
    const out = await this.session.run(feeds);
    for (let layer = 0; layer < N_LAYERS; layer++) {
      for (const kind of ['key', 'value']) {
        const present = out[`present.${layer}.${kind}`];
        expect(present.dims).toEqual([1, N_KV_HEADS, this.total, PADDED_HEAD_DIM]);
        this.past[`past_key_values.${layer}.${kind}`] = present;
      }
    }
    expect(out.logits.dims).toEqual([1, n, VOCAB]);
    return out.logits.data as Float32Array;
  }
}

function argmax(logits: Float32Array, row = 0): number {
  let best = 0;
  for (let i = 1; i < VOCAB; i++) if (logits[row * VOCAB + i] > logits[row * VOCAB + best]) best = i;
  return best;
}

async function greedy(session: ort.InferenceSession, rotary: RotaryPlacement, steps: number): Promise<number[]> {
  const decoder = new Decoder(session, rotary);
  const ids: number[] = [];
  let token = 1; // BOS
  for (let i = 0; i < steps; i++) {
    token = argmax(await decoder.step([token]));
    ids.push(token);
  }
  return ids;
}

/** Largest |a - b| / max(1, |b|): logits reach ~17, where 1e-5 absolute is a few float32 ulps,
 *  and the prefill and decode kernels of GroupQueryAttention accumulate in different orders. */
function maxRelativeDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return diff;
}

async function loadTokenizer(dir: string): Promise<Tokenizer> {
  const json = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8'));
  const config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8'));
  return new Tokenizer(json, config);
}

/** An independent oracle: llama2.c run.c's encode() without BOS/EOS, on its own vocabulary. */
function llama2cEncode(tok: Llama2cTokenizer, text: string): number[] {
  const lookup = new Map<string, number>();
  tok.pieces.forEach((piece, id) => {
    if (!lookup.has(piece)) lookup.set(piece, id);
  });
  const tokens: number[] = [];
  if (text.length > 0) tokens.push(lookup.get(' ')!); // the dummy prefix
  for (const char of text) {
    const id = lookup.get(char);
    if (id !== undefined) tokens.push(id);
    else for (const byte of new TextEncoder().encode(char)) tokens.push(byte + 3);
  }
  for (;;) {
    let bestScore = -1e10;
    let bestId = -1;
    let bestIndex = -1;
    for (let i = 0; i < tokens.length - 1; i++) {
      const id = lookup.get(tok.pieces[tokens[i]] + tok.pieces[tokens[i + 1]]);
      if (id !== undefined && tok.scores[id] > bestScore) {
        bestScore = tok.scores[id];
        bestId = id;
        bestIndex = i;
      }
    }
    if (bestIndex === -1) return tokens;
    tokens.splice(bestIndex, 2, bestId);
  }
}

function expectEngineError(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(EngineError);
  expect((caught as EngineError).code).toBe(code);
}

describe.each(['fused', 'separate'] as const)('exported stories260K with %s rotary', (rotary) => {
  let dir: string;
  let session: ort.InferenceSession;

  beforeAll(async () => {
    dir = await ensureStories260kFixture(rotary);
    session = await ort.InferenceSession.create(join(dir, 'model.onnx'), { executionProviders: ['wasm'] });
  });

  it('has the builder inputs and outputs', () => {
    const past = Array.from({ length: N_LAYERS }, (_, l) => [`past_key_values.${l}.key`, `past_key_values.${l}.value`]).flat();
    const present = Array.from({ length: N_LAYERS }, (_, l) => [`present.${l}.key`, `present.${l}.value`]).flat();
    const positions = rotary === 'separate' ? ['position_ids'] : [];
    expect(session.inputNames).toEqual(['input_ids', 'attention_mask', ...positions, ...past]);
    expect(session.outputNames).toEqual(['logits', ...present]);
  });

  it('decodes the golden greedy text from BOS', async () => {
    const ids = await greedy(session, rotary, 80);
    expect(ids.slice(0, GOLDEN_IDS.length)).toEqual(GOLDEN_IDS);
    const text = (await loadTokenizer(dir)).decode(ids, { skip_special_tokens: true });
    expect(text.startsWith(GOLDEN_TEXT), `decoded: ${JSON.stringify(text)}`).toBe(true);
  });

  it('gives the same logits for a prefill chunk as token by token', async () => {
    const prompt = [1, ...GOLDEN_IDS.slice(0, 7)];
    const stepwise = new Decoder(session, rotary);
    const expected = new Float32Array(prompt.length * VOCAB);
    for (let t = 0; t < prompt.length; t++) expected.set(await stepwise.step([prompt[t]]), t * VOCAB);

    const prefill = new Decoder(session, rotary);
    expect(maxRelativeDiff(await prefill.step(prompt), expected)).toBeLessThan(1e-5);

    // A chunk after a non-empty cache, as a chat turn after earlier turns.
    const chunked = new Decoder(session, rotary);
    const head = await chunked.step(prompt.slice(0, 3));
    const tail = await chunked.step(prompt.slice(3));
    expect(maxRelativeDiff(Float32Array.of(...head, ...tail), expected)).toBeLessThan(1e-5);
  });
});

describe('export options', () => {
  async function firstLogits(model: Uint8Array, externalData?: { path: string; data: Uint8Array }[]): Promise<Float32Array> {
    const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], externalData });
    return new Decoder(session, 'fused').step([1, 403, 407]);
  }

  it('writes weights as external data that loads to the same logits', async () => {
    const external = exportLlama2cForm(weights, { externalData: { location: 'model.onnx_data' } });
    expect(external.externalFiles.map((f) => f.location)).toEqual(['model.onnx_data']);
    expect(external.model.byteLength).toBeLessThan(64 * 1024);
    const data = [{ path: 'model.onnx_data', data: external.externalFiles[0].bytes }];
    expect(await firstLogits(external.model, data)).toEqual(await firstLogits(exportLlama2cToOnnx(weights)));
  });

  it('reads an unshared classifier (negative vocab_size) and exports it', async () => {
    // The same model with its classifier stored explicitly after the RoPE tables.
    const unshared = new Uint8Array(checkpointBytes.byteLength + weights.tokenEmbedding.byteLength);
    unshared.set(checkpointBytes);
    unshared.set(new Uint8Array(weights.tokenEmbedding.slice().buffer), checkpointBytes.byteLength);
    new DataView(unshared.buffer).setInt32(5 * 4, -VOCAB, true);
    const read = readLlama2cCheckpoint(unshared);
    expect(read.config).toEqual({ ...weights.config, sharedClassifier: false });
    expect(read.wcls).not.toBe(read.tokenEmbedding);
    expect(read.wcls).toEqual(weights.tokenEmbedding);
    const logits = await firstLogits(exportLlama2cToOnnx(read));
    expect(logits).toEqual(await firstLogits(exportLlama2cToOnnx(weights)));
  });
});

describe('tokenizer.json', () => {
  let tokenizer: Tokenizer;
  let llama2cTokenizer: Llama2cTokenizer;

  beforeAll(async () => {
    tokenizer = await loadTokenizer(await ensureStories260kFixture('fused'));
    llama2cTokenizer = readLlama2cTokenizer(tokenizerBytes, VOCAB);
  });

  it('reads llama2.c spaces and specials as llama2.c spells them', () => {
    expect(llama2cTokenizer.pieces.slice(0, 4)).toEqual(['<unk>', '\n<s>\n', '\n</s>\n', '<0x00>']);
    expect(llama2cTokenizer.pieces[259]).toBe(' t');
    expect(tokenizer.id_to_token(259)).toBe('\u2581t');
    expect(tokenizer.id_to_token(1)).toBe('<s>');
  });

  const texts = [
    'Once upon a time, there was a little girl named Lily.',
    "Hello world! How are you?\nI'm fine: 1, 2, 3... 42% of 100 (really).",
    'Café au lait, naïve résumé — 日本語 and 🙂.',
    '  two leading spaces, tabs\tand a CRLF\r\nend  ',
    'x',
  ];
  it('encodes like llama2.c on seeded random concatenations of vocabulary pieces', () => {
    let seed = 12345;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31; // the C library's LCG
      return seed % n;
    };
    const normal = llama2cTokenizer.pieces.slice(259);
    for (let trial = 0; trial < 200; trial++) {
      const text = Array.from({ length: 1 + random(12) }, () => normal[random(normal.length)]).join('');
      expect(tokenizer.encode(text, { add_special_tokens: false }).ids, JSON.stringify(text)).toEqual(
        llama2cEncode(llama2cTokenizer, text),
      );
    }
  });

  for (const text of texts) {
    it(`encodes like llama2.c and round-trips: ${JSON.stringify(text)}`, () => {
      const expected = llama2cEncode(llama2cTokenizer, text);
      expect(tokenizer.encode(text, { add_special_tokens: false }).ids).toEqual(expected);
      const withBos = tokenizer.encode(text).ids;
      expect(withBos).toEqual([1, ...expected]);
      expect(tokenizer.decode(withBos, { skip_special_tokens: true })).toBe(text);
    });
  }
});

describe('damaged files', () => {
  it('refuses a truncated checkpoint with MODEL_CORRUPT', () => {
    expectEngineError(() => readLlama2cCheckpoint(checkpointBytes.subarray(0, checkpointBytes.byteLength - 4)), 'MODEL_CORRUPT');
    expectEngineError(() => readLlama2cCheckpoint(checkpointBytes.subarray(0, 20)), 'MODEL_CORRUPT');
    expect(() => readLlama2cCheckpoint(checkpointBytes.subarray(0, 1000))).toThrow(
      `needs ${checkpointBytes.byteLength} bytes, but the file has 1000`,
    );
  });

  it('refuses a checkpoint whose header is inconsistent with MODEL_CORRUPT', () => {
    const bad = checkpointBytes.slice();
    new DataView(bad.buffer).setInt32(3 * 4, 7, true); // 7 heads do not divide dim 64
    expectEngineError(() => readLlama2cCheckpoint(bad), 'MODEL_CORRUPT');
  });

  it('refuses a truncated tokenizer with MODEL_CORRUPT', () => {
    expectEngineError(() => readLlama2cTokenizer(tokenizerBytes.subarray(0, tokenizerBytes.byteLength - 1), VOCAB), 'MODEL_CORRUPT');
    expectEngineError(() => readLlama2cTokenizer(tokenizerBytes.subarray(0, 2), VOCAB), 'MODEL_CORRUPT');
  });

  it('refuses a tokenizer for a larger vocabulary with MODEL_CORRUPT', () => {
    expectEngineError(() => readLlama2cTokenizer(tokenizerBytes, VOCAB - 1), 'MODEL_CORRUPT');
  });
});
