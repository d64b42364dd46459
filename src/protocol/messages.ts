// The worker protocol: every message between the UI (client/) and the engine worker
// (engine/engine.worker.ts), as one discriminated union each way. Plain data only, so it survives
// structured cloning; errors travel as EngineErrorData and are rebuilt on the UI side.

import type { EngineErrorData } from './errors.ts';

export type AttentionMode = 'streaming' | 'window' | 'dense';

/** Element type of the KV cache buffers: f32, or f16 packed two per u32. */
export type CacheDtype = 'f32' | 'f16';

/** A model as named bytes, whichever source it came from: the model cache, a folder served over
 *  HTTP, files the user picked. The store hands it out; the worker turns it into a model. */
export interface ModelBlobs {
  /** Where the model came from: a cache id, a folder URL, or "local:<folder name>". */
  id: string;
  /** Path inside the model folder or repository ("onnx/model.onnx") to its bytes. */
  files: Record<string, Blob>;
}

/** Where a model's files come from. */
export type ModelSource =
  /** A llama2.c checkpoint and its tokenizer at URLs (the app's own server, or the hub). */
  | { kind: 'llama2c'; checkpointUrl: string; tokenizerUrl: string }
  /** An ONNX folder at a base URL: model file (+ external data) and the JSON files beside it. */
  | { kind: 'onnx'; baseUrl: string; modelFile: string; externalDataFiles?: string[] }
  /** Files by path in the model's folder or repository: the model cache's (backed by OPFS) or
   *  files picked on this computer. Blobs cross to the worker without copying their bytes. */
  | { kind: 'blobs'; id: string; files: Record<string, Blob>; onnxFile?: string };

export interface ModelChoice {
  /** Stable key for settings and snapshots, e.g. "stories260K". */
  key: string;
  label: string;
  source: ModelSource;
}

/** The cache's layout, the one declaration of it: what the UI asks for, and what the ring and the GPU buffers are built from. */
export interface CacheChoice {
  mode: AttentionMode;
  /** Attention sinks S (forced to 0 in window and dense modes). */
  nSinks: number;
  /** Window W of recent tokens; in dense mode the most tokens the cache can ever hold. */
  windowSize: number;
  /** Largest number of tokens appended in one call (prefill chunk), a power of two. */
  maxChunk: number;
  /** Extra ring slots that keep recently evicted tokens, so a regenerate or edit that goes back
   *  at most this many tokens further can still roll the cache back instead of rebuilding it; absent, none. */
  rollbackSlots?: number;
  /** What K and V are kept in: f16 holds twice the tokens in the same bytes, f32 is exact. */
  dtype: CacheDtype;
}

/** A cache laid out beside the stream's (the experiment's arms): it keeps the stream's dtype. */
export type CacheLayout = Omit<CacheChoice, 'dtype'>;

/**
 * How a message longer than the window is read: 'all' feeds every token (the exact streaming state,
 * slow for a long paste); 'kept' feeds only what the cache keeps afterwards, the stream's first
 * nSinks and last windowSize tokens (fast; the middle is never read).
 */
export type LongMessageRule = 'all' | 'kept';

/** How a token is drawn from the logits, in Hugging Face's order: penalty, temperature, top-k, top-p. */
export interface SamplingParams {
  /** 0 picks the most likely token (greedy); higher values flatten the distribution. */
  temperature: number;
  /** Keep only the k most likely tokens; 0 turns it off. */
  topK: number;
  /** Keep the smallest set of most likely tokens whose probability reaches topP; 1 turns it off. */
  topP: number;
  /** CTRL-style penalty on recently seen tokens; 1 turns it off, above 1 discourages repeats. */
  repetitionPenalty: number;
  /** Seed of the PRNG, a whole number from 0 to 4294967295: the same seed gives the same draws. */
  seed: number;
}

/** What a load is doing: reading the files, converting a llama2.c checkpoint, compiling for the GPU. */
export type LoadPhase = 'fetch' | 'convert' | 'compile';

/** One reply asked of the engine, as WebLLM's ChatCompletionRequest is: a new option is one field here. */
export interface ChatRequest {
  conversation: Conversation;
  /** The reply to write: the id of the conversation's last message. */
  replyId: string;
  sampling: SamplingParams;
  maxTokens: number;
  /** The conversation's saved cache, restored when the engine holds another stream. It is handed
   *  over: its bytes may be detached (moved to the worker) once the request is sent. */
  snapshot?: CacheSnapshot;
  /** How to read a message longer than the window; every token ('all') unless told. */
  longMessages?: LongMessageRule;
  /** Whether a model that can be told (ModelInfo.thinkingSwitch) thinks before it answers; its
   *  template's default unless told. */
  thinking?: boolean;
}

export type Role = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  id: string;
  role: Role;
  content: string;
}

export interface Conversation {
  id: string;
  systemPrompt: string;
  /** The transcript, oldest first; the reply goes after the last message. */
  messages: ChatMessage[];
}

/** A saved KV cache of one conversation, valid for one model and cache setting. */
export interface CacheSnapshot {
  conversationId: string;
  modelKey: string;
  cacheKey: string;
  systemPrompt: string;
  /** Messages in the stream, as the stream saw them. */
  held: ChatMessage[];
  /** The conversation's token stream, and which message each token came from. */
  streamIds: number[];
  spans: MessageSpan[];
  /** Generated ids not yet fed (the last token of a reply that ended on a limit or stop). */
  pending: number[];
  /** Transcript tokens a rebuild left out between the sinks and the window. */
  skipped: number;
  bytes: Uint8Array;
}

/**
 * What postMessage should transfer rather than copy with a message carrying `snapshot`: the
 * buffer of its bytes (often hundreds of MB), when the bytes are all of it. The sender's copy is
 * detached: it hands the snapshot over.
 */
export function snapshotTransfer(snapshot: CacheSnapshot | null | undefined): ArrayBuffer[] {
  const bytes = snapshot?.bytes;
  return bytes && bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? [bytes.buffer] : [];
}

/** Stream indices [start, end) of one message's tokens. */
export interface MessageSpan {
  messageId: string;
  start: number;
  end: number;
}

/** Where the ring stands for the next token to be fed, in the terms the memory panel draws. */
export interface RingPicture {
  /** Ring slots written so far (the slots after the sinks). */
  filled: number;
  /** Times the writes have gone all the way round the ring. */
  turns: number;
  /** The ring position (from 0, after the sinks) that the next token beyond the sinks writes. */
  next: number;
  /** The first stream index past the sinks that the next token sees: V(nTokens)'s window starts here. */
  windowStart: number;
}

export interface CacheState {
  conversationId: string | null;
  nSinks: number;
  windowSize: number;
  /** Slots of the ring after the sinks: the window, a prefill chunk's headroom and the rollback slots. */
  ringSize: number;
  /** Tokens in the stream so far. */
  nTokens: number;
  /** Tokens the next token can no longer see. */
  evicted: number;
  /** The ring as RingLayout sees it for the next token; the UI draws it, never recomputes it. */
  ring: RingPicture;
  dtype: CacheDtype;
  bytesPerToken: number;
  totalBytes: number;
  spans: MessageSpan[];
}

export type SyncHow = 'started' | 'continued' | 'rolled-back' | 'restored-snapshot' | 'rebuilt';

export interface ReplyStats {
  prefillTokens: number;
  prefillMs: number;
  decodeTokens: number;
  decodeMs: number;
  timeToFirstTokenMs: number;
  /** ms per generated token, in order (for the latency chart). */
  msPerToken: number[];
}

export type FinishReason = 'eos' | 'stop_string' | 'max_tokens' | 'aborted';

export interface ModelInfo {
  key: string;
  label: string;
  nLayers: number;
  vocabSize: number;
  hasChatTemplate: boolean;
  /** The chat template takes enable_thinking: replies can be asked to skip the thinking. */
  thinkingSwitch: boolean;
  /** Positions the model was trained on, where its config says: sinks plus window stay within it. */
  trainedContext: number | null;
  adapter: string;
  cache: CacheState;
}

// The experiment (the paper's perplexity over a long text, on the loaded model): what the
// Experiment view asks for, what comes back while it runs, and the result it saves and exports.

/** How an arm attends: a cache mode, or the paper's sliding window with recomputation (every token
 *  re-reads its sinks and window afresh, costing sinks + window tokens of work a token). */
export type ArmMode = AttentionMode | 'recompute';

export interface ExperimentArm {
  /** Its name in plain words, on the chart and in the table ("StreamingLLM 4+60"). */
  label: string;
  mode: ArmMode;
  /** Attention sinks S: streaming and recompute only, 0 otherwise. */
  sinks: number;
  /** The window W; for dense, the most tokens its cache holds. */
  window: number;
  /** Tokens of the text it scores at most (dense: what its cache holds; recompute: its cap); absent, all of them. */
  limit?: number;
}

/** The text an experiment scores: given as text (the shipped book, the user's own), or the
 *  conversation as the chat feeds it (chat template included). */
export type ExperimentText =
  | { kind: 'text'; title: string; text: string }
  | { kind: 'conversation'; title: string; conversation: Conversation };

/** A planted fact and a question asking for it `distance` tokens later, scored with sinks + window
 *  and, where it fits, with dense attention. */
export interface RecallPlan {
  sinks: number;
  window: number;
  /** Tokens of text between the end of the fact and the question, one check each. */
  distances: number[];
  /** Also check with dense attention, whose cache holds every token: the same question with nothing evicted. */
  dense: boolean;
}

export interface ExperimentPlan {
  text: ExperimentText;
  /** How many tokens of the text are scored (from its first), at most its length. */
  tokens: number;
  arms: ExperimentArm[];
  recall?: RecallPlan;
}

/** What the engine says about a text and the loaded model before a run. */
export interface TextMeasure {
  /** Tokens the text makes with the loaded model's tokenizer. */
  tokens: number;
  /** Positions the model was trained on, where its config states it. */
  trainedContext: number | null;
  /** Tokens per feed while scoring (the model's prefill chunk). */
  chunk: number;
}

/** 'stopped': Stop came while it ran, and what it had measured is kept; 'not-run': Stop came before it started. */
export type ArmStatus = 'done' | 'stopped' | 'not-run';

export interface ArmResult {
  arm: ExperimentArm;
  status: ArmStatus;
  /** The token ids scored; the first is context only. */
  ids: number[];
  /** Negative log-likelihood in nats of each id after the first: one shorter than `ids`, shorter
   *  still when stopped (then it covers ids[1 .. nll.length]). */
  nll: number[];
  /** Time per scored token (a feed's time shared by the ids it scored). */
  msPerToken: number[];
}

export interface RecallResult {
  distance: number;
  /** Whether the fact was still inside the sinks + window when the answer was due. */
  insideWindow: boolean;
  /** Each answer token given a probability above 1/2 with sinks + window. */
  answered: boolean;
  /** The same with dense attention; null where it was not checked. */
  answeredDense: boolean | null;
}

export interface ExperimentResult {
  model: { key: string; label: string };
  text: { kind: ExperimentText['kind']; title: string; tokens: number };
  trainedContext: number | null;
  /** The KV cache's element type in every arm. */
  cacheDtype: CacheDtype;
  /** Tokens per feed. */
  chunk: number;
  arms: ArmResult[];
  recall: RecallResult[];
  startedAt: number;
  finishedAt: number;
}

/** Scores that arrived since the last report, a few times a second while an arm runs; then the
 *  recall check's distances as each is checked. */
export type ExperimentProgress =
  | {
      kind: 'arm';
      /** Index of the arm in the plan. */
      arm: number;
      /** NLL and ms of the ids scored since the last report, in order. */
      nll: number[];
      msPerToken: number[];
      /** Ids of this arm scored so far, of `total`. */
      done: number;
      total: number;
    }
  | { kind: 'recall'; done: number; total: number };

export type Request =
  | { type: 'load'; requestId: number; model: ModelChoice; cache: CacheChoice }
  | { type: 'chat'; requestId: number; chat: ChatRequest }
  | { type: 'stop' }
  | { type: 'snapshot'; requestId: number }
  | { type: 'unload'; requestId: number }
  | { type: 'measure-text'; requestId: number; text: ExperimentText }
  | { type: 'experiment'; requestId: number; plan: ExperimentPlan };

export type Event =
  | { type: 'progress'; requestId: number; phase: LoadPhase; done: number; total: number }
  | { type: 'loaded'; requestId: number; info: ModelInfo }
  | { type: 'synced'; requestId: number; how: SyncHow; prefillTokens: number; reason: string }
  /** Prompt tokens read so far while a long prompt is read (a few times a second). */
  | { type: 'prefill'; requestId: number; done: number; total: number }
  | { type: 'token'; requestId: number; text: string }
  | { type: 'cache'; state: CacheState }
  | { type: 'done'; requestId: number; finishReason: FinishReason; text: string; stats: ReplyStats }
  | { type: 'snapshot'; requestId: number; snapshot: CacheSnapshot | null }
  | { type: 'unloaded'; requestId: number }
  | { type: 'measured'; requestId: number; measure: TextMeasure }
  | { type: 'experiment-progress'; requestId: number; progress: ExperimentProgress }
  | { type: 'experiment-done'; requestId: number; result: ExperimentResult }
  | { type: 'error'; requestId: number | null; error: EngineErrorData };
