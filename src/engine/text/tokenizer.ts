// Text <-> token ids through the model's own tokenizer.json and tokenizer_config.json, via
// @huggingface/tokenizers (the tokenizer of transformers.js); special-token ids come from the
// model's files, never from per-model code.

import { Tokenizer } from '@huggingface/tokenizers';
import { EngineError } from '../../protocol/errors.ts';

export interface TokenizerFiles {
  tokenizerJson: unknown;
  tokenizerConfig: unknown;
}

export class TextTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly bosId: number | undefined,
    readonly eosIds: readonly number[],
  ) {}

  static load(files: TokenizerFiles, generationConfig: { eos_token_id?: number | number[]; bos_token_id?: number } = {}): TextTokenizer {
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(files.tokenizerJson as object, files.tokenizerConfig as object);
    } catch (e) {
      throw new EngineError('MODEL_CORRUPT', 'The model\'s tokenizer.json could not be read; download the model again.', String(e));
    }
    const config = files.tokenizerConfig as { bos_token?: string | { content: string }; eos_token?: string | { content: string } };
    const idOf = (token: string | { content: string } | undefined) =>
      token === undefined ? undefined : tokenizer.token_to_id(typeof token === 'string' ? token : token.content);
    const eosFromConfig = generationConfig.eos_token_id;
    const eosIds = [
      ...(Array.isArray(eosFromConfig) ? eosFromConfig : eosFromConfig !== undefined ? [eosFromConfig] : []),
      idOf(config.eos_token),
    ].filter((id): id is number => id !== undefined);
    return new TextTokenizer(tokenizer, generationConfig.bos_token_id ?? idOf(config.bos_token), [...new Set(eosIds)]);
  }

  /** One past the largest id the tokenizer can produce, added tokens included. */
  get vocabSize(): number {
    let max = -1;
    for (const id of this.tokenizer.get_vocab(true).values()) max = Math.max(max, id);
    return max + 1;
  }

  /** Token ids of `text`, with the tokenizer's own special tokens (such as BOS) when asked. */
  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? false }).ids;
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    return this.tokenizer.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? true });
  }
}
