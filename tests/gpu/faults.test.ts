// The engine under faults on the real stories260K model in headless Chromium: a long feed stopped
// part-way after it pushed tokens out of the window, and a real device.destroy() in the middle of
// a reply, in the page and in the engine worker; each ends in a typed error and the engine recovers.

import { describe, expect, it } from 'vitest';
import { useLabPage } from './labPage.ts';
import { STORIES260K_CHECKPOINT, STORIES260K_TOKENIZER } from '../../lab/fixtures.ts';
import type { FaultsLab } from './page/faults.ts';
import type { ModelChoice } from '../../src/protocol/messages.ts';

const { call } = useLabPage<FaultsLab>('tests/gpu/page/faults.html', 'faultsLab');

const model: ModelChoice = {
  key: 'stories260K',
  label: 'stories260K',
  source: { kind: 'llama2c', checkpointUrl: `/@fs${STORIES260K_CHECKPOINT}`, tokenizerUrl: `/@fs${STORIES260K_TOKENIZER}` },
};

describe('a feed stopped part-way', () => {
  it('stops between chunks even after it pushed tokens out of the window, reports progress, and the next feed works', async () => {
    const result = await call('stopFeedPastWindow', STORIES260K_CHECKPOINT, STORIES260K_TOKENIZER, 20_000, 200);
    console.log(`feed of 20,000 ids stopped at ${result.lengthAfter}: ${Math.round(result.tokensPerS)} tokens/s prefill (SwiftShader)`);
    expect(result.error).toMatchObject({ isEngineError: true, code: 'ABORTED' });
    expect(result.detail).toMatch(/^The stream keeps \d+ of the 20000 ids of this feed/);
    // Progress climbs, counts whole chunks, and the stream stops right where the last report was.
    const dones = result.progress.map(([done]) => done);
    expect(dones.length).toBeGreaterThan(0);
    expect(dones.every((d, i) => i === 0 || d > dones[i - 1])).toBe(true);
    expect(result.progress.every(([done, total]) => total === 20_000 && done % 32 === 0)).toBe(true);
    const stoppedAt = dones[dones.length - 1];
    expect(stoppedAt).toBeGreaterThanOrEqual(200);
    expect(stoppedAt).toBeLessThan(20_000);
    // Past 4 + 96 tokens there is no rollback: the stream keeps what it read, which is the last
    // report plus the one chunk of 32 the GPU was still reading.
    expect(result.lengthAfter).toBe(stoppedAt + 32);
    expect(result.sameLogitsAfterReset).toBe(true);
    // Stopped while the feed can still be undone: the stream is as it was before the feed.
    expect(result.rolledBack).toEqual({ error: 'ABORTED', lengthAfter: 21 });
  });
});

describe('a model onnxruntime cannot run', () => {
  it('an operator no runtime knows is refused with MODEL_UNSUPPORTED and a sentence, naming it in the detail', async () => {
    const result = await call('loadWithUnknownOperator', STORIES260K_CHECKPOINT, STORIES260K_TOKENIZER);
    expect(result).toMatchObject({ isEngineError: true, code: 'MODEL_UNSUPPORTED' });
    expect(result.message).toMatch(/operators the WebGPU backend lacks/);
    expect(result.detail).toMatch(/Frobnicate/);
  });
});

describe('the GPU device lost in the middle of a reply', () => {
  it('in the page: chat rejects with DEVICE_LOST, deviceLost resolves, and every later chat fails with DEVICE_LOST', async () => {
    const result = await call('loseDeviceInPage', model, 5);
    expect(result.partial.length).toBeGreaterThan(0);
    expect(result.error).toMatchObject({ isEngineError: true, code: 'DEVICE_LOST' });
    expect(result.error.message).toMatch(/Load the model again/);
    expect(result.lostReason).toMatch(/^destroyed: /);
    expect(result.failsAfter).toMatchObject({ isEngineError: true, code: 'DEVICE_LOST' });
  });

  it('in the engine worker: the reply rejects with DEVICE_LOST, onError hears of it, and a new worker rebuilds and replies', async () => {
    const result = await call('loseDeviceInWorker', model, 5);
    expect(result.partial.length).toBeGreaterThan(0);
    expect(result.error).toMatchObject({ isEngineError: true, code: 'DEVICE_LOST' });
    expect(result.error.message).toMatch(/Load the model again/);
    expect(result.faults).toEqual([expect.objectContaining({ isEngineError: true, code: 'DEVICE_LOST' })]);
    expect(result.failsAfter).toMatchObject({ isEngineError: true, code: 'CONFIG_INVALID' });
    expect(result.recovered?.how).toBe('rebuilt');
    expect(result.recovered?.spans).toEqual(['u1', 'a1', 'u2', 'a2']);
    expect(result.recovered?.text.length).toBeGreaterThan(0);
  });
});
