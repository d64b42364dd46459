// The engine in the worker: EngineInterface in this thread. One ChatSession per loaded model;
// a lost GPU device ends it and is reported to onError, and the next load starts afresh (its first
// turn rebuilds the cache from the transcript).

import type { ChatHandlers, ChatResult, EngineInterface, LoadPhase } from '../protocol/engine.ts';
import { deviceLostError, EngineError } from '../protocol/errors.ts';
import type {
  CacheChoice, CacheSnapshot, CacheState, Conversation, ExperimentPlan, ExperimentProgress, ExperimentResult, ExperimentText, LongMessageRule, ModelChoice, ModelInfo,
  SamplingChoice, TextMeasure,
} from '../protocol/messages.ts';
import { ChatSession } from './chat/chatSession.ts';
import type { GpuContext } from './gpu/device.ts';
import type { DecoderOptions } from './decoder/decoder.ts';
import { runExperiment } from './eval/experiment.ts';
import type { ModelRunner } from './modelRunner.ts';

const EXPERIMENT_RUNNING = 'The experiment is running on the model; stop it, or wait for it to finish, before chatting.';

export class Engine implements EngineInterface {
  private session: ChatSession<ModelRunner> | null = null;
  /** The experiment under way: its stop, and its end (a load waits for it). */
  private experimentRun: { abort: AbortController; done: Promise<unknown> } | null = null;
  /** The ids of the text measured last, so the run that follows does not tokenize it again. */
  private measured: { key: string; ids: number[] } | null = null;
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
    if (this.experimentRun) return Promise.reject(new EngineError('MODEL_BUSY', EXPERIMENT_RUNNING));
    const onCache = (state: CacheState) => {
      for (const listener of this.cacheListeners) listener(state);
    };
    return this.session.chat(conversation, replyId, sampling, maxTokens, { ...handlers, onCache }, snapshot, longMessages);
  }

  stop(): void {
    this.session?.stop();
    this.experimentRun?.abort.abort();
  }

  async measureText(text: ExperimentText): Promise<TextMeasure> {
    const session = this.loaded();
    return { tokens: this.idsOf(session, text).length, trainedContext: session.runner.trainedContext, chunk: session.runner.maxChunk };
  }

  async experiment(plan: ExperimentPlan, onProgress?: (progress: ExperimentProgress) => void): Promise<ExperimentResult> {
    const session = this.loaded();
    if (this.experimentRun) throw new EngineError('MODEL_BUSY', 'An experiment is already running; stop it first.');
    if (session.replying) throw new EngineError('MODEL_BUSY', 'A reply is being written; stop it, or wait for it to finish, before running the experiment.');
    const abort = new AbortController();
    const startedAt = Date.now();
    const ids = this.idsOf(session, plan.text);
    const done = runExperiment(session.runner, ids, plan, { signal: abort.signal, onProgress });
    this.experimentRun = { abort, done: done.catch(() => {}) };
    try {
      const { arms, recall } = await done;
      const { key, label } = session.info();
      return {
        model: { key, label },
        text: { kind: plan.text.kind, title: plan.text.title, tokens: Math.min(plan.tokens, ids.length) },
        trainedContext: session.runner.trainedContext,
        cacheDtype: session.runner.cacheDtype,
        chunk: session.runner.maxChunk,
        arms,
        recall,
        startedAt,
        finishedAt: Date.now(),
      };
    } finally {
      this.experimentRun = null;
    }
  }

  private loaded(): ChatSession<ModelRunner> {
    if (!this.session) throw new EngineError('CONFIG_INVALID', 'No model is loaded; load one first.');
    return this.session;
  }

  /** The ids an experiment's text makes: a text from BOS on, a conversation as the chat feeds it. */
  private idsOf(session: ChatSession<ModelRunner>, text: ExperimentText): number[] {
    const key = JSON.stringify(text);
    if (this.measured?.key !== key) {
      const ids = text.kind === 'text' ? session.runner.tokenizer.encode(text.text, { addSpecialTokens: true }) : session.transcriptIds(text.conversation);
      this.measured = { key, ids };
    }
    return this.measured.ids;
  }

  async snapshot(): Promise<CacheSnapshot | null> {
    return (await this.session?.snapshot()) ?? null;
  }

  async unload(): Promise<void> {
    const running = this.experimentRun;
    running?.abort.abort();
    await running?.done;
    await this.session?.unload();
    this.session = null;
    this.measured = null;
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
