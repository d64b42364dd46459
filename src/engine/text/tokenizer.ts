// Text <-> token ids through the model's own tokenizer.json and tokenizer_config.json, via
// @huggingface/tokenizers (the tokenizer of transformers.js), never per-model code. Which ids and
// texts end a reply is endOfTurn.ts's to say, from all of the model's configs.

import { Tokenizer } from '@huggingface/tokenizers';
import { EngineError } from '../../protocol/errors.ts';

export interface TokenizerFiles {
  tokenizerJson: unknown;
  tokenizerConfig: unknown;
}

/** A character no vocabulary merges with its neighbours (private use, spelled in byte tokens). */
const ANCHOR = '\uE000';

export class TextTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    /** Whether every input gets a word-start marker (sentencepiece's "▁") before its first word. */
    private readonly marksInputStart: boolean,
  ) {}

  static load(files: TokenizerFiles): TextTokenizer {
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(files.tokenizerJson as object, files.tokenizerConfig as object);
    } catch (e) {
      throw new EngineError('MODEL_CORRUPT', 'The model\'s tokenizer.json could not be read; download the model again.', String(e));
    }
    return new TextTokenizer(tokenizer, marksInputStart(files.tokenizerJson));
  }

  /** One past the largest id the tokenizer can produce, added tokens included. */
  get vocabSize(): number {
    let max = -1;
    for (const id of this.tokenizer.get_vocab(true).values()) max = Math.max(max, id);
    return max + 1;
  }

  /**
   * Token ids of `text`, with the tokenizer's own special tokens (such as BOS) when asked. With
   * `continuation`, as `text` reads after text already in the stream: sentencepiece-style
   * tokenizers mark the start of every input as a word start (" </s>" would become "▁▁", where
   * the conversation rendered whole has "▁"), so the text is encoded behind an anchor that is
   * then cut off.
   */
  encode(text: string, options: { addSpecialTokens?: boolean; continuation?: boolean } = {}): number[] {
    const encode = (t: string) => this.tokenizer.encode(t, { add_special_tokens: options.addSpecialTokens ?? false }).ids;
    if (!options.continuation || !this.marksInputStart) return encode(text);
    const anchor = encode(ANCHOR);
    const both = encode(ANCHOR + text);
    return anchor.every((id, i) => both[i] === id) ? both.slice(anchor.length) : encode(text);
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    return this.tokenizer.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? true });
  }
}

/** Prepend normalizers and Metaspace pre-tokenizers that prefix every input with "▁". */
function marksInputStart(tokenizerJson: unknown): boolean {
  const json = tokenizerJson as { normalizer?: unknown; pre_tokenizer?: unknown } | null;
  const parts = (step: unknown): Record<string, unknown>[] => {
    if (typeof step !== 'object' || step === null) return [];
    const s = step as Record<string, unknown>;
    const inner = (s.normalizers ?? s.pretokenizers) as unknown[] | undefined;
    return Array.isArray(inner) ? inner.flatMap(parts) : [s];
  };
  return [...parts(json?.normalizer), ...parts(json?.pre_tokenizer)].some(
    (p) => p.type === 'Prepend' || (p.type === 'Metaspace' && (p.prepend_scheme === 'always' || p.prepend_scheme === 'first' || p.add_prefix_space === true)),
  );
}
