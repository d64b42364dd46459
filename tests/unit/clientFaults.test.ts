// EngineClient when the engine fails outside a request: the worker crashing, or an error no request
// asked about. The worker is a stand-in object (the component under test is the client): it
// records what the client posts and lets the test fire the events a real Worker would.

import { describe, expect, it } from 'vitest';
import { EngineClient } from '../../src/client/engineClient.ts';
import { EngineError } from '../../src/protocol/errors.ts';
import type { Event, Request } from '../../src/protocol/messages.ts';

class StandInWorker {
  readonly posted: Request[] = [];
  terminated = false;
  onmessage: ((e: MessageEvent<Event>) => void) | null = null;
  onerror: ((e: ErrorEvent) => void) | null = null;
  onmessageerror: ((e: MessageEvent) => void) | null = null;

  postMessage(message: Request): void {
    if (this.terminated) return; // a terminated worker drops messages silently, like a real one
    this.posted.push(message);
  }

  terminate(): void {
    this.terminated = true;
  }

  emit(event: Event): void {
    this.onmessage?.({ data: event } as MessageEvent<Event>);
  }

  crash(message: string): void {
    this.onerror?.({ message, preventDefault() {} } as ErrorEvent);
  }
}

const conversation = { id: 'c', systemPrompt: '', messages: [{ id: 'm', role: 'user' as const, content: 'hi' }] };
const sampling = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 };

function start() {
  const worker = new StandInWorker();
  const client = new EngineClient(worker as unknown as Worker);
  const faults: EngineError[] = [];
  client.onError((e) => faults.push(e));
  return { worker, client, faults };
}

/** Settles within a few event-loop turns, or reports that it still hangs. */
async function settled<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown } | 'pending'> {
  const outcome = promise.then((value) => ({ value }), (error: unknown) => ({ error }));
  return Promise.race([outcome, new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), 20))]);
}

describe('EngineClient when the engine worker fails', () => {
  it('rejects the pending request with a typed INTERNAL when the worker crashes (nothing said the GPU was lost), and tells onError', async () => {
    const { worker, client, faults } = start();
    const reply = client.chat({ conversation, replyId: 'r', sampling, maxTokens: 5 });
    worker.crash('Uncaught RangeError: Array buffer allocation failed');
    const outcome = await settled(reply);
    expect(outcome).not.toBe('pending');
    const error = (outcome as { error: unknown }).error;
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).code).toBe('INTERNAL');
    expect((error as EngineError).message).toBe('Something went wrong in the engine, which stopped unexpectedly (Uncaught RangeError: Array buffer allocation failed). This is a bug in the app, not a problem with your GPU or model: load the model again to go on, and if it happens again, report this message and what you were doing.');
    expect(faults.map((e) => e.code)).toEqual(['INTERNAL']);
    expect(worker.terminated).toBe(true);
  });

  it('rejects requests made after the crash at once instead of leaving them waiting', async () => {
    const { worker, client } = start();
    worker.crash('worker script failed to load');
    const requests: Promise<unknown>[] = [client.snapshot(), client.unload(), client.chat({ conversation, replyId: 'r', sampling, maxTokens: 5 })];
    for (const request of requests) {
      const outcome = await settled(request);
      expect(outcome).not.toBe('pending');
      expect(((outcome as { error: EngineError }).error).code).toBe('INTERNAL');
    }
    client.stop(); // harmless on a dead worker
    expect(worker.posted).toEqual([]);
  });

  it('an error no request asked about (the GPU lost while idle) reaches onError and rejects what was pending', async () => {
    const { worker, client, faults } = start();
    const snapshot = client.snapshot();
    worker.emit({ type: 'error', requestId: null, error: { code: 'DEVICE_LOST', message: 'The GPU was lost. Load the model again.', detail: 'destroyed: ' } });
    const outcome = await settled(snapshot);
    expect(((outcome as { error: EngineError }).error).code).toBe('DEVICE_LOST');
    expect(faults).toHaveLength(1);
    expect(faults[0]).toBeInstanceOf(EngineError);
    expect(faults[0].message).toBe('The GPU was lost. Load the model again.');
  });

  it('an error that answers a request goes to that request only, not to onError', async () => {
    const { worker, client, faults } = start();
    const first = client.chat({ conversation, replyId: 'r', sampling, maxTokens: 5 });
    const second = client.snapshot();
    const chatId = (worker.posted[0] as { requestId: number }).requestId;
    worker.emit({ type: 'error', requestId: chatId, error: { code: 'CONFIG_INVALID', message: 'The message is empty; write something first.' } });
    expect(((await settled(first)) as { error: EngineError }).error.code).toBe('CONFIG_INVALID');
    expect(await settled(second)).toBe('pending');
    expect(faults).toEqual([]);
  });

  it('passes prefill progress to the chat that asked for it', async () => {
    const { worker, client } = start();
    const progress: [number, number][] = [];
    const reply = client.chat({ conversation, replyId: 'r', sampling, maxTokens: 5 }, { onPrefill: (done, total) => progress.push([done, total]) });
    const requestId = (worker.posted[0] as { requestId: number }).requestId;
    worker.emit({ type: 'prefill', requestId, done: 4096, total: 200_000 });
    worker.emit({ type: 'prefill', requestId, done: 8192, total: 200_000 });
    worker.emit({ type: 'done', requestId, finishReason: 'aborted', text: '', stats: { prefillTokens: 200_000, prefillMs: 1, decodeTokens: 0, decodeMs: 0, timeToFirstTokenMs: 0, msPerToken: [] } });
    expect((await reply).finishReason).toBe('aborted');
    expect(progress).toEqual([[4096, 200_000], [8192, 200_000]]);
  });

  it('terminate rejects what is pending and anything later with ABORTED, without calling onError', async () => {
    const { client, faults } = start();
    const pending = client.snapshot();
    client.terminate();
    expect(((await settled(pending)) as { error: EngineError }).error.code).toBe('ABORTED');
    expect(((await settled(client.snapshot())) as { error: EngineError }).error.code).toBe('ABORTED');
    expect(faults).toEqual([]);
  });
});
