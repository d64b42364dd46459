// The engine's interface, declared once. The worker's Engine (engine/engine.ts) implements it in
// its own thread and EngineClient (client/engineClient.ts) over postMessage, so the compiler keeps
// the two in step, as WebLLM's MLCEngineInterface is both MLCEngine and WebWorkerMLCEngine.

import type { EngineError } from './errors.ts';
import type {
  CacheChoice, CacheSnapshot, CacheState, Conversation, ExperimentPlan, ExperimentProgress, ExperimentResult, ExperimentText, FinishReason, LongMessageRule, ModelChoice,
  ModelInfo, ReplyStats, SamplingChoice, SyncHow, TextMeasure,
} from './messages.ts';

export type LoadPhase = 'fetch' | 'convert' | 'compile';

export interface ChatHandlers {
  onSynced?(how: SyncHow, prefillTokens: number, reason: string): void;
  /** Prompt tokens read so far, while a long prompt is read. */
  onPrefill?(done: number, total: number): void;
  onToken?(text: string): void;
}

export interface ChatResult {
  finishReason: FinishReason;
  text: string;
  stats: ReplyStats;
}

export interface EngineInterface {
  /** Loads a model onto the GPU, unloading the one before. */
  load(model: ModelChoice, cache: CacheChoice, onProgress?: (phase: LoadPhase, done: number, total: number) => void): Promise<ModelInfo>;
  /** Brings the cache in step with `conversation` (continue, roll back, restore `snapshot` or
   *  rebuild), then streams the reply `replyId` to its last message. The snapshot is handed over:
   *  its bytes may be detached (moved to the worker) once this is called. */
  chat(
    conversation: Conversation, replyId: string, sampling: SamplingChoice, maxTokens: number, handlers?: ChatHandlers, snapshot?: CacheSnapshot,
    longMessages?: LongMessageRule,
  ): Promise<ChatResult>;
  /** Ends the reply being generated at the next token; its promise resolves with 'aborted'. Ends
   *  the experiment under way after the feed it is in; its promise resolves with what was measured. */
  stop(): void;
  /** The current conversation's cache, for saving beside its transcript. */
  snapshot(): Promise<CacheSnapshot | null>;
  unload(): Promise<void>;
  /** How many tokens `text` makes for the loaded model, and what an experiment needs to know of the model. */
  measureText(text: ExperimentText): Promise<TextMeasure>;
  /** Scores the plan's arms one after another on caches of their own beside the chat's (whose
   *  conversation and cache it leaves as they were), then the recall check; no reply runs
   *  meanwhile (MODEL_BUSY). Reports the scores as they come; stop() ends it with what was measured. */
  experiment(plan: ExperimentPlan, onProgress?: (progress: ExperimentProgress) => void): Promise<ExperimentResult>;
  /** Live picture of the cache while a reply streams; returns the unsubscribe function. */
  onCache(listener: (state: CacheState) => void): () => void;
  /** Failures that answer no request (the GPU lost while idle); returns the unsubscribe function. */
  onError(listener: (error: EngineError) => void): () => void;
}
