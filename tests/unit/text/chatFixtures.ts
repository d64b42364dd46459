// Real chat templates (tests/fixtures/chat-templates) and, for each, a small byte-level BPE
// tokenizer.json of the model's kind carrying the model's real special tokens, so that a template
// and a tokenizer meet as they do for the real model.

import { readFileSync } from 'node:fs';

export interface ChatFixture {
  model: string;
  chat_template: string;
  bos_token: string | null;
  eos_token: string;
  added_tokens: { id: number; content: string; special: boolean }[];
  config: { bos_token_id: number; eos_token_id: number | number[] };
  generation_config: { bos_token_id: number; eos_token_id: number | number[]; pad_token_id?: number };
}

export const QWEN25 = 'qwen2.5-0.5b-instruct';
export const QWEN3 = 'qwen3-0.6b';
export const LLAMA32 = 'llama-3.2-1b-instruct';
export const SMOLLM2 = 'smollm2-135m-instruct';

export function loadFixture(name: string): ChatFixture {
  return JSON.parse(readFileSync(new URL(`../../fixtures/chat-templates/${name}.json`, import.meta.url), 'utf8')) as ChatFixture;
}

/** How each family splits text before BPE: Qwen2 and Llama 3 by their regexes, SmolLM2 like GPT-2 with single digits. */
const PRE_TOKENIZERS = {
  qwen2: {
    type: 'Sequence',
    pretokenizers: [
      {
        type: 'Split',
        pattern: { Regex: String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+` },
        behavior: 'Isolated',
        invert: false,
      },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    ],
  },
  llama3: {
    type: 'Sequence',
    pretokenizers: [
      {
        type: 'Split',
        pattern: { Regex: String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+` },
        behavior: 'Isolated',
        invert: false,
      },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  },
  gpt2: {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Digits', individual_digits: true },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    ],
  },
} as const;

export type PreTokenizerKind = keyof typeof PRE_TOKENIZERS;

/** GPT-2's reversible map from bytes to printable characters ('Ġ' is the space, 'Ċ' the newline). */
function byteChars(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const chars: string[] = [];
  let shifted = 0;
  for (let b = 0; b < 256; b++) chars[b] = String.fromCharCode(printable(b) ? b : 256 + shifted++);
  return chars;
}

// A few English merges, so that words become multi-byte tokens and "\n\n" one token, as in the real vocabularies.
const MERGES: [string, string][] = [
  ['Ġ', 't'], ['h', 'e'], ['Ġt', 'he'], ['i', 'n'], ['e', 'r'], ['o', 'n'], ['Ġ', 'a'], ['r', 'e'],
  ['Ċ', 'Ċ'], ['Ġ', 's'], ['a', 't'], ['o', 'u'], ['e', 'n'], ['Ġ', 'w'], ['l', 'l'], ['s', 't'],
  ['Ġ', 'i'], ['Ġ', 'o'], ['in', 'g'], ['Ġ', 'c'], ['i', 's'], ['a', 'n'], ['Ġ', 'h'], ['o', 'r'],
  ['Ġ', 'y'], ['Ġy', 'ou'], ['Ġ', 'm'], ['e', 'd'], ['Ġ', 'b'], ['a', 'r'],
];

/** tokenizer.json and tokenizer_config.json for a fixture's model, with its template and special tokens. */
export function tokenizerFiles(fixture: ChatFixture, kind: PreTokenizerKind): { tokenizerJson: unknown; tokenizerConfig: unknown } {
  const vocab: Record<string, number> = {};
  byteChars().forEach((c, b) => (vocab[c] = b));
  for (const [a, b] of MERGES) vocab[a + b] = Object.keys(vocab).length;
  const added = fixture.added_tokens.map((t) => ({ ...t, single_word: false, lstrip: false, rstrip: false, normalized: false }));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  return {
    tokenizerJson: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: kind === 'qwen2' ? { type: 'NFC' } : null,
      pre_tokenizer: PRE_TOKENIZERS[kind],
      post_processor: byteLevel,
      decoder: byteLevel,
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: '',
        end_of_word_suffix: '',
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        merges: MERGES.map(([a, b]) => `${a} ${b}`),
      },
    },
    tokenizerConfig: {
      added_tokens_decoder: Object.fromEntries(added.map(({ id, ...t }) => [String(id), t])),
      bos_token: fixture.bos_token,
      eos_token: fixture.eos_token,
      chat_template: fixture.chat_template,
      clean_up_tokenization_spaces: false,
      tokenizer_class: 'PreTrainedTokenizerFast',
    },
  };
}
