// A model on the GPU and its one token stream: load it, feed tokens, generate replies, and move
// the stream's cache (length, truncate, reset, snapshot) without knowing its layout. The GPU work
// (ORT segments, attention kernel, cache) stays behind Decoder.

import onnxProto from 'onnx-proto';
import { EngineError } from '../protocol/errors.ts';
import type { CacheChoice } from '../protocol/messages.ts';
import { formatBytes } from '../protocol/format.ts';
import { createGpuContext, type GpuContext } from './gpu/device.ts';
import { Decoder, type ForwardOptions, type PhaseProfile } from './decoder/decoder.ts';
import { generate, type GeneratedToken, type GenerateResult } from './generate/generator.ts';
import type { SamplingParams, TopLogits } from './generate/sampler.ts';
import type { KvCacheInfo } from './kv/kvCache.ts';
import type { ModelFiles } from './model/modelFiles.ts';
import { modelRotary } from './model/rotary.ts';
import { splitDecoder, type SplitDecoder } from './model/split/splitDecoder.ts';
import { usesFloat16, widenFloat16 } from './model/split/widenFloat16.ts';
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

export class ModelRunner {
  private constructor(
    readonly gpu: GpuContext,
    private readonly decoder: Decoder,
    readonly tokenizer: TextTokenizer,
    /** Ids that end a reply: the model's EOS and end-of-turn tokens. */
    private readonly stopIds: readonly number[],
  ) {}

  static async load(files: ModelFiles, cache: CacheChoice, gpu?: GpuContext): Promise<ModelRunner> {
    const context = gpu ?? (await createGpuContext());
    const tokenizer = TextTokenizer.load(files, files.generationConfig);
    // Without shader-f16 an fp16 graph cannot run on the GPU: widen it to f32 (int4 weights stay).
    const graph = !context.hasShaderF16 && usesFloat16(files.model) ? widenFloat16(files) : files;
    const split = splitDecoder(graph.model, graph.externalData);
    if (tokenizer.vocabSize > split.vocabSize) {
      throw new EngineError(
        'MODEL_CORRUPT',
        `The tokenizer.json has ${tokenizer.vocabSize} tokens but the model only ${split.vocabSize}: it belongs to another model. Download the model again, or pick the tokenizer that came with it.`,
      );
    }
    const rotary = modelRotary(files.config, split);
    checkWeightsFit(split, context.device.limits);
    const decoder = await Decoder.load(context.device, split, rotary, cache);
    return new ModelRunner(context, decoder, tokenizer, endOfTurnIds(files));
  }

  /** Feeds ids into the stream; logits after the last id, or after every id with `all`. A long
   *  feed reports progress and stops between chunks when its signal aborts. */
  feed(ids: readonly number[], options: ForwardOptions = {}): Promise<Float32Array> {
    return this.decoder.forward(ids, options);
  }

  /** Feeds one id and returns its k best logits picked on the GPU, or the whole row where the GPU
   *  cannot pick (Decoder.forwardTop). */
  feedTop(ids: readonly number[], k: number, options: { signal?: AbortSignal } = {}): Promise<TopLogits | Float32Array> {
    return this.decoder.forwardTop(ids, k, options);
  }

  /** Streams a reply to promptIds (fed first), stopping at the model's end-of-sequence ids. */
  reply(promptIds: readonly number[], options: ReplyOptions): AsyncGenerator<GeneratedToken, GenerateResult, undefined> {
    const model = {
      feed: (ids: readonly number[], signal?: AbortSignal) => this.feed(ids, { signal }),
      feedTop: (ids: readonly number[], k: number, signal?: AbortSignal) => this.feedTop(ids, k, { signal }),
    };
    return generate(model, { decode: (ids) => this.tokenizer.decode(ids) }, promptIds, {
      ...options,
      eosIds: this.stopIds,
    });
  }

  get vocabSize(): number {
    return this.decoder.vocabSize;
  }

  /** Tokens in the stream so far. */
  get length(): number {
    return this.decoder.length;
  }

  /** The cache's shape and fill, as numbers. */
  cacheInfo(): KvCacheInfo {
    return this.decoder.cacheInfo();
  }

  /** Whether the stream can go back to its first `length` tokens: nothing the next token would
   *  see has been overwritten yet. */
  canTruncateTo(length: number): boolean {
    return this.decoder.canTruncateTo(length);
  }

  /** Cuts the stream back to its first `length` tokens; allowed while canTruncateTo(length). */
  truncateTo(length: number): void {
    this.decoder.truncateTo(length);
  }

  /** Forgets the stream; the next token is stream index 0. */
  reset(): void {
    this.decoder.reset();
  }

  /** The stream's cache as bytes, bookkeeping included. */
  snapshot(): Promise<Uint8Array<ArrayBuffer>> {
    return this.decoder.snapshot();
  }

  /** Loads snapshot() bytes of a runner with the same model and cache settings (SNAPSHOT_MISMATCH
   *  otherwise). */
  restore(bytes: Uint8Array<ArrayBuffer>): void {
    this.decoder.restore(bytes);
  }

  /** Times every later feed phase by phase into `phases` (benchmarks only: it serialises CPU and
   *  GPU); null stops. */
  profile(phases: PhaseProfile | null): void {
    this.decoder.profile = phases;
  }

  async unload(): Promise<void> {
    await this.decoder.destroy();
  }
}

/** Refuses, before onnxruntime tries and fails obscurely, a weight larger than one GPU buffer. */
export function checkWeightsFit(split: SplitDecoder, limits: Pick<GPUSupportedLimits, 'maxBufferSize' | 'maxStorageBufferBindingSize'>): void {
  const limit = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  for (const segment of split.segments) {
    const graph = onnxProto.onnx.ModelProto.decode(segment.model).graph;
    for (const tensor of graph?.initializer ?? []) {
      const bytes = Number(tensor.externalData?.find((e) => e.key === 'length')?.value ?? tensor.rawData?.byteLength ?? 0);
      if (bytes > limit) {
        throw new EngineError(
          'DEVICE_LIMIT',
          `The model's weight "${tensor.name}" takes ${formatBytes(bytes)}, but this GPU holds at most ${formatBytes(limit)} in one buffer. Choose a smaller or more quantized model, or use a GPU with larger buffers.`,
        );
      }
    }
  }
}
