// The engine under faults, for tests/gpu/faults.test.ts: a feed stopped part-way past the window,
// and a GPU device destroyed in the middle of a reply, both in this page (ChatSession on a device
// the page holds) and in the real engine worker through EngineClient.

import onnxProto from 'onnx-proto';
import { EngineClient } from '../../../src/client/engineClient.ts';
import { ChatSession } from '../../../src/engine/chat/chatSession.ts';
import { createGpuContext } from '../../../src/engine/gpu/device.ts';
import { modelFilesFromLlama2c } from '../../../src/engine/files/modelFiles.ts';
import { ModelRunner } from '../../../src/engine/modelRunner.ts';
import { KV_CACHE_DTYPE } from '../../../src/protocol/cache.ts';
import { EngineError } from '../../../src/protocol/errors.ts';
import type { CacheChoice, ChatMessage, Conversation, ModelChoice, SamplingParams, SyncHow } from '../../../src/protocol/messages.ts';

const greedy: SamplingParams = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 };
const CACHE: CacheChoice = { mode: 'streaming', nSinks: 4, windowSize: 96, maxChunk: 32, rollbackSlots: 0, dtype: KV_CACHE_DTYPE };

export interface FailureSeen {
  isEngineError: boolean;
  code: string;
  message: string;
}

export interface StoppedFeed {
  progress: [number, number][];
  error: FailureSeen;
  detail: string | undefined;
  lengthAfter: number;
  tokensPerS: number;
  sameLogitsAfterReset: boolean;
  rolledBack: { error: string; lengthAfter: number };
}

export interface LossResult {
  partial: string;
  error: FailureSeen;
  lostReason: string | null;
  failsAfter: FailureSeen | null;
  faults: FailureSeen[];
  /** Absent in the page: recovery is a new worker, whose onnxruntime-web is a fresh instance. */
  recovered?: { how: SyncHow; text: string; spans: string[]; finishReason: string };
}

const seen = (e: unknown): FailureSeen =>
  e instanceof EngineError ? { isEngineError: true, code: e.code, message: e.message } : { isEngineError: false, code: '', message: String(e) };


async function bytes(path: string): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await (await fetch(`/@fs${path}`)).arrayBuffer());
}

const user = (id: string, content: string): ChatMessage => ({ id, role: 'user', content });

const faultsLab = {
  /** Feeds `total` ids and aborts once progress passes `abortAfter`, far past the window. */
  async stopFeedPastWindow(checkpoint: string, tokenizer: string, total: number, abortAfter: number): Promise<StoppedFeed> {
    const files = modelFilesFromLlama2c(await bytes(checkpoint), await bytes(tokenizer));
    const engine = await ModelRunner.load(files, { ...CACHE, dtype: 'f32' });
    try {
      const ids = Array.from({ length: total }, (_, i) => 256 + ((i * 37) % 200));
      const prompt = [1, ...ids.slice(0, 20)];
      const before = await engine.feed(prompt);
      engine.cache.reset();

      // Start from a stream of 21 tokens: stopping at the very start could always roll back to 0.
      engine.cache.reset();
      await engine.feed(prompt);
      const abort = new AbortController();
      const progress: [number, number][] = [];
      const start = performance.now();
      let error: unknown = null;
      await engine.feed(ids, {
        signal: abort.signal,
        onProgress: (done, all) => {
          progress.push([done, all]);
          if (done >= abortAfter) abort.abort();
        },
      }).catch((e: unknown) => (error = e));
      const elapsed = performance.now() - start;
      const lengthAfter = engine.cache.length - prompt.length;

      engine.cache.reset();
      const after = await engine.feed(prompt);

      // A stop while the feed can still be rolled back leaves the stream as it was.
      engine.cache.reset();
      await engine.feed(prompt);
      const early = new AbortController();
      let earlyError: unknown = null;
      await engine.feed(ids.slice(0, 60), { signal: early.signal, onProgress: () => early.abort() }).catch((e: unknown) => (earlyError = e));
      // 60 ids may finish before the first progress report; abort before it starts then.
      if (!earlyError) {
        engine.cache.reset();
        await engine.feed(prompt);
        early.abort();
        await engine.feed(ids.slice(0, 60), { signal: early.signal }).catch((e: unknown) => (earlyError = e));
      }
      return {
        progress,
        error: seen(error),
        detail: error instanceof EngineError ? error.detail : undefined,
        lengthAfter,
        tokensPerS: (lengthAfter / elapsed) * 1000,
        sameLogitsAfterReset: before.every((x, i) => x === after[i]),
        rolledBack: { error: seen(earlyError).code, lengthAfter: engine.cache.length },
      };
    } finally {
      await engine.unload();
    }
  },

  /** Loads stories260K with one dense-layer node turned into an operator no runtime knows. */
  async loadWithUnknownOperator(checkpoint: string, tokenizer: string): Promise<FailureSeen & { detail: string }> {
    const files = modelFilesFromLlama2c(await bytes(checkpoint), await bytes(tokenizer));
    const model = onnxProto.onnx.ModelProto.decode(files.model);
    const node = model.graph!.node!.find((n) => n.opType === 'Sigmoid' || n.opType === 'Mul')!;
    node.opType = 'Frobnicate';
    node.domain = 'ai.example';
    model.opsetImport!.push({ domain: 'ai.example', version: 1 });
    try {
      const engine = await ModelRunner.load({ ...files, model: onnxProto.onnx.ModelProto.encode(model).finish() }, { ...CACHE, dtype: 'f32' });
      await engine.unload();
      return { isEngineError: false, code: 'LOADED', message: '', detail: '' };
    } catch (e) {
      return { ...seen(e), detail: e instanceof EngineError ? (e.detail ?? '') : '' };
    }
  },

  /** ChatSession on a device this page holds: destroy() it after `afterTokens` streamed pieces. */
  async loseDeviceInPage(model: ModelChoice, afterTokens: number): Promise<LossResult> {
    const gpu = await createGpuContext();
    const engine = await ChatSession.load(model, CACHE, () => {}, gpu);
    const conversation: Conversation = { id: 'lost', systemPrompt: '', messages: [user('u1', 'Once upon a time, there was a little dog named Max.')] };
    let partial = '';
    let pieces = 0;
    let error: unknown = null;
    await engine.chat({ conversation, replyId: 'a1', sampling: greedy, maxTokens: 400 }, {
      onSynced: () => {},
      onCache: () => {},
      onToken: (text) => {
        partial += text;
        if (++pieces === afterTokens) gpu.device.destroy();
      },
    }).catch((e: unknown) => (error = e));
    const lostReason = await engine.deviceLost;
    let failsAfter: FailureSeen | null = null;
    await engine.chat({ conversation, replyId: 'a1', sampling: greedy, maxTokens: 5 }, { onSynced: () => {}, onCache: () => {}, onToken: () => {} }).catch((e: unknown) => (failsAfter = seen(e)));
    // No recovery in this page: onnxruntime-web's wasm instance is one per page, and a device
    // destroyed mid-run can leave it broken ("operation does not support unaligned accesses" on
    // the next session). The app recovers in a new worker, as loseDeviceInWorker does.
    return { partial, error: seen(error), lostReason, failsAfter, faults: [] };
  },

  /** The same through the real engine worker and EngineClient; recovery starts a new worker, as the app does. */
  async loseDeviceInWorker(model: ModelChoice, afterTokens: number): Promise<LossResult> {
    const worker = new Worker(new URL('./faultsWorker.ts', import.meta.url), { type: 'module' });
    const client = new EngineClient(worker);
    const faults: FailureSeen[] = [];
    const reported = new Promise<void>((resolve) =>
      client.onError((e) => {
        faults.push(seen(e));
        resolve();
      }),
    );
    await client.load(model, CACHE);
    const conversation: Conversation = { id: 'lost', systemPrompt: '', messages: [user('u1', 'Once upon a time, there was a little dog named Max.')] };
    let partial = '';
    let pieces = 0;
    let error: unknown = null;
    await client.chat({ conversation, replyId: 'a1', sampling: greedy, maxTokens: 400 }, {
      onToken: (text) => {
        partial += text;
        if (++pieces === afterTokens) worker.postMessage({ type: 'destroyDevice' });
      },
    }).catch((e: unknown) => (error = e));
    // The worker reports the loss itself too, to onError, whether or not a request was running.
    await reported;
    let failsAfter: FailureSeen | null = null;
    await client.chat({ conversation, replyId: 'a1', sampling: greedy, maxTokens: 5 }).catch((e: unknown) => (failsAfter = seen(e)));
    client.terminate();

    const fresh = EngineClient.start();
    let spans: string[] = [];
    fresh.onCache((state) => (spans = state.spans.map((s) => s.messageId)));
    await fresh.load(model, CACHE);
    const next: Conversation = { ...conversation, messages: [...conversation.messages, { id: 'a1', role: 'assistant', content: partial }, user('u2', ' Max was happy.')] };
    let how: SyncHow = 'continued';
    const reply = await fresh.chat({ conversation: next, replyId: 'a2', sampling: greedy, maxTokens: 8 }, { onSynced: (h) => (how = h) });
    fresh.terminate();
    return { partial, error: seen(error), lostReason: null, failsAfter, faults, recovered: { how, text: reply.text, spans, finishReason: reply.finishReason } };
  },
};

export type FaultsLab = typeof faultsLab;
declare global {
  interface Window {
    faultsLab?: FaultsLab;
  }
}
window.faultsLab = faultsLab;
