// The engine as the UI sees it: EngineInterface over the worker protocol. Requests carry
// ids; events are routed back to the call that asked, and errors come back as EngineError. Errors
// that answer no request (a GPU lost while idle, the worker dying) go to onError listeners; once
// the worker is dead every pending and later request rejects instead of waiting forever.

import type { ChatHandlers, ChatResult, EngineInterface, LoadPhase } from '../protocol/engine.ts';
import { EngineError, internalError } from '../protocol/errors.ts';
import {
  snapshotTransfer,
  type CacheChoice, type CacheSnapshot, type CacheState, type Conversation, type Event, type ExperimentPlan, type ExperimentProgress, type ExperimentResult,
  type ExperimentText, type LongMessageRule, type ModelChoice, type ModelInfo, type Request, type SamplingChoice, type TextMeasure,
} from '../protocol/messages.ts';

type Pending = { resolve(value: unknown): void; reject(error: EngineError): void; event(e: Event): void };
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export class EngineClient implements EngineInterface {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly cacheListeners = new Set<(state: CacheState) => void>();
  private readonly errorListeners = new Set<(error: EngineError) => void>();
  /** Why the worker can answer no more requests, once it cannot. */
  private dead: EngineError | null = null;

  constructor(private readonly worker: Pick<Worker, 'postMessage' | 'terminate' | 'onmessage' | 'onerror' | 'onmessageerror'>) {
    worker.onmessage = (message: MessageEvent<Event>) => this.dispatch(message.data);
    // The engine worker catches its own failures, so an error that reaches here means its code
    // failed to load or it crashed: it is ended, and it will answer nothing more. Nothing says the
    // GPU was lost (that arrives as an error event from the worker), so it is a bug.
    worker.onerror = (e) => {
      e.preventDefault();
      this.die(internalError(e.message || 'no reason given', 'the engine, which stopped unexpectedly', undefined, 'load the model again to go on'));
    };
    worker.onmessageerror = () => {
      this.die(internalError('a message it sent could not be read', 'the engine', undefined, 'load the model again to go on'));
    };
  }

  /** Starts the engine worker. */
  static start(): EngineClient {
    return new EngineClient(new Worker(new URL('../engine/engine.worker.ts', import.meta.url), { type: 'module' }));
  }

  load(model: ModelChoice, cache: CacheChoice, onProgress?: (phase: LoadPhase, done: number, total: number) => void): Promise<ModelInfo> {
    return this.request({ type: 'load', model, cache }, (e) => {
      if (e.type === 'progress') onProgress?.(e.phase, e.done, e.total);
    }) as Promise<ModelInfo>;
  }

  /** The snapshot's bytes move to the worker: they are detached here once this is called. */
  chat(conversation: Conversation, replyId: string, sampling: SamplingChoice, maxTokens: number, handlers: ChatHandlers = {}, snapshot?: CacheSnapshot, longMessages: LongMessageRule = 'all'): Promise<ChatResult> {
    const onEvent = (e: Event) => {
      if (e.type === 'synced') handlers.onSynced?.(e.how, e.prefillTokens, e.reason);
      if (e.type === 'prefill') handlers.onPrefill?.(e.done, e.total);
      if (e.type === 'token') handlers.onToken?.(e.text);
    };
    return this.request({ type: 'chat', conversation, replyId, sampling, maxTokens, snapshot, longMessages }, onEvent, snapshotTransfer(snapshot)) as Promise<ChatResult>;
  }

  measureText(text: ExperimentText): Promise<TextMeasure> {
    return this.request({ type: 'measure-text', text }) as Promise<TextMeasure>;
  }

  experiment(plan: ExperimentPlan, onProgress?: (progress: ExperimentProgress) => void): Promise<ExperimentResult> {
    return this.request({ type: 'experiment', plan }, (e) => {
      if (e.type === 'experiment-progress') onProgress?.(e.progress);
    }) as Promise<ExperimentResult>;
  }

  /** Ends the reply being generated at the next token (its promise resolves with 'aborted'), or the experiment after its current feed. */
  stop(): void {
    if (!this.dead) this.worker.postMessage({ type: 'stop' } satisfies Request);
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

  /** Failures that answer no request: the GPU lost while idle, or the worker gone. Returns the
   *  unsubscribe function. */
  onError(listener: (error: EngineError) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** Ends the worker; what is pending rejects with ABORTED, and so does anything asked later. */
  terminate(): void {
    if (this.dead) return;
    this.dead = new EngineError('ABORTED', 'The engine was shut down.');
    this.worker.terminate();
    this.rejectAll(this.dead);
  }

  private die(error: EngineError): void {
    if (this.dead) return;
    this.dead = error;
    this.worker.terminate();
    this.rejectAll(error);
    for (const listener of this.errorListeners) listener(error);
  }

  private rejectAll(error: EngineError): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(error);
  }

  private request(body: DistributiveOmit<Exclude<Request, { type: 'stop' }>, 'requestId'>, onEvent: (e: Event) => void = () => {}, transfer: Transferable[] = []): Promise<unknown> {
    if (this.dead) return Promise.reject(this.dead);
    const requestId = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject, event: onEvent });
      this.worker.postMessage({ ...body, requestId } as Request, transfer);
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
      } else if (event.requestId === null) {
        // The engine is gone (its device was lost): nothing pending will be answered.
        this.rejectAll(error);
        for (const listener of this.errorListeners) listener(error);
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
      case 'measured':
        return settle(event.measure);
      case 'experiment-done':
        return settle(event.result);
      default:
        pending.event(event);
    }
  }
}
