// ChatSession's policy (continue, roll back, restore a snapshot, rebuild; what the cache picture
// reports) in Node, on a fake model: a character tokenizer and a cache that keeps the real ring
// bookkeeping (RingLayout) with the stream's ids instead of GPU buffers. The GPU runs of the same
// policy are tests/gpu/chat.test.ts; these cover its cases in milliseconds.

import { describe, expect, it } from 'vitest';
import { ChatSession, type ChatModel } from '../../../src/engine/chat/chatSession.ts';
import { TurnFormatter } from '../../../src/engine/chat/turnFormatter.ts';
import type { FeedOptions } from '../../../src/engine/decoder/decoder.ts';
import { IdCache } from '../fakeStreamCache.ts';
import { ChatTemplate } from '../../../src/engine/text/chatTemplate.ts';
import { EngineError } from '../../../src/protocol/errors.ts';
import qwen3 from '../../fixtures/chat-templates/qwen3-0.6b.json' with { type: 'json' };
import type { CacheChoice, CacheSnapshot, ChatMessage, Conversation, SamplingParams, SyncHow } from '../../../src/protocol/messages.ts';

const VOCAB = 128;
const BOS = 1;
const EOS = 2;
/** The fake model's reply: these characters, then EOS. */
const REPLY = ' ok.';
const GREEDY: SamplingParams = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 };

/** How the fake model writes: its every reply, and the texts that end a reply (its files' stop strings). */
interface FakeWriting {
  reply?: string;
  stopStrings?: string[];
}

/** A model whose every turn is `reply` (REPLY unless told): after a prompt it predicts the reply's
 *  first character, after each character of it fed back the next one, and EOS after the whole of it. */
class FakeModel implements ChatModel {
  readonly cache: IdCache;
  readonly stopIds = [EOS];
  readonly stopStrings: readonly string[];
  readonly vocabSize = VOCAB;
  readonly feeds: number[][] = [];
  private readonly reply: string;
  /** Characters of the reply fed back one at a time since the last prompt. */
  private said = 0;
  readonly tokenizer = {
    encode: (text: string) => [...text].map((c) => (c === '\u0001' ? BOS : c.charCodeAt(0))),
    decode: (ids: readonly number[]) => String.fromCharCode(...ids.filter((id) => id > EOS)),
  };

  constructor(choice: CacheChoice, writing: FakeWriting = {}) {
    this.cache = new IdCache(choice);
    this.reply = writing.reply ?? REPLY;
    this.stopStrings = writing.stopStrings ?? [];
  }

  async feed(ids: readonly number[], options: FeedOptions = {}): Promise<Float32Array> {
    if (options.signal?.aborted) throw new EngineError('ABORTED', 'Stopped.');
    this.feeds.push([...ids]);
    this.cache.append(ids);
    this.said = ids.length === 1 && ids[0] === this.reply.charCodeAt(this.said) ? this.said + 1 : 0;
    const logits = new Float32Array(VOCAB);
    logits[this.said < this.reply.length ? this.reply.charCodeAt(this.said) : EOS] = 10;
    return logits;
  }

  async unload(): Promise<void> {}
}

const choice = (windowSize: number, rollbackSlots = 0): CacheChoice => ({ mode: 'streaming', nSinks: 2, windowSize, maxChunk: 8, rollbackSlots, dtype: 'f32' });

function session(cache: CacheChoice, writing?: FakeWriting, template = ChatTemplate.load({ tokenizerConfig: { bos_token: '\u0001' } })): { chat: ChatSession; model: FakeModel } {
  const model = new FakeModel(cache, writing);
  const formatter = new TurnFormatter(template, model.tokenizer);
  const chat = new ChatSession(model, { adapter: 'fake', lost: new Promise<string>(() => {}) }, { key: 'fake', label: 'fake', source: { kind: 'llama2c', checkpointUrl: '', tokenizerUrl: '' } }, cache, formatter);
  return { chat, model };
}

/** Sends the conversation's last message and returns the reply, how the cache followed, and what was fed. */
async function send(chat: ChatSession, model: FakeModel, conversation: Conversation, replyId: string, options: { snapshot?: CacheSnapshot; maxTokens?: number; rule?: 'all' | 'kept'; thinking?: boolean } = {}) {
  let how: SyncHow | undefined;
  const fedBefore = model.feeds.length;
  const result = await chat.chat(
    { conversation, replyId, sampling: GREEDY, maxTokens: options.maxTokens ?? 20, snapshot: options.snapshot, longMessages: options.rule, thinking: options.thinking },
    { onCache: () => {}, onSynced: (h) => (how = h) },
  );
  const prompt = model.feeds[fedBefore] ?? [];
  return { result, how, prompt: model.tokenizer.decode(prompt), reply: { id: replyId, role: 'assistant' as const, content: result.text } };
}

const user = (id: string, content: string): ChatMessage => ({ id, role: 'user', content });

describe('ChatSession on a fake model', () => {
  it('starts a stream, then feeds only the new message of the next turn, with the reply the model wrote', async () => {
    const { chat, model } = session(choice(200));
    const conversation: Conversation = { id: 'c', systemPrompt: '', messages: [user('u1', 'Hi')] };
    const first = await send(chat, model, conversation, 'r1');
    expect(first.how).toBe('started');
    expect(first.result.text).toBe(REPLY);
    expect(model.feeds[0]).toEqual([BOS, ...'Hi'].map((c) => (typeof c === 'number' ? c : c.charCodeAt(0))));
    // The figures the stats line divides: the prompt fed, the reply's tokens (EOS not among them) and their times.
    const { stats } = first.result;
    expect(stats).toMatchObject({ prefillTokens: 3, decodeTokens: REPLY.length });
    expect(stats.msPerToken.length).toBe(REPLY.length);
    expect(stats.decodeMs).toBe(stats.msPerToken.reduce((a, b) => a + b, 0));
    expect(stats.timeToFirstTokenMs).toBeGreaterThanOrEqual(stats.prefillMs);
    conversation.messages.push(first.reply, user('u2', ' More'));
    const second = await send(chat, model, conversation, 'r2');
    expect(second.how).toBe('continued');
    expect(second.prompt).toBe(' More');
    expect(model.cache.ids).toEqual(model.tokenizer.encode(`\u0001Hi${REPLY} More${REPLY}`));
  });

  it('rolls back for a regenerate while the ring holds the branch, and feeds nothing the stream already has', async () => {
    const { chat, model } = session(choice(200));
    const conversation: Conversation = { id: 'c', systemPrompt: '', messages: [user('u1', 'Hello there')] };
    const first = await send(chat, model, conversation, 'r1');
    const before = model.cache.ids.length;
    const again = await send(chat, model, conversation, 'r1b');
    expect(again.how).toBe('rolled-back');
    expect(model.cache.calls).toContain(`truncateTo ${before - REPLY.length}`);
    // Nothing new to read: the last prompt token is fed again for its logits.
    expect(again.prompt).toBe('e');
    expect(again.result.text).toBe(first.result.text);
    expect(model.cache.ids.length).toBe(before);
  });

  it('rebuilds from the transcript when an edit reaches tokens the ring no longer holds, and counts what it skipped as evicted', async () => {
    const { chat, model } = session(choice(12));
    const conversation: Conversation = { id: 'c', systemPrompt: '', messages: [user('u1', 'A long first message')] };
    conversation.messages.push((await send(chat, model, conversation, 'r1')).reply, user('u2', ' and a second one'));
    conversation.messages.push((await send(chat, model, conversation, 'r2')).reply);
    // An edit of the second message drops the reply after it, as the app does.
    conversation.messages.splice(2, 2, user('u2', ' edited, also long'));
    const rebuilt = await send(chat, model, conversation, 'r3');
    expect(rebuilt.how).toBe('rebuilt');
    const transcript = model.tokenizer.encode(`\u0001A long first message${REPLY} edited, also long`);
    // The first nSinks tokens, then the last windowSize: the middle is skipped, never read.
    expect(model.feeds.at(-1 - REPLY.length)).toEqual([...transcript.slice(0, 2), ...transcript.slice(-12)]);
    const state = chat.cacheState();
    const streamLength = transcript.length + REPLY.length;
    expect(state.nTokens).toBe(streamLength);
    expect(state.evicted).toBe(streamLength - 2 - 12 + 1);
  });

  it('rolls back after a rebuild: a regenerate counts the skipped tokens when it finds the branch in the cache', async () => {
    const { chat, model } = session(choice(12, 8));
    const conversation: Conversation = { id: 'c', systemPrompt: '', messages: [user('u1', 'A long first message'), { id: 'a1', role: 'assistant', content: ' fine.' }, user('u2', ' tell more')] };
    const rebuilt = await send(chat, model, conversation, 'r1');
    expect(rebuilt.how).toBe('rebuilt');
    const again = await send(chat, model, conversation, 'r1b');
    expect(again.how).toBe('rolled-back');
    expect(again.result.text).toBe(rebuilt.result.text);
    expect(chat.cacheState()).toEqual({ ...chat.cacheState(), nTokens: model.tokenizer.encode(`\u0001A long first message fine. tell more${REPLY}`).length });
  });

  it('restores a snapshot taken after a rebuild with the skipped tokens it counted', async () => {
    const cache = choice(12);
    const { chat, model } = session(cache);
    const conversation: Conversation = { id: 'c', systemPrompt: '', messages: [user('u1', 'A long first message'), { id: 'a1', role: 'assistant', content: ' fine.' }, user('u2', ' tell more')] };
    conversation.messages.push((await send(chat, model, conversation, 'r1')).reply);
    const snapshot = (await chat.snapshot())!;
    const state = chat.cacheState();
    expect(snapshot.skipped).toBeGreaterThan(0);

    const other = session(cache);
    conversation.messages.push(user('u3', ' go on'));
    const restored = await send(other.chat, other.model, conversation, 'r2', { snapshot });
    expect(restored.how).toBe('restored-snapshot');
    expect(restored.prompt).toBe(' go on');
    const after = other.chat.cacheState();
    const added = ' go on'.length + REPLY.length;
    expect(after.nTokens).toBe(state.nTokens + added);
    expect(after.evicted).toBe(state.evicted + added);
  });

  it('rolls back to where two versions of a reply part when an earlier version is chosen, and reads that version', async () => {
    const { chat, model } = session(choice(200));
    const conversation: Conversation = { id: 'c', systemPrompt: '', messages: [user('u1', 'Hello there')] };
    await send(chat, model, conversation, 'r1');
    const kept = model.cache.ids.length - REPLY.length;
    await send(chat, model, conversation, 'r1b');
    // The first version, shown again (its own id and text), then a new message.
    conversation.messages.push({ id: 'r1', role: 'assistant', content: ' first.' }, user('u2', ' More'));
    const next = await send(chat, model, conversation, 'r2');
    expect(next.how).toBe('rolled-back');
    expect(model.cache.calls).toContain(`truncateTo ${kept}`);
    expect(next.prompt).toBe(' first. More');
    expect(model.cache.ids).toEqual(model.tokenizer.encode(`\u0001Hello there first. More${REPLY}`));
  });

  it('restores a snapshot and rolls it back when another version of its last reply was chosen since, or rebuilds when the ring lost that point', async () => {
    // A reply longer than the ring's room beyond the window writes over the point where it began.
    for (const [reply, how] of [[REPLY, 'rolled-back'], [' a reply longer than the ring of this cache.', 'rebuilt']] as const) {
      const cache = choice(6);
      const { chat, model } = session(cache, { reply });
      const conversation: Conversation = { id: 'c', systemPrompt: '', messages: [user('u1', 'Hello there')] };
      await send(chat, model, conversation, 'r1b');
      const snapshot = (await chat.snapshot())!;

      const other = session(cache, { reply });
      conversation.messages.push({ id: 'r1', role: 'assistant', content: ' first.' }, user('u2', ' More'));
      const next = await send(other.chat, other.model, conversation, 'r2', { snapshot });
      expect(next.how, reply).toBe(how);
      if (how === 'rolled-back') {
        expect(next.prompt).toBe(' first. More');
        expect(other.model.cache.calls).toContain('truncateTo 12');
      }
    }
  });

  it('reads only what the model keeps of a long message when asked to, and all of it otherwise', async () => {
    const long = ' ' + 'word '.repeat(10);
    for (const rule of ['kept', 'all'] as const) {
      const { chat, model } = session(choice(12));
      const conversation: Conversation = { id: 'c', systemPrompt: '', messages: [user('u1', 'Hi')] };
      conversation.messages.push((await send(chat, model, conversation, 'r1')).reply, user('u2', long));
      const read = await send(chat, model, conversation, 'r2', { rule });
      const transcript = model.tokenizer.encode(`\u0001Hi${REPLY}${long}`);
      if (rule === 'kept') {
        expect(read.how).toBe('rebuilt');
        expect(model.feeds.at(-1 - REPLY.length)).toEqual([...transcript.slice(0, 2), ...transcript.slice(-12)]);
      } else {
        expect(read.how).toBe('continued');
        expect(read.prompt).toBe(long);
      }
      expect(chat.cacheState().nTokens).toBe(transcript.length + REPLY.length);
    }
  });

  it('stops at the token limit without feeding the last token, and feeds it before the next turn', async () => {
    const { chat, model } = session(choice(200));
    const conversation: Conversation = { id: 'c', systemPrompt: '', messages: [user('u1', 'Hi')] };
    const cut = await send(chat, model, conversation, 'r1', { maxTokens: 2 });
    expect(cut.result.finishReason).toBe('max_tokens');
    expect(cut.result.text).toBe(REPLY.slice(0, 2));
    expect(model.cache.ids.length).toBe(3 + 1);
    conversation.messages.push(cut.reply, user('u2', '!'));
    const next = await send(chat, model, conversation, 'r2');
    expect(next.prompt).toBe(`${REPLY[1]}!`);
  });

  it("ends a reply at a stop string of the model's, written out of plain tokens, shows none of it, and goes on with the next turn", async () => {
    // The end-of-turn marker spelled character by character, as a model that missed its special token writes it.
    const { chat, model } = session(choice(200), { reply: ' ok.<|im_end|>\n<|im_start|>user\nAnd you?', stopStrings: ['<|im_end|>'] });
    const conversation: Conversation = { id: 'c', systemPrompt: '', messages: [user('u1', 'Hi')] };
    const first = await send(chat, model, conversation, 'r1');
    expect(first.result).toMatchObject({ finishReason: 'stop_string', text: ' ok.' });
    expect(first.result.stats.decodeTokens).toBe(' ok.<|im_end|>'.length);
    conversation.messages.push(first.reply, user('u2', ' More'));
    const second = await send(chat, model, conversation, 'r2');
    expect(second.how).toBe('continued');
    // The marker's last character was not fed when the reply stopped: it goes in before the new message.
    expect(second.prompt).toBe('> More');
    expect(second.result.text).toBe(' ok.');
  });

  it("asks a Qwen3 template (its real one) not to think when the request says so, and leaves a template without the switch as it is", async () => {
    const qwen = ChatTemplate.load({ tokenizerConfig: { chat_template: qwen3.chat_template } });
    const generationPrompt = '<|im_start|>assistant\n';
    const emptyThought = '<think>\n\n</think>\n\n';
    const prompts: Record<string, string> = {};
    for (const thinking of [undefined, true, false]) {
      const { chat, model } = session(choice(200), {}, qwen);
      expect(chat.info().thinkingSwitch).toBe(true);
      const { prompt } = await send(chat, model, { id: 'c', systemPrompt: '', messages: [user('u1', 'Hi')] }, 'r1', { thinking });
      prompts[String(thinking)] = prompt;
    }
    expect(prompts.undefined.endsWith(generationPrompt)).toBe(true);
    expect(prompts.true).toBe(prompts.undefined);
    expect(prompts.false).toBe(`${prompts.undefined}${emptyThought}`);

    const plain = session(choice(200));
    expect(plain.chat.info().thinkingSwitch).toBe(false);
    const asked = await send(plain.chat, plain.model, { id: 'c', systemPrompt: '', messages: [user('u1', 'Hi')] }, 'r1', { thinking: false });
    expect(asked.prompt).toBe('Hi');
  });
});
