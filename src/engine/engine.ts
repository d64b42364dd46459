// The engine in the worker: EngineInterface in this thread. One ChatSession per loaded model;
// a lost GPU device ends it and is reported to onError, and the next load starts afresh (its first
// turn rebuilds the cache from the transcript).

import type { ChatHandlers, ChatResult, EngineInterface, LoadPhase } from '../protocol/engine.ts';
import { deviceLostError, EngineError } from '../protocol/errors.ts';
import type { CacheChoice, CacheSnapshot, CacheState, Conversation, LongMessageRule, ModelChoice, ModelInfo, SamplingChoice } from '../protocol/messages.ts';
import { ChatSession } from './chat/chatSession.ts';
import type { GpuContext } from './gpu/device.ts';
import type { DecoderOptions } from './decoder/decoder.ts';

export class Engine implements EngineInterface {
  private session: ChatSession | null = null;
  private readonly cacheListeners = new Set<(state: CacheState) => void>();
  private readonly errorListeners = new Set<(error: EngineError) => void>();

  /** `gpu`: the context every load runs on; by default each load creates its own. `decoder`: how
   *  every load runs its decoder (ChatSession.load's default unless given: benchmarks compare). */
  constructor(
    private readonly gpu?: GpuContext,
    private readonly decoder?: DecoderOptions,
  ) {}

  async load(model: ModelChoice, cache: CacheChoice, onProgress: (phase: LoadPhase, done: number, total: number) => void = () => {}): Promise<ModelInfo> {
    await this.unload();
    const session = await ChatSession.load(model, cache, onProgress, this.gpu, this.decoder);
    this.session = session;
    session.deviceLost.then((reason) => {
      if (this.session !== session) return;
      this.session = null;
      const error = deviceLostError(reason);
      for (const listener of this.errorListeners) listener(error);
    });
    return session.info();
  }

  chat(conversation: Conversation, replyId: string, sampling: SamplingChoice, maxTokens: number, handlers: ChatHandlers = {}, snapshot?: CacheSnapshot, longMessages?: LongMessageRule): Promise<ChatResult> {
    if (!this.session) return Promise.reject(new EngineError('CONFIG_INVALID', 'No model is loaded; load one first.'));
    const onCache = (state: CacheState) => {
      for (const listener of this.cacheListeners) listener(state);
    };
    return this.session.chat(conversation, replyId, sampling, maxTokens, { ...handlers, onCache }, snapshot, longMessages);
  }

  stop(): void {
    this.session?.stop();
  }

  async snapshot(): Promise<CacheSnapshot | null> {
    return (await this.session?.snapshot()) ?? null;
  }

  async unload(): Promise<void> {
    await this.session?.unload();
    this.session = null;
  }

  onCache(listener: (state: CacheState) => void): () => void {
    this.cacheListeners.add(listener);
    return () => this.cacheListeners.delete(listener);
  }

  onError(listener: (error: EngineError) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }
}
