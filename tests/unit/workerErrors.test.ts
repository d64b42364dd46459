// The engine worker's entry under failures, with ChatSession stood in: a bug while loading is
// posted as INTERNAL, and only the device's own lost promise makes it post DEVICE_LOST. What it
// posts goes through a structured clone, as postMessage sends it.

import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { Event, Request } from '../../src/protocol/messages.ts';

const load = vi.fn();
vi.mock('../../src/engine/chat/chatSession.ts', () => ({ ChatSession: { load: (...args: unknown[]) => load(...args) } }));

const posted: Event[] = [];
const worker: { postMessage(e: Event): void; onmessage?: (m: { data: Request }) => void } = { postMessage: (e) => posted.push(structuredClone(e)) };
vi.stubGlobal('self', worker);

beforeAll(async () => {
  await import('../../src/engine/engine.worker.ts');
});

const request: Extract<Request, { type: 'load' }> = { type: 'load', requestId: 1, model: { key: 'm', label: 'm', source: { kind: 'llama2c', checkpointUrl: '', tokenizerUrl: '' } }, cache: { mode: 'streaming', nSinks: 4, windowSize: 64, maxChunk: 32, rollbackSlots: 0, dtype: 'f16' } };

const errors = () => posted.filter((e): e is Extract<Event, { type: 'error' }> => e.type === 'error');

/** The errors posted once the worker has answered the load: with 'loaded' or an error for it. */
async function errorsAfter(send: Extract<Request, { type: 'load' }>): Promise<Extract<Event, { type: 'error' }>[]> {
  posted.length = 0;
  worker.onmessage!({ data: send });
  await vi.waitFor(() => expect(posted.some((e) => (e.type === 'loaded' || e.type === 'error') && e.requestId === send.requestId)).toBe(true));
  return errors();
}

describe('the engine worker', () => {
  it('posts an ordinary bug (a TypeError) as INTERNAL for the request that met it, not as a lost GPU', async () => {
    load.mockRejectedValueOnce(new TypeError("Cannot read properties of undefined (reading 'dims')"));
    const reported = await errorsAfter(request);
    expect(reported).toHaveLength(1);
    expect(reported[0].requestId).toBe(1);
    expect(reported[0].error.code).toBe('INTERNAL');
    expect(reported[0].error.message).toContain("Something went wrong in the engine worker, on a load request (TypeError: Cannot read properties of undefined (reading 'dims')).");
  });

  it('posts DEVICE_LOST, to no request, when the device says it is lost', async () => {
    let lose!: (reason: string) => void;
    const deviceLost = new Promise<string>((resolve) => (lose = resolve));
    load.mockResolvedValueOnce({ deviceLost, info: () => ({}), unload: async () => {} });
    expect(await errorsAfter(request)).toEqual([]);
    lose('destroyed: the device was destroyed');
    await vi.waitFor(() => expect(errors()).toHaveLength(1));
    expect(errors()).toEqual([{ type: 'error', requestId: null, error: expect.objectContaining({ code: 'DEVICE_LOST', detail: 'destroyed: the device was destroyed' }) }]);
  });
});
