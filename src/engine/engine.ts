// The engine's public surface: load a model onto the GPU, feed tokens, generate replies. The GPU
// work (ORT segments, attention kernel, cache) stays behind Decoder.

import { createGpuContext, type GpuContext } from './gpu/device.ts';
import { Decoder, type CacheSettings } from './decoder/decoder.ts';
import { generate, type GeneratedToken, type GenerateResult } from './generate/generator.ts';
import type { SamplingParams } from './generate/sampler.ts';
import { rotaryFromConfig, type ModelFiles } from './model/modelFiles.ts';
import { splitDecoder } from './model/splitDecoder.ts';
import { endOfTurnIds } from './text/endOfTurn.ts';
import { TextTokenizer } from './text/tokenizer.ts';

export interface ReplyOptions {
  maxTokens: number;
  sampling: SamplingParams;
  stopStrings?: readonly string[];
  signal?: AbortSignal;
  /** Logits after the stream's last token, to reply without feeding a prompt first. */
  startLogits?: Float32Array;
  /** Ids already in the stream, for the repetition penalty. */
  history?: readonly number[];
}

export class Engine {
  private constructor(
    readonly gpu: GpuContext,
    readonly decoder: Decoder,
    readonly tokenizer: TextTokenizer,
    /** Ids that end a reply: the model's EOS and end-of-turn tokens. */
    readonly stopIds: readonly number[],
  ) {}

  static async load(files: ModelFiles, cache: CacheSettings, gpu?: GpuContext): Promise<Engine> {
    const context = gpu ?? (await createGpuContext());
    const tokenizer = TextTokenizer.load(files, files.generationConfig);
    const split = splitDecoder(files.model, files.externalData);
    const decoder = await Decoder.load(context.device, split, rotaryFromConfig(files.config), cache);
    return new Engine(context, decoder, tokenizer, endOfTurnIds(files));
  }

  /** Feeds ids into the stream; logits after the last id, or after every id with `all`. */
  feed(ids: readonly number[], options: { all?: boolean; signal?: AbortSignal } = {}): Promise<Float32Array> {
    return this.decoder.forward(ids, options);
  }

  /** Streams a reply to promptIds (fed first), stopping at the model's end-of-sequence ids. */
  reply(promptIds: readonly number[], options: ReplyOptions): AsyncGenerator<GeneratedToken, GenerateResult, undefined> {
    const model = { feed: (ids: readonly number[], signal?: AbortSignal) => this.decoder.forward(ids, { signal }) };
    return generate(model, { decode: (ids) => this.tokenizer.decode(ids) }, promptIds, {
      ...options,
      eosIds: this.stopIds,
    });
  }

  async unload(): Promise<void> {
    await this.decoder.destroy();
  }
}
