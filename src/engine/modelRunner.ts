// A model on the GPU and its one token stream, as the decode loop (generate/generator.ts) and the
// chat (chat/chatSession.ts) use it: load it, feed tokens, pick the next one's candidates on the
// GPU, and the stream's cache as a narrow interface. The GPU work (ORT segments, attention kernel,
// cache) stays behind Decoder.

import onnxProto from 'onnx-proto';
import { EngineError } from '../protocol/errors.ts';
import { formatBytes } from '../protocol/format.ts';
import type { CacheChoice, CacheDtype, CacheLayout } from '../protocol/messages.ts';
import { createGpuContext, type GpuContext } from './gpu/device.ts';
import { Decoder, type DecoderOptions, type ForwardOptions, type PhaseProfile } from './decoder/decoder.ts';
import type { ScoringModel } from './eval/score.ts';
import type { TokenModel } from './generate/generator.ts';
import type { TopLogits } from './kernels/topLogits.ts';
import type { StreamCache } from './kv/kvCache.ts';
import type { ModelFiles } from './model/modelFiles.ts';
import { modelRotary } from './model/rotary.ts';
import { splitDecoder, type SplitDecoder } from './model/split/splitDecoder.ts';
import { usesFloat16, widenFloat16 } from './model/split/widenFloat16.ts';
import { loadModelText } from './text/modelText.ts';
import type { TextTokenizer } from './text/tokenizer.ts';

export class ModelRunner implements TokenModel {
  private constructor(
    readonly gpu: GpuContext,
    private readonly decoder: Decoder,
    readonly tokenizer: TextTokenizer,
    /** Ids that end a reply: the model's EOS and end-of-turn tokens. */
    readonly stopIds: readonly number[],
    /** Texts that end a reply: generation_config's stop strings and the end-of-turn tokens spelled out. */
    readonly stopStrings: readonly string[],
    /** Positions the model was trained on (config.json's max_position_embeddings), where stated. */
    readonly trainedContext: number | null,
  ) {}

  static async load(files: ModelFiles, cache: CacheChoice, gpu?: GpuContext, options: DecoderOptions = { graphCapture: true }): Promise<ModelRunner> {
    const context = gpu ?? (await createGpuContext());
    const { tokenizer, stopIds, stopStrings } = loadModelText(files);
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
    const decoder = await Decoder.load(context.device, split, rotary, cache, options);
    const trained = files.config.max_position_embeddings;
    return new ModelRunner(context, decoder, tokenizer, stopIds, stopStrings, trained !== undefined && Number.isInteger(trained) && trained > 0 ? trained : null);
  }

  /** Feeds ids into the stream; logits after the last id, or after every id with `all`. A long
   *  feed reports progress and stops between chunks when its signal aborts. */
  feed(ids: readonly number[], options: ForwardOptions = {}): Promise<Float32Array> {
    return this.decoder.forward(ids, options);
  }

  /** Feeds one id and returns its k best logits outside `penalized` and the raw logits of those,
   *  picked on the GPU, or the whole row where the GPU cannot pick (Decoder.forwardTop). */
  feedTop(ids: readonly number[], k: number, penalized: readonly number[], options: { signal?: AbortSignal } = {}): Promise<TopLogits | Float32Array> {
    return this.decoder.forwardTop(ids, k, penalized, options);
  }

  get vocabSize(): number {
    return this.decoder.vocabSize;
  }

  /** The stream's cache: its fill, roll-back, reset and snapshots. */
  get cache(): StreamCache {
    return this.decoder.cache;
  }

  /** Largest chunk a feed runs in one pass, for withCache's caches too. */
  get maxChunk(): number {
    return this.decoder.maxChunk;
  }

  get cacheDtype(): CacheDtype {
    return this.decoder.cacheDtype;
  }

  /** Runs `work` on a cache of its own, laid out as `choice` says (Decoder.withCache): same
   *  weights, sessions and buffers; this runner's own cache is untouched, and feeds go to it again
   *  once `work` settles. */
  withCache<T>(choice: CacheLayout, work: (model: ScoringModel) => Promise<T>): Promise<T> {
    return this.decoder.withCache(choice, (cache) => work({ vocabSize: this.vocabSize, cache, feed: (ids, options) => this.feed(ids, options) }));
  }

  /** Segments that replay a captured graph for one-token chunks, of all segments. */
  get capturedSegments(): { captured: number; total: number } {
    return this.decoder.capturedSegments;
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
