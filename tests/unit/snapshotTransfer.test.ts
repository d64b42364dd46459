// A cache snapshot crosses between the engine worker and the UI by transfer, not by copy: its bytes
// (often hundreds of MB) arrive whole on the other side and are detached on the sender's. The
// messages go through a real MessageChannel, which moves transferred buffers as postMessage between
// a worker and the page does; ChatSession is stood in (the worker entry and the client are under test).

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EngineClient } from '../../src/client/engineClient.ts';
import type { CacheSnapshot, Event, Request } from '../../src/protocol/messages.ts';

const load = vi.fn();
vi.mock('../../src/engine/chat/chatSession.ts', () => ({ ChatSession: { load: (...args: unknown[]) => load(...args) } }));

/** The worker's side of the channel: what it posts arrives on `page`. */
const toPage = new MessageChannel();
const worker: { postMessage(e: Event, transfer?: Transferable[]): void; onmessage?: (m: { data: Request }) => void } = {
  postMessage: (e, transfer = []) => toPage.port1.postMessage(e, transfer),
};
vi.stubGlobal('self', worker);

const received: Event[] = [];
beforeAll(async () => {
  toPage.port2.onmessage = (m: MessageEvent<Event>) => received.push(m.data);
  await import('../../src/engine/engine.worker.ts');
});
afterAll(() => {
  toPage.port1.close();
  toPage.port2.close();
});

function snapshotOf(bytes: Uint8Array): CacheSnapshot {
  return { conversationId: 'c', modelKey: 'm', cacheKey: 'k', systemPrompt: '', held: [], streamIds: [1, 2], spans: [], pending: [], skipped: 0, bytes };
}

const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);
/** Byte for byte (toEqual walks a large array far too slowly). */
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

async function answer<T extends Event['type']>(request: Request, type: T): Promise<Extract<Event, { type: T }>> {
  received.length = 0;
  worker.onmessage!({ data: request });
  await vi.waitFor(() => expect(received.some((e) => e.type === type || e.type === 'error')).toBe(true));
  const event = received.find((e) => e.type === type || e.type === 'error')!;
  expect(event.type, JSON.stringify(event)).toBe(type);
  return event as Extract<Event, { type: T }>;
}

describe('cache snapshots are transferred, not copied', () => {
  it('the worker posts the snapshot with its bytes in the transfer list: they arrive whole and are detached in the worker', async () => {
    const bytes = pattern(1 << 20);
    load.mockResolvedValueOnce({ deviceLost: new Promise(() => {}), info: () => ({}), snapshot: async () => snapshotOf(bytes), unload: async () => {} });
    await answer({ type: 'load', requestId: 1, model: { key: 'm', label: 'm', source: { kind: 'llama2c', checkpointUrl: '', tokenizerUrl: '' } }, cache: { mode: 'streaming', nSinks: 4, windowSize: 64, maxChunk: 32, rollbackSlots: 0, dtype: 'f32' } }, 'loaded');
    const event = await answer({ type: 'snapshot', requestId: 2 }, 'snapshot');
    expect(sameBytes(event.snapshot!.bytes, pattern(1 << 20))).toBe(true);
    expect(event.snapshot!.streamIds).toEqual([1, 2]);
    expect(bytes.buffer.byteLength).toBe(0);
  });

  it('the client sends a snapshot to restore with its bytes in the transfer list: they arrive whole and are detached in the page', async () => {
    const toWorker = new MessageChannel();
    const arrived: Request[] = [];
    toWorker.port2.onmessage = (m: MessageEvent<Request>) => arrived.push(m.data);
    const standIn = { postMessage: (r: Request, transfer: Transferable[] = []) => toWorker.port1.postMessage(r, transfer), terminate() {}, onmessage: null, onerror: null, onmessageerror: null };
    const client = new EngineClient(standIn as unknown as Worker);
    const bytes = pattern(1 << 20);
    const reply = client.chat({
      conversation: { id: 'c', systemPrompt: '', messages: [{ id: 'u', role: 'user', content: 'hi' }] },
      replyId: 'r',
      sampling: { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 },
      maxTokens: 5,
      snapshot: snapshotOf(bytes),
    });
    expect(bytes.buffer.byteLength).toBe(0);
    await vi.waitFor(() => expect(arrived).toHaveLength(1));
    const request = arrived[0] as Extract<Request, { type: 'chat' }>;
    expect(sameBytes(request.chat.snapshot!.bytes, pattern(1 << 20))).toBe(true);
    client.terminate();
    await expect(reply).rejects.toMatchObject({ code: 'ABORTED' });
    toWorker.port1.close();
    toWorker.port2.close();
  });

  it('a snapshot whose bytes are a view into a larger buffer is copied, leaving the buffer alone', async () => {
    const whole = pattern(64);
    const view = whole.subarray(8, 40);
    load.mockResolvedValueOnce({ deviceLost: new Promise(() => {}), info: () => ({}), snapshot: async () => snapshotOf(view), unload: async () => {} });
    await answer({ type: 'load', requestId: 3, model: { key: 'm', label: 'm', source: { kind: 'llama2c', checkpointUrl: '', tokenizerUrl: '' } }, cache: { mode: 'streaming', nSinks: 4, windowSize: 64, maxChunk: 32, rollbackSlots: 0, dtype: 'f32' } }, 'loaded');
    const event = await answer({ type: 'snapshot', requestId: 4 }, 'snapshot');
    expect(event.snapshot!.bytes).toEqual(pattern(64).subarray(8, 40));
    expect(whole.byteLength).toBe(64);
  });
});
