// Converts a llama2.c tokenizer (a sentencepiece BPE with byte fallback) into the Hugging Face
// tokenizer.json and tokenizer_config.json that HF writes for Llama-2, so that the engine's one
// tokenizer path (@huggingface/tokenizers) serves llama2.c models too.

import type { Llama2cTokenizer } from './llama2c.ts';

const SPACE = '\u2581'; // '▁', sentencepiece's visible space
const SPECIALS = ['<unk>', '<s>', '</s>'] as const; // ids 0..2 in every llama2.c tokenizer
const BYTE_PIECE = /^<0x[0-9A-F]{2}>$/;

export interface HfTokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

/** HF vocabulary pieces in id order: '▁' for spaces, '<s>' / '</s>' for llama2.c's '\n<s>\n' / '\n</s>\n'. */
function hfPieces(tok: Llama2cTokenizer): string[] {
  return tok.pieces.map((piece, id) => (id < SPECIALS.length ? SPECIALS[id] : piece.replaceAll(' ', SPACE)));
}

/**
 * BPE merges as HF's SentencePieceExtractor derives them: every split of a piece into two
 * pieces of the vocabulary is a merge, ranked by the merged piece's score (best first), ties by
 * the merged piece's id, then the left piece's id. Special and byte pieces never merge, as in
 * sentencepiece.
 */
function bpeMerges(pieces: string[], scores: number[]): [string, string][] {
  const mergeable = new Map<string, number>();
  pieces.forEach((piece, id) => {
    if (id >= SPECIALS.length && !BYTE_PIECE.test(piece) && !mergeable.has(piece)) mergeable.set(piece, id);
  });
  const merges: { left: string; right: string; merged: number; leftId: number }[] = [];
  for (const [piece, merged] of mergeable) {
    // Split on code points: a merge never cuts a character in two.
    const chars = Array.from(piece);
    for (let cut = 1; cut < chars.length; cut++) {
      const left = chars.slice(0, cut).join('');
      const right = chars.slice(cut).join('');
      const leftId = mergeable.get(left);
      if (leftId !== undefined && mergeable.has(right)) merges.push({ left, right, merged, leftId });
    }
  }
  merges.sort((a, b) => scores[b.merged] - scores[a.merged] || a.merged - b.merged || a.leftId - b.leftId);
  return merges.map(({ left, right }) => [left, right]);
}

/** `modelMaxLength` (the trained context) goes to tokenizer_config.json when given. */
export function llama2cTokenizerToHf(tok: Llama2cTokenizer, modelMaxLength?: number): HfTokenizerFiles {
  const pieces = hfPieces(tok);
  const vocab: Record<string, number> = {};
  pieces.forEach((piece, id) => {
    if (!(piece in vocab)) vocab[piece] = id;
  });
  const addedTokens = SPECIALS.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const bos = { SpecialToken: { id: '<s>', type_id: 0 } };
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    // The legacy Llama form: a dummy-prefix space, as llama2.c's encode() adds one.
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: SPACE },
        { type: 'Replace', pattern: { String: ' ' }, content: SPACE },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [bos, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [bos, { Sequence: { id: 'A', type_id: 0 } }, bos, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPACE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: bpeMerges(pieces, tok.scores),
    },
  };
  const tokenizerConfig: Record<string, unknown> = {
    add_bos_token: true,
    add_eos_token: false,
    added_tokens_decoder: Object.fromEntries(addedTokens.map(({ id, ...token }) => [String(id), token])),
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    pad_token: null,
    // Decoded text must come back byte for byte: no " ." -> "." clean-up.
    clean_up_tokenization_spaces: false,
    legacy: true,
    sp_model_kwargs: {},
    tokenizer_class: 'LlamaTokenizer',
  };
  if (modelMaxLength !== undefined) tokenizerConfig.model_max_length = modelMaxLength;
  return { tokenizerJson, tokenizerConfig };
}
