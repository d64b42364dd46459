// The incremental detokenizer against decoding the whole reply every token (what the generator
// did before): the same piece after every token and the same held-back rest, on the real
// tokenizers in tests (stories260K's llama2.c byte-fallback tokenizer, the builder exports' LLaMA
// sentencepiece and Qwen3 byte-level tokenizers), for text with multi-byte characters and leading
// spaces and for random id streams full of byte tokens, partial characters and special tokens.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IncrementalDecoder, type TokenDecoder } from '../../../src/engine/text/incrementalDecoder.ts';
import { TextTokenizer } from '../../../src/engine/text/tokenizer.ts';
import { readLlama2cTokenizer } from '../../../src/engine/llama2c/llama2c.ts';
import { llama2cTokenizerToHf } from '../../../src/engine/llama2c/tokenizerJson.ts';
import { STORIES260K_TOKENIZER } from '../../../lab/fixtures.ts';
import { mulberry32 } from '../../../lab/random.ts';

const EXPORTS = new URL('../../fixtures/builder-exports/', import.meta.url).pathname;
const json = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));

/** The generator's old way: decode every id so far, hold back trailing U+FFFD, show what grew. */
function wholeReplyPieces(decoder: TokenDecoder, ids: readonly number[]): { pieces: string[]; rest: string } {
  const pieces: string[] = [];
  let consumed = '';
  let decoded = '';
  for (let n = 1; n <= ids.length; n++) {
    decoded = decoder.decode(ids.slice(0, n));
    let stable = decoded;
    while (stable.endsWith('\uFFFD')) stable = stable.slice(0, -1);
    const piece = stable.length > consumed.length ? stable.slice(consumed.length) : '';
    consumed += piece;
    pieces.push(piece);
  }
  return { pieces, rest: decoded.slice(consumed.length) };
}

function incrementalPieces(decoder: TokenDecoder, ids: readonly number[]): { pieces: string[]; rest: string } {
  const text = new IncrementalDecoder(decoder);
  const pieces = ids.map((id) => text.push(id));
  return { pieces, rest: text.pending };
}

interface Case {
  name: string;
  load(): TextTokenizer;
  /** Ids of single bytes (<0x00>..<0xFF>) in a byte-fallback vocabulary. */
  byteIds?: [number, number];
  specialIds: number[];
}

const cases: Case[] = [
  {
    name: 'stories260K (llama2.c, byte fallback)',
    load: () => {
      const tok = readLlama2cTokenizer(readFileSync(STORIES260K_TOKENIZER), 512);
      const { tokenizerJson, tokenizerConfig } = llama2cTokenizerToHf(tok);
      return TextTokenizer.load({ tokenizerJson, tokenizerConfig });
    },
    byteIds: [3, 258],
    specialIds: [0, 1, 2],
  },
  ...['tiny-llama', 'tiny-qwen2', 'published/genai-tiny-llama-fp16'].map((folder) => ({
    name: `${folder} (LLaMA sentencepiece, byte fallback)`,
    load: () => TextTokenizer.load({ tokenizerJson: json(`${EXPORTS}${folder}/tokenizer.json`), tokenizerConfig: json(`${EXPORTS}${folder}/tokenizer_config.json`) }),
    byteIds: [3, 258] as [number, number],
    specialIds: folder === 'tiny-qwen2' ? [0, 1, 2, 32000, 32001] : [0, 1, 2],
  })),
  {
    name: 'tiny-qwen3 (Qwen3 byte-level BPE)',
    load: () =>
      TextTokenizer.load({ tokenizerJson: json(`${EXPORTS}tiny-qwen3/tokenizer.json`), tokenizerConfig: json(`${EXPORTS}tiny-qwen3/tokenizer_config.json`) }),
    specialIds: [151643, 151644, 151645, 151667, 151668],
  },
];

const TEXTS = [
  ' Once upon a time, there was a little girl named Lily.',
  'Café au lait, naïve façade — 50 € or £40?\n\n  Indented line\twith a tab.',
  '日本語のテキスト、中文文本，한국어 텍스트 and emoji 😀👍🏽 🇫🇷 mixed in.',
  '   leading spaces, then a newline\n and "quotes", (brackets) [1, 2, 3] {x: y}.',
  '\u00e9\u0301 combining, \u200b zero width, \ud834\udd1e musical, \u{1F9D1}\u200d\u{1F4BB} joined.',
];

describe('IncrementalDecoder gives the same pieces as decoding the whole reply every token', { timeout: 120_000 }, () => {
  for (const c of cases) {
    it(c.name, () => {
      const tokenizer = c.load();
      const decoder: TokenDecoder = { decode: (ids) => tokenizer.decode(ids) };
      const vocab = tokenizer.vocabSize;
      const streams: number[][] = TEXTS.map((t) => tokenizer.encode(t, { continuation: true }));
      // Text replies as a model writes them: bytes of one character may arrive over several tokens.
      expect(streams.some((ids) => c.byteIds === undefined || ids.some((id) => id >= c.byteIds![0] && id <= c.byteIds![1]))).toBe(true);
      const rand = mulberry32(vocab);
      for (let s = 0; s < 12; s++) {
        const ids: number[] = [];
        for (let i = 0; i < 150; i++) {
          const u = rand();
          if (u < 0.35 && c.byteIds) ids.push(c.byteIds[0] + Math.floor(rand() * (c.byteIds[1] - c.byteIds[0] + 1)));
          else if (u < 0.45) ids.push(c.specialIds[Math.floor(rand() * c.specialIds.length)]);
          else if (u < 0.6 && ids.length > 0) ids.push(ids[Math.floor(rand() * ids.length)]);
          else ids.push(Math.floor(rand() * vocab));
        }
        streams.push(ids);
      }
      // Pieces of real text spliced together at random, so characters split over tokens are common.
      for (let s = 0; s < 6; s++) {
        const all = streams.slice(0, TEXTS.length).flat();
        const ids: number[] = [];
        while (ids.length < 150) {
          const at = Math.floor(rand() * all.length);
          ids.push(...all.slice(at, at + 1 + Math.floor(rand() * 12)));
        }
        streams.push(ids);
      }
      let nonEmpty = 0;
      let heldBack = 0;
      for (const [n, ids] of streams.entries()) {
        const want = wholeReplyPieces(decoder, ids);
        const got = incrementalPieces(decoder, ids);
        expect(got.pieces, `stream ${n}: ${JSON.stringify(ids)}`).toEqual(want.pieces);
        expect(got.rest, `stream ${n}`).toBe(want.rest);
        nonEmpty += want.pieces.filter((p) => p !== '').length;
        heldBack += want.pieces.filter((p) => p === '').length;
      }
      // The streams exercise both: text shown at once and text held back for a later token.
      expect(nonEmpty).toBeGreaterThan(500);
      expect(heldBack).toBeGreaterThan(20);
      // The text streams decode back to their text (a reply's leading space aside).
      for (let i = 0; i < TEXTS.length; i++) {
        const got = incrementalPieces(decoder, streams[i]);
        expect(got.pieces.join('') + got.rest).toBe(tokenizer.decode(streams[i]));
      }
    });
  }

  it('decodes only a few ids per token, however long the reply', () => {
    const tokenizer = cases[0].load();
    let longest = 0;
    const decoder: TokenDecoder = {
      decode: (ids) => {
        longest = Math.max(longest, ids.length);
        return tokenizer.decode(ids);
      },
    };
    const text = new IncrementalDecoder(decoder);
    const ids = tokenizer.encode(TEXTS[0].repeat(40), { continuation: true });
    expect(ids.length).toBeGreaterThan(400);
    let all = '';
    for (const id of ids) all += text.push(id);
    expect(all + text.pending).toBe(tokenizer.decode(ids));
    expect(longest).toBeLessThanOrEqual(4);
  });
});
