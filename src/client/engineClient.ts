// The engine as the UI sees it: a small promise-based API over the worker protocol. Requests carry
// ids; events are routed back to the call that asked, and errors come back as EngineError.

import { EngineError } from '../protocol/errors.ts';
import type {
  CacheChoice, CacheSnapshot, CacheState, Conversation, Event, FinishReason, ModelChoice, ModelInfo, ReplyStats, Request, SamplingChoice,
  SyncHow,
} from '../protocol/messages.ts';

export interface ChatHandlers {
  onSynced?(how: SyncHow, prefillTokens: number, reason: string): void;
  onToken?(text: string): void;
}

export interface ChatResult {
  finishReason: FinishReason;
  text: string;
  stats: ReplyStats;
}

type Pending = { resolve(value: unknown): void; reject(error: EngineError): void; event(e: Event): void };
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export class EngineClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly cacheListeners = new Set<(state: CacheState) => void>();

  constructor(private readonly worker: Worker) {
    worker.onmessage = (message: MessageEvent<Event>) => this.dispatch(message.data);
    worker.onerror = (e) => {
      const error = new EngineError('DEVICE_LOST', 'The engine stopped unexpectedly; reload the page to start it again.', e.message);
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    };
  }

  /** Starts the engine worker. */
  static start(): EngineClient {
    return new EngineClient(new Worker(new URL('../engine/engine.worker.ts', import.meta.url), { type: 'module' }));
  }

  load(model: ModelChoice, cache: CacheChoice, onProgress?: (phase: string, done: number, total: number) => void): Promise<ModelInfo> {
    return this.request({ type: 'load', model, cache }, (e) => {
      if (e.type === 'progress') onProgress?.(e.phase, e.done, e.total);
    }) as Promise<ModelInfo>;
  }

  chat(conversation: Conversation, replyId: string, sampling: SamplingChoice, maxTokens: number, handlers: ChatHandlers = {}, snapshot?: CacheSnapshot): Promise<ChatResult> {
    return this.request({ type: 'chat', conversation, replyId, sampling, maxTokens, snapshot }, (e) => {
      if (e.type === 'synced') handlers.onSynced?.(e.how, e.prefillTokens, e.reason);
      if (e.type === 'token') handlers.onToken?.(e.text);
    }) as Promise<ChatResult>;
  }

  /** Ends the reply being generated at the next token; its promise resolves with 'aborted'. */
  stop(): void {
    this.worker.postMessage({ type: 'stop' } satisfies Request);
  }

  snapshot(): Promise<CacheSnapshot | null> {
    return this.request({ type: 'snapshot' }) as Promise<CacheSnapshot | null>;
  }

  unload(): Promise<void> {
    return this.request({ type: 'unload' }) as Promise<void>;
  }

  /** Live picture of the cache; returns the unsubscribe function. */
  onCache(listener: (state: CacheState) => void): () => void {
    this.cacheListeners.add(listener);
    return () => this.cacheListeners.delete(listener);
  }

  terminate(): void {
    this.worker.terminate();
    const error = new EngineError('ABORTED', 'The engine was shut down.');
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }

  private request(body: DistributiveOmit<Exclude<Request, { type: 'stop' }>, 'requestId'>, onEvent: (e: Event) => void = () => {}): Promise<unknown> {
    const requestId = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject, event: onEvent });
      this.worker.postMessage({ ...body, requestId } as Request);
    });
  }

  private dispatch(event: Event): void {
    if (event.type === 'cache') {
      for (const listener of this.cacheListeners) listener(event.state);
      return;
    }
    const pending = event.requestId === null ? undefined : this.pending.get(event.requestId);
    if (event.type === 'error') {
      const error = EngineError.fromJSON(event.error);
      if (pending) {
        this.pending.delete(event.requestId!);
        pending.reject(error);
      } else {
        for (const p of this.pending.values()) p.reject(error);
        this.pending.clear();
      }
      return;
    }
    if (!pending) return;
    const settle = (value: unknown) => {
      this.pending.delete(event.requestId!);
      pending.resolve(value);
    };
    switch (event.type) {
      case 'loaded':
        return settle(event.info);
      case 'done':
        return settle({ finishReason: event.finishReason, text: event.text, stats: event.stats });
      case 'snapshot':
        return settle(event.snapshot);
      case 'unloaded':
        return settle(undefined);
      default:
        pending.event(event);
    }
  }
}
