// Exposes the real engine worker, through the same EngineClient the UI uses, to tests/gpu/chat.test.ts.

import { EngineClient } from '../../../src/client/engineClient.ts';
import type { CacheChoice, CacheSnapshot, CacheState, Conversation, LongMessageRule, ModelChoice, SamplingParams, SyncHow } from '../../../src/protocol/messages.ts';
import { EngineError } from '../../../src/protocol/errors.ts';

const client = EngineClient.start();
let lastCache: CacheState | null = null;
client.onCache((state) => (lastCache = state));
const snapshots = new Map<string, CacheSnapshot>();

export interface TurnResult {
  how: SyncHow;
  reason: string;
  prefillTokens: number;
  text: string;
  streamedText: string;
  finishReason: string;
  cache: CacheState | null;
  decodeTokens: number;
}

const chatLab = {
  async load(model: ModelChoice, cache: CacheChoice) {
    return client.load(model, cache);
  },
  /** One turn; `stopAfterTokens` presses stop once that many text pieces streamed. */
  async turn(conversation: Conversation, replyId: string, sampling: SamplingParams, maxTokens: number, options: { stopAfterTokens?: number; snapshotOf?: string; longMessages?: LongMessageRule } = {}): Promise<TurnResult> {
    let synced = { how: 'continued' as SyncHow, reason: '', prefillTokens: 0 };
    let streamedText = '';
    let pieces = 0;
    const snapshot = options.snapshotOf ? snapshots.get(options.snapshotOf) : undefined;
    // The client hands the snapshot's bytes over to the worker: it can be used once.
    if (options.snapshotOf) snapshots.delete(options.snapshotOf);
    const result = await client.chat({ conversation, replyId, sampling, maxTokens, snapshot, longMessages: options.longMessages }, {
      onSynced: (how, prefillTokens, reason) => (synced = { how, prefillTokens, reason }),
      onToken: (text) => {
        streamedText += text;
        if (++pieces === options.stopAfterTokens) client.stop();
      },
    });
    return { ...synced, text: result.text, streamedText, finishReason: result.finishReason, cache: lastCache, decodeTokens: result.stats.decodeTokens };
  },
  async saveSnapshot(name: string): Promise<number> {
    const snapshot = await client.snapshot();
    if (!snapshot) return 0;
    snapshots.set(name, snapshot);
    return snapshot.bytes.byteLength;
  },
  async chatWithoutModelFails(): Promise<string> {
    const other = EngineClient.start();
    try {
      await other.chat({
        conversation: { id: 'x', systemPrompt: '', messages: [{ id: 'm', role: 'user', content: 'hi' }] },
        replyId: 'r',
        sampling: { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 },
        maxTokens: 5,
      });
      return 'NO_ERROR';
    } catch (e) {
      return e instanceof EngineError ? `${e.code}: ${e.message}` : String(e);
    } finally {
      other.terminate();
    }
  },
};

export type ChatLab = typeof chatLab;
declare global {
  interface Window {
    chatLab?: ChatLab;
  }
}
window.chatLab = chatLab;
