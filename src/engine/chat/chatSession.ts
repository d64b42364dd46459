// One loaded model and the conversation stream its cache holds: keeps the KV cache in step with
// the transcript the UI sends (continue it, roll it back for regenerate/edit, restore a saved
// snapshot, or rebuild it from the transcript), generates the reply, and reports what the cache
// holds. Engine (../engine.ts) starts one per load.

import type { ChatHandlers, ChatResult } from '../../protocol/engine.ts';
import { deviceLostError, EngineError } from '../../protocol/errors.ts';
import { cacheIdentity } from '../../protocol/cache.ts';
import { formatCount } from '../../protocol/format.ts';
import type {
  CacheChoice, LoadPhase, CacheSnapshot, CacheState, ChatRequest, ChatMessage, Conversation, LongMessageRule, MessageSpan, ModelChoice, ModelInfo, SyncHow,
} from '../../protocol/messages.ts';
import { createGpuContext, type GpuContext } from '../gpu/device.ts';
import { ModelRunner } from '../modelRunner.ts';
import type { DecoderOptions, FeedOptions } from '../decoder/decoder.ts';
import { generate, type TokenModel } from '../generate/generator.ts';
import type { StreamCache } from '../kv/kvCache.ts';
import { fetchModelFiles } from '../files/fetchModel.ts';
import { ChatTemplate } from '../text/chatTemplate.ts';
import type { TokenDecoder } from '../text/incrementalDecoder.ts';
import { appendIds } from '../text/tokenIds.ts';
import { TurnFormatter, type TemplateKwargs, type TokenEncoder } from './turnFormatter.ts';

/** Generated tokens between two cache-state events while a reply streams. */
const CACHE_EVENT_EVERY = 8;
/** How long a raw GPU failure waits for the device's lost promise before it counts as not a loss. */
const LOST_GRACE_MS = 500;

export interface ChatCallbacks extends ChatHandlers {
  onCache(state: CacheState): void;
}

/** The model a chat runs on (ModelRunner on the GPU; tests give a fake): its token stream, the
 *  stream's cache, its tokenizer and the ids that end a reply. */
export interface ChatModel extends TokenModel {
  /** TokenModel.feed, reporting a long prompt's progress between chunks. */
  feed(ids: readonly number[], options?: FeedOptions): Promise<Float32Array>;
  readonly cache: StreamCache;
  readonly tokenizer: TokenEncoder & TokenDecoder;
  /** Ids that end a reply: the model's EOS and end-of-turn tokens. */
  readonly stopIds: readonly number[];
  /** Texts that end a reply, where the model writes them out of ordinary tokens. */
  readonly stopStrings: readonly string[];
  readonly vocabSize: number;
  unload(): Promise<void>;
}

/** The GPU under the model, as the chat sees it. */
export interface ChatDevice {
  /** The adapter, in words. */
  adapter: string;
  /** Resolves with the browser's reason when the device is lost; never, while it lives. */
  lost: Promise<string>;
}

/** What the cache holds, in transcript terms. */
interface StreamState {
  conversationId: string;
  /** Messages whose tokens are in the stream, as the stream saw them. */
  held: ChatMessage[];
  systemPrompt: string;
  /** Every token of the transcript stream, in order (the cache may hold only sinks + window). */
  ids: number[];
  spans: MessageSpan[];
  /** Transcript tokens between the sinks and the cache's first window token that a rebuild skipped. */
  skipped: number;
  /** Generated ids not fed yet (the last token of a reply that ended on a limit or stop). */
  pending: number[];
}

/** `M`: the model it runs on, which its owner may use beside the chat between replies (the
 *  engine's experiment runs on ModelRunner's other caches). */
export class ChatSession<M extends ChatModel = ChatModel> {
  private stream: StreamState | null = null;
  private abort: AbortController | null = null;
  /** Set once the GPU device is lost: this session is dead and says so. */
  private lostError: EngineError | null = null;
  private readonly lost: Promise<EngineError>;

  constructor(
    readonly runner: M,
    private readonly device: ChatDevice,
    private readonly model: ModelChoice,
    private readonly cacheChoice: CacheChoice,
    private readonly formatter: TurnFormatter,
    /** Positions the model was trained on (config.json's max_position_embeddings), where it says. */
    private readonly trainedContext: number | null = null,
  ) {
    this.lost = device.lost.then((reason) => {
      this.lostError = deviceLostError(reason);
      return this.lostError;
    });
  }

  /** The runner compiles and captures everything a reply runs during the load (DecoderOptions). */
  static async load(
    model: ModelChoice, cache: CacheChoice, onProgress: (phase: LoadPhase, done: number, total: number) => void, gpu?: GpuContext,
    options: DecoderOptions = { graphCapture: true, warmUp: true },
  ): Promise<ChatSession<ModelRunner>> {
    const context = gpu ?? (await createGpuContext());
    const files = await fetchModelFiles(model.source, onProgress);
    onProgress('compile', 0, 1);
    const runner = await ModelRunner.load(files, cache, context, options);
    onProgress('compile', 1, 1);
    const template = ChatTemplate.load({ tokenizerConfig: files.tokenizerConfig, chatTemplateJinja: files.chatTemplateJinja });
    const { adapterInfo } = context;
    const device: ChatDevice = {
      adapter: [adapterInfo.vendor, adapterInfo.architecture, adapterInfo.description].filter(Boolean).join(' '),
      lost: context.device.lost.then((info) => `${info.reason}: ${info.message}`),
    };
    return new ChatSession(runner, device, model, cache, new TurnFormatter(template, runner.tokenizer), files.config.max_position_embeddings ?? null);
  }

  /** Resolves with the browser's reason when the GPU device is lost. */
  get deviceLost(): Promise<string> {
    return this.device.lost;
  }

  info(): ModelInfo {
    return {
      key: this.model.key,
      label: this.model.label,
      nLayers: this.runner.cache.info().nLayers,
      vocabSize: this.runner.vocabSize,
      hasChatTemplate: this.formatter.hasChatTemplate,
      thinkingSwitch: this.formatter.thinkingSwitch,
      trainedContext: this.trainedContext,
      adapter: this.device.adapter,
      cache: this.cacheState(),
    };
  }

  /** Brings the cache in step with `conversation`, then streams the reply to its last message.
   *  A GPU lost on the way rejects with DEVICE_LOST, even if the GPU work never settles. */
  async chat(request: ChatRequest, callbacks: ChatCallbacks): Promise<ChatResult> {
    if (this.lostError) throw this.lostError;
    if (this.abort) throw new EngineError('CONFIG_INVALID', 'A reply is already being generated; stop it first.');
    const lost = this.lost.then((error) => Promise.reject(error));
    try {
      return await Promise.race([this.converse(request, callbacks), lost]);
    } catch (e) {
      throw await this.lostOr(e);
    }
  }

  /** What a failure of GPU work means: a lost device often shows first as an odd error from
   *  onnxruntime or mapAsync, and its lost promise settles a moment later. */
  private async lostOr(e: unknown): Promise<unknown> {
    // Garbage read from a dying device can also surface as MODEL_CORRUPT (non-finite logits).
    if (e instanceof EngineError && e.code !== 'MODEL_CORRUPT') return e;
    const settled = await Promise.race([this.lost, new Promise<null>((resolve) => setTimeout(() => resolve(null), LOST_GRACE_MS))]);
    return settled ?? e;
  }

  private async converse(request: ChatRequest, callbacks: ChatCallbacks): Promise<ChatResult> {
    const { conversation, replyId, sampling, maxTokens, snapshot, longMessages = 'all', thinking } = request;
    const kwargs: TemplateKwargs = thinking !== undefined && this.formatter.thinkingSwitch ? { enable_thinking: thinking } : {};
    const last = conversation.messages[conversation.messages.length - 1];
    if (!last || (last.role === 'user' && last.content.trim() === '')) throw new EngineError('CONFIG_INVALID', 'The message is empty; write something first.');
    // A transcript that ends with the reply itself (same id) asks for more of it: it stopped at the
    // length limit. Under another id, a new reply follows it.
    const continuing = last.role === 'assistant' && last.id === replyId;
    const before = last.content;
    const abort = (this.abort = new AbortController());
    const started = performance.now();
    try {
      const { how, reason, feed } = this.sync(conversation, snapshot, longMessages, kwargs);
      // The reply's own ids so far, when the stream holds it as written (not re-encoded by a rebuild).
      const heldReply = continuing ? this.heldReplyIds(replyId) : null;
      const joint = heldReply ? new ReplyJoint(heldReply, (ids) => this.runner.tokenizer.decode(ids)) : null;
      callbacks.onSynced?.(how, feed.length, reason);
      const prefillIds = feed.length > 0 ? feed : this.refeedLastToken();
      const prefillStart = performance.now();
      let logits: Float32Array;
      try {
        logits = await this.runner.feed(prefillIds, {
          signal: abort.signal,
          // The cache picture moves while a long message is read, not only once it is in.
          onProgress: (done, total) => {
            callbacks.onPrefill?.(done, total);
            callbacks.onCache(this.cacheState());
          },
        });
      } catch (e) {
        // Whatever part of the prompt got in, the stream no longer matches the transcript.
        this.stream = null;
        if (e instanceof EngineError && e.code === 'ABORTED') return emptyReply(prefillIds.length, performance.now() - prefillStart);
        throw e;
      }
      const prefillMs = performance.now() - prefillStart;
      callbacks.onCache(this.cacheState());

      const replyStart = this.stream!.ids.length;
      const times: number[] = [];
      let firstTokenAt = 0;
      const reply = generate(this.runner, this.runner.tokenizer, [], {
        maxTokens, sampling, signal: abort.signal, startLogits: logits, history: this.stream!.ids,
        eosIds: this.runner.stopIds, stopStrings: this.runner.stopStrings,
      });
      let step = await reply.next();
      while (!step.done) {
        times.push(step.value.ms);
        if (!firstTokenAt) firstTokenAt = performance.now();
        if (step.value.text) callbacks.onToken?.(joint ? joint.piece(step.value.id, step.value.text) : step.value.text);
        // The cache picture turns while the reply streams, not only at its end.
        if (step.value.index % CACHE_EVENT_EVERY === CACHE_EVENT_EVERY - 1) callbacks.onCache(this.cacheState());
        step = await reply.next();
      }
      const result = step.value;
      const stream = this.stream!;
      const fedReply = result.fedIds;
      appendIds(stream.ids, fedReply);
      stream.pending = result.ids.slice(fedReply.length);
      const text = joint && result.finishReason !== 'stop_string' ? joint.rest(result.ids, result.text) : result.text;
      const lastHeld = stream.held[stream.held.length - 1];
      if (continuing && lastHeld?.id === replyId) {
        lastHeld.content += text;
        stream.spans[stream.spans.length - 1].end = stream.ids.length;
      } else {
        stream.held.push({ id: replyId, role: 'assistant', content: continuing ? before + text : text });
        stream.spans.push({ messageId: replyId, start: replyStart, end: stream.ids.length });
      }
      callbacks.onCache(this.cacheState());
      return {
        finishReason: result.finishReason,
        text,
        stats: {
          prefillTokens: prefillIds.length,
          prefillMs,
          decodeTokens: result.ids.length,
          decodeMs: times.reduce((a, b) => a + b, 0),
          timeToFirstTokenMs: firstTokenAt ? firstTokenAt - started : 0,
          msPerToken: times,
        },
      };
    } catch (e) {
      this.stream = null; // the cache no longer matches any transcript: the next turn rebuilds
      throw e;
    } finally {
      this.abort = null;
    }
  }

  /** Ids of the stream's last message when it is the reply `replyId`, pending ids included. */
  private heldReplyIds(replyId: string): number[] | null {
    const stream = this.stream;
    const span = stream?.spans[stream.spans.length - 1];
    if (!stream || span?.messageId !== replyId) return null;
    return [...stream.ids.slice(span.start, span.end), ...stream.pending];
  }

  /** The reply needs the logits after the stream's last token; when nothing new is fed (a
   *  regenerate right after the user's message) that token is dropped and fed again. */
  private refeedLastToken(): number[] {
    const last = this.stream!.ids[this.stream!.ids.length - 1];
    this.runner.cache.truncateTo(this.runner.cache.length - 1);
    return [last];
  }

  stop(): void {
    this.abort?.abort();
  }

  /** Whether a reply is being generated. */
  get replying(): boolean {
    return this.abort !== null;
  }

  /** The ids of a conversation's whole transcript as a rebuild feeds them, chat template included. */
  transcriptIds(conversation: Conversation): number[] {
    return this.formatter.append(conversation, 0).ids;
  }

  /** The current conversation's cache, for saving beside its transcript. */
  async snapshot(): Promise<CacheSnapshot | null> {
    const stream = this.stream;
    if (!stream) return null;
    return {
      conversationId: stream.conversationId,
      modelKey: this.model.key,
      cacheKey: this.cacheKey,
      systemPrompt: stream.systemPrompt,
      held: stream.held.map((m) => ({ ...m })),
      streamIds: [...stream.ids],
      spans: stream.spans.map((s) => ({ ...s })),
      pending: [...stream.pending],
      skipped: stream.skipped,
      bytes: await this.runner.cache.snapshot(),
    };
  }

  async unload(): Promise<void> {
    this.stop();
    await this.runner.unload();
  }

  private get cacheKey(): string {
    return cacheIdentity(this.cacheChoice);
  }

  /** Decides how the cache follows the transcript and returns the ids still to feed. */
  private sync(conversation: Conversation, snapshot: CacheSnapshot | undefined, rule: LongMessageRule, kwargs: TemplateKwargs): { how: SyncHow; reason: string; feed: number[] } {
    const synced = this.syncAll(conversation, snapshot, rule, kwargs);
    const { nSinks, windowSize } = this.runner.cache.info();
    // Only a stream longer than the cache loses tokens: one that fits is read whole either way.
    const evicts = this.stream!.ids.length > nSinks + windowSize;
    if (rule === 'kept' && synced.how !== 'rebuilt' && synced.feed.length > windowSize && evicts) return this.keepOnly(synced.how);
    return synced;
  }

  /**
   * The rule 'kept' for a message longer than the window: rather than read tokens that would be
   * evicted before the reply, the cache starts again from the stream's first nSinks and last
   * windowSize tokens, as a rebuild does.
   */
  private keepOnly(how: SyncHow): { how: SyncHow; reason: string; feed: number[] } {
    const stream = this.stream!;
    this.runner.cache.reset();
    const { nSinks, windowSize } = this.runner.cache.info();
    const all = stream.ids;
    const feed = [...all.slice(0, nSinks), ...all.slice(all.length - windowSize)];
    stream.skipped = all.length - feed.length;
    const reason = `Read only what the model keeps: the first ${formatCount(nSinks)} and the last ${formatCount(windowSize)} of ${formatCount(all.length)} tokens, as chosen for long messages.`;
    return { how: how === 'started' ? 'started' : 'rebuilt', reason, feed };
  }

  private syncAll(conversation: Conversation, snapshot: CacheSnapshot | undefined, rule: LongMessageRule, kwargs: TemplateKwargs): { how: SyncHow; reason: string; feed: number[] } {
    let current = this.stream && this.stream.conversationId === conversation.id && this.stream.systemPrompt === conversation.systemPrompt ? this.stream : null;
    let restored = false;
    if (!current && snapshot && this.snapshotFits(snapshot, conversation)) {
      current = this.restore(snapshot);
      restored = true;
      if (sharedPrefix(current.held, conversation.messages) === current.held.length) {
        return { how: 'restored-snapshot', reason: 'Restored the saved cache of this conversation.', feed: this.extend(current, conversation, current.held.length, kwargs) };
      }
    }
    if (current) {
      const same = sharedPrefix(current.held, conversation.messages);
      if (same === current.held.length) {
        return { how: 'continued', reason: 'The cache already holds this conversation.', feed: this.extend(current, conversation, same, kwargs) };
      }
      const branch = this.rollBack(current, same);
      if (branch !== null) {
        const from = restored ? 'Restored the saved cache of this conversation and rolled it' : 'Rolled the cache';
        return { how: 'rolled-back', reason: `${from} back to token ${formatCount(branch)}, where the conversation changed.`, feed: this.extend(current, conversation, same, kwargs) };
      }
    }
    return this.rebuild(conversation, current ? 'The change reaches tokens that already left the cache, so it was rebuilt from the transcript.' : 'Rebuilt the cache from the transcript.', rule, kwargs);
  }

  /** Cuts the stream back to its first `same` messages; the stream index it cut at, or null when
   *  the cache no longer holds that point. */
  private rollBack(stream: StreamState, same: number): number | null {
    const { nSinks } = this.runner.cache.info();
    const branch = stream.spans[same].start;
    const at = cacheIndexOf(stream, branch, nSinks);
    if (at === null || !this.runner.cache.canTruncateTo(at)) return null;
    this.runner.cache.truncateTo(at);
    stream.ids.length = branch;
    // A branch inside the sinks drops every token a rebuild skipped after them.
    if (branch <= nSinks) stream.skipped = 0;
    stream.spans.length = same;
    stream.held.length = same;
    stream.pending = [];
    return branch;
  }

  private restore(snapshot: CacheSnapshot): StreamState {
    this.runner.cache.restore(snapshot.bytes as Uint8Array<ArrayBuffer>);
    this.stream = {
      conversationId: snapshot.conversationId, held: snapshot.held.map((m) => ({ ...m })), systemPrompt: snapshot.systemPrompt,
      ids: [...snapshot.streamIds], spans: snapshot.spans.map((s) => ({ ...s })), skipped: snapshot.skipped ?? 0, pending: [...snapshot.pending],
    };
    return this.stream;
  }

  /** A snapshot of this conversation under this model and cache, holding at least the start of
   *  its transcript: restored, it continues the conversation or rolls back to where it changed
   *  (another version of a reply chosen since it was saved). */
  private snapshotFits(snapshot: CacheSnapshot, conversation: Conversation): boolean {
    return snapshot.modelKey === this.model.key && snapshot.cacheKey === this.cacheKey && snapshot.conversationId === conversation.id &&
      snapshot.systemPrompt === conversation.systemPrompt && snapshot.held.length > 0 && sharedPrefix(snapshot.held, conversation.messages) > 0;
  }

  /** Ids for messages [from, ...) plus any reply token not fed yet; records their spans. */
  private extend(stream: StreamState, conversation: Conversation, from: number, kwargs: TemplateKwargs): number[] {
    const turn = this.formatter.append(conversation, from, kwargs);
    const feed = [...stream.pending, ...turn.ids];
    let at = stream.ids.length + stream.pending.length;
    if (stream.pending.length > 0 && stream.spans.length > 0) stream.spans[stream.spans.length - 1].end += stream.pending.length;
    for (const span of turn.spans) {
      stream.spans.push({ messageId: span.messageId, start: at, end: at + span.length });
      at += span.length;
    }
    appendIds(stream.ids, feed);
    stream.held.push(...conversation.messages.slice(from).map((m) => ({ ...m })));
    stream.pending = [];
    return feed;
  }

  /** A fresh cache from the transcript: its first nSinks tokens, then its last windowSize tokens. */
  private rebuild(conversation: Conversation, reason: string, rule: LongMessageRule, kwargs: TemplateKwargs): { how: SyncHow; reason: string; feed: number[] } {
    this.runner.cache.reset();
    const fresh: StreamState = { conversationId: conversation.id, held: [], systemPrompt: conversation.systemPrompt, ids: [], spans: [], skipped: 0, pending: [] };
    const all = this.extend(fresh, conversation, 0, kwargs);
    const { nSinks, windowSize } = this.runner.cache.info();
    const keep = nSinks + windowSize;
    const starting = conversation.messages.length === 1;
    // A first message is read by the user's rule like any other; a rebuild of an older transcript
    // always reads the sinks and the window only.
    const feed = all.length <= keep || (starting && rule === 'all') ? all : [...all.slice(0, nSinks), ...all.slice(all.length - windowSize)];
    fresh.skipped = all.length - feed.length;
    this.stream = fresh;
    if (starting) return { how: 'started', reason: 'Started the stream of a new conversation.', feed };
    return { how: 'rebuilt', reason, feed };
  }

  cacheState(): CacheState {
    const cache = this.runner.cache.info();
    const stream = this.stream;
    const nTokens = cache.nTokens + (stream?.skipped ?? 0);
    return {
      conversationId: stream?.conversationId ?? null,
      nSinks: cache.nSinks,
      windowSize: cache.windowSize,
      ringSize: cache.ringSize,
      nTokens,
      evicted: cache.evicted + (stream?.skipped ?? 0),
      ring: cache.ring,
      dtype: cache.dtype,
      bytesPerToken: cache.bytesPerToken,
      totalBytes: cache.totalBytes,
      spans: stream ? stream.spans.map((s) => ({ ...s })) : [],
    };
  }
}

/**
 * Where stream token `t` sits in the cache's own numbering: a rebuild fed the first nSinks tokens
 * and then the last window, leaving out `skipped` tokens between them, so later tokens sit
 * `skipped` places earlier. Null for a token among the skipped ones: the cache never held it.
 */
function cacheIndexOf(stream: StreamState, t: number, nSinks: number): number | null {
  if (t <= nSinks) return t;
  if (t < nSinks + stream.skipped) return null;
  return t - stream.skipped;
}

/**
 * Joins the text of a continued reply to what it already said: a tokenizer decodes a word's
 * leading space only when something comes before it, so the new tokens are decoded after the old.
 */
class ReplyJoint {
  private readonly before: string;
  private first = true;

  constructor(
    private readonly previous: number[],
    private readonly decode: (ids: number[]) => string,
  ) {
    this.before = decode(previous);
  }

  /** The first shown piece, with the space the decoder dropped at the start of a sequence. */
  piece(id: number, text: string): string {
    if (!this.first) return text;
    this.first = false;
    const joined = this.decode([...this.previous, id]);
    const added = joined.startsWith(this.before) ? joined.slice(this.before.length) : text;
    return added.endsWith(text) ? added : text;
  }

  /** The whole continuation, decoded after the reply so far. */
  rest(ids: number[], text: string): string {
    const joined = this.decode([...this.previous, ...ids]);
    return joined.startsWith(this.before) ? joined.slice(this.before.length) : text;
  }
}

function emptyReply(prefillTokens: number, prefillMs: number): ChatResult {
  return { finishReason: 'aborted', text: '', stats: { prefillTokens, prefillMs, decodeTokens: 0, decodeMs: 0, timeToFirstTokenMs: 0, msPerToken: [] } };
}

function sharedPrefix(held: ChatMessage[], messages: ChatMessage[]): number {
  let k = 0;
  while (k < held.length && k < messages.length && held[k].id === messages[k].id && held[k].role === messages[k].role && held[k].content === messages[k].content) k++;
  return k;
}
