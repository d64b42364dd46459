// The engine worker through EngineClient, on the real stories260K model: how the cache follows a
// conversation turn by turn (start, continue, roll back, restore, rebuild), stop, and evictions.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPage, type BrowserPage } from '../../lab/browser.ts';
import { STORIES260K_CHECKPOINT, STORIES260K_TOKENIZER } from '../../lab/fixtures.ts';
import { KV_CACHE_DTYPE } from '../../src/protocol/cache.ts';
import type { ChatMessage, Conversation, SamplingParams } from '../../src/protocol/messages.ts';
import type { ChatLab, TurnResult } from './chat/main.ts';

const greedy: SamplingParams = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 };
let browser: BrowserPage;

function call<K extends keyof ChatLab>(method: K, ...args: Parameters<ChatLab[K]>): Promise<Awaited<ReturnType<ChatLab[K]>>> {
  return browser.page.evaluate(
    ([m, a]) => (window.chatLab![m as K] as (...x: unknown[]) => unknown)(...(a as unknown[])),
    [method, args] as const,
  ) as Promise<Awaited<ReturnType<ChatLab[K]>>>;
}

const user = (id: string, content: string): ChatMessage => ({ id, role: 'user', content });
const assistant = (id: string, content: string): ChatMessage => ({ id, role: 'assistant', content });

beforeAll(async () => {
  browser = await openPage('tests/gpu/chat/index.html');
  await browser.page.waitForFunction(() => window.chatLab !== undefined, null, { timeout: 60_000 });
  const info = await call('load', {
    key: 'stories260K',
    label: 'stories260K',
    source: { kind: 'llama2c', checkpointUrl: `/@fs${STORIES260K_CHECKPOINT}`, tokenizerUrl: `/@fs${STORIES260K_TOKENIZER}` },
  }, { mode: 'streaming', nSinks: 4, windowSize: 96, maxChunk: 32, rollbackSlots: 64, dtype: KV_CACHE_DTYPE });
  expect(info).toMatchObject({ key: 'stories260K', nLayers: 5, vocabSize: 512, hasChatTemplate: false });
  expect(info.cache).toMatchObject({ nSinks: 4, windowSize: 96, nTokens: 0 });
});

afterAll(async () => {
  await browser?.close();
});

describe('the engine worker keeps one token stream per conversation', () => {
  const c1: Conversation = { id: 'c1', systemPrompt: '', messages: [user('u1', 'Once upon a time, there was a little dog.')] };
  let first: TurnResult;
  let second: TurnResult;

  it('starts a conversation, then continues it prefilling only the new message', async () => {
    first = await call('turn', c1, 'a1', greedy, 20);
    expect(first.how).toBe('started');
    expect(first.text.length).toBeGreaterThan(10);
    expect(first.streamedText).toBe(first.text);
    expect(first.cache?.spans.map((s) => s.messageId)).toEqual(['u1', 'a1']);

    c1.messages.push(assistant('a1', first.text), user('u2', ' The dog was happy.'));
    second = await call('turn', c1, 'a2', greedy, 20);
    expect(second.how).toBe('continued');
    // ' The dog was happy.' plus the reply's last token, which the generator does not feed.
    expect(second.prefillTokens).toBeLessThan(10);
    expect(second.cache?.spans.map((s) => s.messageId)).toEqual(['u1', 'a1', 'u2', 'a2']);
  });

  it('regenerate rolls the cache back to the reply and, greedy, gives the same reply', async () => {
    const again = await call('turn', c1, 'a2b', greedy, 20);
    expect(again.how).toBe('rolled-back');
    expect(again.text).toBe(second.text);
  });

  it('editing an earlier message rolls back to it and answers the new text', async () => {
    const edited: Conversation = { ...c1, messages: [c1.messages[0], c1.messages[1], user('u2', ' The dog was sad.')] };
    const result = await call('turn', edited, 'a2c', greedy, 20);
    expect(result.how).toBe('rolled-back');
    // Only the edited message is read again, like a continued turn.
    expect(result.prefillTokens).toBeGreaterThan(0);
    expect(result.prefillTokens).toBeLessThan(10);
    expect(result.cache?.spans.map((s) => s.messageId)).toEqual(['u1', 'a1', 'u2', 'a2c']);
    // The same transcript as a new conversation, read whole into a fresh cache: a rollback that left
    // anything of the old turn in the cache (or lost what came before) would answer differently.
    const fresh = await call('turn', { ...edited, id: 'c1-fresh' }, 'a2d', greedy, 20);
    expect(fresh.how).toBe('rebuilt');
    expect(fresh.prefillTokens).toBeGreaterThan(result.prefillTokens);
    expect(result.text).toBe(fresh.text);
    // Token for token the same stream: a stray token of the old turn left in place shows here even
    // when the greedy reply does not change.
    const positions = (r: TurnResult) => r.cache?.spans.map(({ start, end }) => [start, end]);
    expect(positions(result)).toEqual(positions(fresh));
    expect(result.cache?.nTokens).toBe(fresh.cache?.nTokens);
  });

  it('a saved snapshot restores the conversation after another one used the cache', async () => {
    const conv: Conversation = { id: 'c3', systemPrompt: '', messages: [user('x1', 'Tom had a red ball.')] };
    const a = await call('turn', conv, 'y1', greedy, 15);
    conv.messages.push(assistant('y1', a.text), user('x2', ' He threw it.'));
    expect(await call('saveSnapshot', 'c3')).toBeGreaterThan(0);
    const continued = await call('turn', conv, 'y2', greedy, 15);
    expect(continued.how).toBe('continued');

    await call('turn', { id: 'other', systemPrompt: '', messages: [user('o1', 'A cat sat.')] }, 'o2', greedy, 5);
    const restored = await call('turn', conv, 'y2', greedy, 15, { snapshotOf: 'c3' });
    expect(restored.how).toBe('restored-snapshot');
    expect(restored.text).toBe(continued.text);

    await call('turn', { id: 'other', systemPrompt: '', messages: [user('o1', 'A cat sat.')] }, 'o2', greedy, 5);
    const rebuilt = await call('turn', conv, 'y2', greedy, 15);
    expect(rebuilt.how).toBe('rebuilt');
    expect(rebuilt.text).toBe(continued.text); // the transcript still fits the cache: rebuilding is exact
  });

  it('a saved snapshot rolls back to an earlier version of its last reply, chosen since, and answers as a fresh read of that transcript', async () => {
    const conv: Conversation = { id: 'c6', systemPrompt: '', messages: [user('v1', 'Sue had a small cat.')] };
    const one = await call('turn', conv, 'w1', { ...greedy, temperature: 0.9, seed: 1 }, 12);
    expect((await call('turn', conv, 'w1b', { ...greedy, temperature: 0.9, seed: 2 }, 12)).how).toBe('rolled-back');
    expect(await call('saveSnapshot', 'c6')).toBeGreaterThan(0);
    await call('turn', { id: 'other', systemPrompt: '', messages: [user('o1', 'A cat sat.')] }, 'o2', greedy, 5);

    const chosen: Conversation = { ...conv, messages: [...conv.messages, assistant('w1', one.text), user('v2', ' The cat ran.')] };
    const restored = await call('turn', chosen, 'w2', greedy, 15, { snapshotOf: 'c6' });
    expect(restored.how).toBe('rolled-back');
    expect(restored.reason).toMatch(/^Restored the saved cache of this conversation and rolled it back/);
    const fresh = await call('turn', { ...chosen, id: 'c6-fresh' }, 'w2f', greedy, 15);
    expect(fresh.how).toBe('rebuilt');
    expect(restored.text).toBe(fresh.text);
    const positions = (r: TurnResult) => r.cache?.spans.map(({ start, end }) => [start, end]);
    expect(positions(restored)).toEqual(positions(fresh));
  });

  it('stop ends a reply within a token, and the conversation goes on', async () => {
    const conv: Conversation = { id: 'c4', systemPrompt: '', messages: [user('s1', 'Lily went to the park.')] };
    const stopped = await call('turn', conv, 's2', { ...greedy, temperature: 0.8, seed: 3 }, 200, { stopAfterTokens: 3 });
    expect(stopped.finishReason).toBe('aborted');
    expect(stopped.decodeTokens).toBeLessThanOrEqual(5);
    conv.messages.push(assistant('s2', stopped.text), user('s3', ' Then it rained.'));
    const next = await call('turn', conv, 's4', greedy, 10);
    expect(next.how).toBe('continued');
  });

  it('a long conversation streams past the window: tokens are evicted, replies keep coming, old messages leave', async () => {
    const conv: Conversation = { id: 'long', systemPrompt: '', messages: [user('l0', 'Once upon a time, there was a girl named Sue.')] };
    let result: TurnResult | undefined;
    for (let turn = 0; turn < 8; turn++) {
      result = await call('turn', conv, `r${turn}`, { ...greedy, temperature: 0.9, seed: turn }, 40);
      expect(['started', 'continued']).toContain(result.how);
      expect(result.text.length).toBeGreaterThan(0);
      conv.messages.push(assistant(`r${turn}`, result.text), user(`l${turn + 1}`, ' And then?'));
    }
    const cache = result!.cache!;
    expect(cache.nTokens).toBeGreaterThan(4 + 96 + 100);
    expect(cache.evicted).toBe(cache.nTokens - 4 - 96 + 1);
    const gone = cache.spans.filter((s) => s.end <= cache.nTokens - 96 && s.start >= 4);
    expect(gone.length).toBeGreaterThan(0);

    // Editing the last message rolls back; editing one that left the window rebuilds the cache.
    conv.messages.pop(); // the question that was never sent
    const lastQuestion = conv.messages[conv.messages.length - 2];
    const edited: Conversation = { ...conv, messages: [...conv.messages.slice(0, -2), user(lastQuestion.id, ' And then what?')] };
    expect((await call('turn', edited, 'rx', greedy, 5)).how).toBe('rolled-back');
    const far: Conversation = { ...conv, messages: [...conv.messages.slice(0, 2), user('l1', ' And then the sun came out.'), ...conv.messages.slice(3)] };
    const farResult = await call('turn', far, 'ry', greedy, 5);
    expect(farResult.how).toBe('rebuilt');
    expect(farResult.cache!.evicted).toBeGreaterThan(0);

    // The rebuild skipped the middle of the transcript; regenerate still rolls back, twice, to the
    // very cache the reply was written from, so greedy decoding writes the same reply.
    for (const id of ['rz1', 'rz2']) {
      const again = await call('turn', far, id, greedy, 5);
      expect(again.how, id).toBe('rolled-back');
      expect(again.text, id).toBe(farResult.text);
      expect(again.cache!.nTokens).toBe(farResult.cache!.nTokens);
    }
  });

  it('continues a reply cut at the length limit in the same stream: greedy, 6 and 6 more tokens are the 12-token reply', async () => {
    const opening = 'Once upon a time, there was a big tree in the park.';
    const whole = await call('turn', { id: 'c5', systemPrompt: '', messages: [user('k1', opening)] }, 'k2', greedy, 12);
    const conv: Conversation = { id: 'c6', systemPrompt: '', messages: [user('m1', opening)] };
    const part = await call('turn', conv, 'm2', greedy, 6);
    expect(part.finishReason).toBe('max_tokens');
    const more = await call('turn', { ...conv, messages: [...conv.messages, assistant('m2', part.text)] }, 'm2', greedy, 6);
    expect(more.how).toBe('continued');
    expect(more.prefillTokens).toBe(1); // only the last token of the first part, never fed
    expect(part.text + more.text).toBe(whole.text);
    expect(more.streamedText).toBe(more.text);
    expect(more.cache!.spans.map((s) => s.messageId)).toEqual(['m1', 'm2']);
  });

  it('reads a message longer than the window whole, or only what the cache keeps, as the caller asks', async () => {
    const long = Array.from({ length: 8 }, (_, i) => `On day ${i}, Tom and Sue went to the park and played with a big red ball.`).join(' ');
    const first = await call('turn', { id: 'p1', systemPrompt: '', messages: [user('q1', long)] }, 'q2', greedy, 4, { longMessages: 'all' });
    expect(first.how).toBe('started');
    expect(first.prefillTokens).toBeGreaterThan(4 + 96);
    const keptFirst = await call('turn', { id: 'p2', systemPrompt: '', messages: [user('q1', long)] }, 'q2', greedy, 4, { longMessages: 'kept' });
    expect(keptFirst.how).toBe('started');
    expect(keptFirst.prefillTokens).toBe(4 + 96);

    const followUp = async (id: string, rule: 'all' | 'kept') => {
      const conv: Conversation = { id, systemPrompt: '', messages: [user('v1', 'Tom had a red ball.')] };
      const a = await call('turn', conv, 'v2', greedy, 4);
      conv.messages.push(assistant('v2', a.text), user('v3', long));
      return call('turn', conv, 'v4', greedy, 4, { longMessages: rule });
    };
    const all = await followUp('p3', 'all');
    expect(all.how).toBe('continued');
    expect(all.prefillTokens).toBeGreaterThan(96);
    const kept = await followUp('p4', 'kept');
    expect(kept.how).toBe('rebuilt');
    expect(kept.reason).toMatch(/^Read only what the model keeps: the first 4 and the last 96 of [\d,]+ tokens/);
    expect(kept.prefillTokens).toBe(4 + 96);
    expect(kept.cache!.spans.map((s) => s.messageId)).toEqual(['v1', 'v2', 'v3', 'v4']);

    // Longer than the window but not than the cache (4 + 96): nothing would be evicted, so 'kept'
    // reads it whole, as 'all' does (first 4 and last 96 would overlap and repeat tokens).
    const streamOf = async (text: string) => (await call('turn', { id: 'p5', systemPrompt: '', messages: [user('w1', text)] }, 'w2', greedy, 1)).prefillTokens;
    let [lo, hi] = [1, long.length];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((await streamOf(long.slice(0, mid))) > 96) hi = mid;
      else lo = mid + 1;
    }
    const fits = long.slice(0, lo);
    const fitsTokens = await streamOf(fits);
    expect(fitsTokens).toBeGreaterThan(96);
    expect(fitsTokens).toBeLessThanOrEqual(4 + 96);
    const fitsAll = await call('turn', { id: 'p6', systemPrompt: '', messages: [user('x1', fits)] }, 'x2', greedy, 4, { longMessages: 'all' });
    const fitsKept = await call('turn', { id: 'p7', systemPrompt: '', messages: [user('x1', fits)] }, 'x2', greedy, 4, { longMessages: 'kept' });
    expect(fitsKept.prefillTokens).toBe(fitsTokens);
    expect(fitsKept.text).toBe(fitsAll.text);
  });

  it('refuses to chat before a model is loaded, with a sentence', async () => {
    expect(await call('chatWithoutModelFails')).toMatch(/^CONFIG_INVALID: No model is loaded; load one first\.$/);
  });
});
