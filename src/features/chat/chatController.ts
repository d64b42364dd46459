// What the chat does: send, regenerate (keeping the earlier versions of the reply), choose a
// version, edit-and-resend and stop. It shapes the transcript the
// engine syncs against (ids stay stable, so the engine can roll its cache back to the branch
// point), streams the reply into the store, and saves the cache snapshot after every reply.

import type { EngineConnection } from '../session/engineConnection.ts';
import { toEngineError } from '../../protocol/errors.ts';
import { Listeners } from '../../protocol/listeners.ts';
import type { ChatMessage, ChatRequest, LongMessageRule, SyncHow } from '../../protocol/messages.ts';
import { loadLongMessageRule } from './longMessages.ts';
import { loadThinking } from './thinkingChoice.ts';
import type { StoredMessage } from '../../storage/records.ts';
import { dropSnapshot, loadSnapshot, saveSnapshot } from '../../storage/snapshots.ts';
import { samplingOf } from '../settings/settings.ts';
import { joinStats } from '../memory/windowMath.ts';
import { loadSettings } from '../settings/settingsStore.ts';
import { newId, type ConversationStore } from './conversationStore.ts';
import { replacing, showVersion } from './replyVersions.ts';

const randomSeed = () => crypto.getRandomValues(new Uint32Array(1))[0];

/** A reply stopped before its first new word. A continued one stays as it was, cut at the length
 *  limit, with Continue offered again. A new one stays, empty, so the stop is said where it
 *  happened (the reading it waited for is lost) with Regenerate beside it: a reply that vanished
 *  would leave the user's message looking unanswered for no reason shown. */
const notStarted = (continued?: StoredMessage): Partial<StoredMessage> =>
  continued ? { content: continued.content, status: 'done', finishReason: 'max_tokens', stats: continued.stats } : { content: '', status: 'stopped', finishReason: 'aborted', stats: undefined };

/** How far the engine has read the prompt of the reply being written. */
export interface PrefillProgress {
  messageId: string;
  done: number;
  total: number;
  /** How the cache was brought in step: a rebuild reads only sinks and window. */
  how: SyncHow | null;
  /** The rule the user chose for this message, when it was a long one; null for any other. */
  rule: LongMessageRule | null;
  /** Seconds left at the rate measured so far; null until two progress reports came. */
  secondsLeft: number | null;
}

/** What the engine sees: empty replies (stopped before any text) add no tokens, so they are left out. */
const toTranscript = (messages: StoredMessage[]): ChatMessage[] =>
  messages.filter((m) => m.content !== '').map(({ id, role, content }) => ({ id, role, content }));

export class ChatController {
  /** Changes a few times a second during a long prefill: kept out of the persisted store. */
  private prefill: PrefillProgress | null = null;
  private readonly prefillNews = new Listeners();
  /** The last reply's snapshot save: the next reply waits for it, the composer does not. */
  private saving: Promise<void> = Promise.resolve();
  /** Stop was pressed during the reply being started: the engine may not have it yet. */
  private stopAsked = false;

  readonly subscribePrefill = this.prefillNews.add;

  readonly getPrefill = (): PrefillProgress | null => this.prefill;

  constructor(
    private readonly session: EngineConnection,
    private readonly store: ConversationStore,
  ) {}

  /** `long`: how to read the message, chosen because it may be longer than the window; null for any other. */
  send(conversationId: string, text: string, long: LongMessageRule | null = null): void {
    const conversation = this.store.get(conversationId);
    if (!conversation || !text.trim()) return;
    const message: StoredMessage = { id: newId(), role: 'user', content: text, createdAt: Date.now() };
    void this.reply(conversationId, [...conversation.messages, message], { long });
  }

  /** A new reply in place of the last one, which it keeps as an earlier version (or a first reply
   *  to a trailing user message). */
  regenerate(conversationId: string): void {
    const messages = this.store.get(conversationId)?.messages ?? [];
    const last = messages.at(-1);
    const transcript = last?.role === 'assistant' ? messages.slice(0, -1) : messages;
    if (transcript.length > 0) void this.reply(conversationId, transcript, { replaced: last?.role === 'assistant' ? last : undefined });
  }

  /** Shows version `index` of the last reply: the one the next turn's prompt reads. The engine
   *  rolls its cache back to where the versions part, when it still holds that point. */
  showReplyVersion(conversationId: string, index: number): void {
    const messages = this.store.get(conversationId)?.messages ?? [];
    const last = messages.at(-1);
    if (last?.role !== 'assistant' || this.store.getState().generating) return;
    const shown = showVersion(last, index);
    if (shown !== last) this.store.setMessages(conversationId, [...messages.slice(0, -1), shown]);
  }

  /** Replaces a user message's text (same id) and answers it; what came after it is dropped. */
  edit(conversationId: string, messageId: string, text: string): void {
    const messages = this.store.get(conversationId)?.messages ?? [];
    const at = messages.findIndex((m) => m.id === messageId);
    if (at < 0 || messages[at].role !== 'user' || !text.trim()) return;
    void this.reply(conversationId, [...messages.slice(0, at), { ...messages[at], content: text }]);
  }

  /** Writes more of the last reply, which stopped at the length limit. */
  continueReply(conversationId: string): void {
    const messages = this.store.get(conversationId)?.messages ?? [];
    const last = messages.at(-1);
    if (last?.role === 'assistant' && last.finishReason === 'max_tokens') void this.reply(conversationId, messages.slice(0, -1), { continued: last });
  }

  stop(): void {
    if (this.store.getState().generating) this.stopAsked = true;
    this.session.stop();
  }

  /** `continued`: the last reply, to be written on (the engine sees it as the transcript's end).
   *  `replaced`: the reply a regenerate writes anew, kept as an earlier version.
   *  `long`: the rule chosen for a long message just sent. */
  private async reply(
    conversationId: string,
    transcript: StoredMessage[],
    { continued, replaced, long = null }: { continued?: StoredMessage; replaced?: StoredMessage; long?: LongMessageRule | null } = {},
  ): Promise<void> {
    const status = this.session.getState().status;
    if (status.kind !== 'ready' || this.store.getState().generating) return;
    const conversation = this.store.get(conversationId);
    if (!conversation) return;
    const settings = loadSettings(status.model.choice.key, status.model.defaults);
    const replyId = continued?.id ?? newId();
    const before = continued?.content ?? '';
    const reply: StoredMessage = continued
      ? { ...continued, status: 'streaming', finishReason: undefined, sync: undefined }
      : replacing(replaced, { id: replyId, role: 'assistant', content: '', createdAt: Date.now(), status: 'streaming', modelLabel: status.model.choice.label });
    this.store.setMessages(conversationId, [...transcript, reply]);
    this.store.setGenerating({ conversationId, messageId: replyId });
    this.stopAsked = false;
    let text = before;
    const rule = long ?? loadLongMessageRule() ?? 'all';
    let how: SyncHow | null = null;
    let firstReport: { at: number; done: number } | null = null;
    try {
      await this.saving;
      // A snapshot matters only when the engine's cache holds another conversation (or none).
      const cacheHoldsIt = this.session.getState().cache?.conversationId === conversationId;
      const snapshot = cacheHoldsIt ? undefined : await loadSnapshot(conversationId, status.settingsKey).catch(() => undefined);
      // A stop pressed while the conversation was being got ready found no reply in the engine.
      if (this.stopAsked) {
        this.store.patchMessage(conversationId, replyId, notStarted(continued), 'now');
        return;
      }
      const request: ChatRequest = {
        conversation: { id: conversationId, systemPrompt: conversation.systemPrompt, messages: toTranscript(continued ? [...transcript, continued] : transcript) },
        replyId,
        sampling: samplingOf(settings, randomSeed()),
        maxTokens: settings.maxTokens,
        snapshot,
        longMessages: rule,
        thinking: loadThinking(),
      };
      const result = await this.session.chat(request, {
        onSynced: (synced, prefillTokens, reason) => {
          // A stop sent before the engine took the reply found nothing to stop: sent again.
          if (this.stopAsked) this.session.stop();
          how = synced;
          this.store.patchMessage(conversationId, replyId, { sync: { how: synced, prefillTokens, reason } }, 'soon');
        },
        onPrefill: (done, total) => {
          const now = performance.now();
          firstReport ??= { at: now, done };
          const rate = done > firstReport.done ? (done - firstReport.done) / ((now - firstReport.at) / 1000) : 0;
          this.setPrefill({ messageId: replyId, done, total, how, rule: long, secondsLeft: rate > 0 ? (total - done) / rate : null });
        },
        onToken: (piece) => {
          if (this.prefill) this.setPrefill(null);
          text += piece;
          this.store.patchMessage(conversationId, replyId, { content: text }, 'soon');
        },
      });
      const stopped = result.finishReason === 'aborted';
      const content = before + result.text;
      const stats = continued?.stats ? joinStats(continued.stats, result.stats) : result.stats;
      const patch: Partial<StoredMessage> = stopped && result.text === '' ? notStarted(continued) : { content, status: stopped ? 'stopped' : 'done', finishReason: result.finishReason, stats };
      this.store.patchMessage(conversationId, replyId, patch, 'now');
      this.saving = this.saveCache(conversationId, status.settingsKey);
    } catch (e) {
      const error = toEngineError(e, 'the reply');
      // ABORTED here means the engine was shut down under the reply (another tab took over).
      this.store.patchMessage(conversationId, replyId, { content: text, status: error.code === 'ABORTED' ? 'interrupted' : 'failed', error: error.message }, 'now');
    } finally {
      this.setPrefill(null);
      this.store.setGenerating(null);
    }
  }

  private setPrefill(prefill: PrefillProgress | null): void {
    this.prefill = prefill;
    this.prefillNews.emit();
  }

  /** Keeps the latest snapshot of the conversation's cache, and its picture for the marks. */
  private async saveCache(conversationId: string, settingsKey: string): Promise<void> {
    const cache = this.session.getState().cache;
    if (cache?.conversationId === conversationId) this.store.setLastCache(conversationId, cache);
    try {
      const snapshot = await this.session.snapshot();
      // No snapshot after a rebuild that skipped tokens: an older one would be stale.
      if (snapshot?.conversationId === conversationId) await saveSnapshot(settingsKey, snapshot);
      else await dropSnapshot(conversationId);
    } catch (e) {
      this.store.reportStorageError(`${toEngineError(e, 'saving the cache snapshot').message} Without a saved cache, this conversation is rebuilt from its transcript when you come back to it.`);
    }
  }
}
