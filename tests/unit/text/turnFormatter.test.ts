import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TurnFormatter } from '../../../src/engine/chat/turnFormatter.ts';
import { readLlama2cTokenizer } from '../../../src/engine/llama2c/llama2c.ts';
import { llama2cTokenizerToHf } from '../../../src/engine/llama2c/tokenizerJson.ts';
import { ChatTemplate } from '../../../src/engine/text/chatTemplate.ts';
import { TextTokenizer } from '../../../src/engine/text/tokenizer.ts';
import type { ChatMessage, Conversation } from '../../../src/protocol/messages.ts';
import { LLAMA32, QWEN25, QWEN3, SMOLLM2, loadFixture, tokenizerFiles, type PreTokenizerKind } from './chatFixtures.ts';

function setup(name: string, kind: PreTokenizerKind, kwargs: Record<string, unknown> = {}) {
  const fixture = loadFixture(name);
  const files = tokenizerFiles(fixture, kind);
  const template = ChatTemplate.load({ tokenizerConfig: files.tokenizerConfig });
  const tokenizer = TextTokenizer.load(files);
  return { template, tokenizer, formatter: new TurnFormatter(template, tokenizer), kwargs };
}

const msg = (id: string, role: ChatMessage['role'], content: string): ChatMessage => ({ id, role, content });

/**
 * Three user turns and two replies, as the chat engine runs them: each turn appends what the
 * formatter gives, each reply is the model's own ids (never re-encoded later). Returns the stream
 * as the model will have read it when it writes the third reply, and each turn's prompt.
 */
function converse(s: ReturnType<typeof setup>, systemPrompt: string, replies = ['The capital of France is Paris.', 'Rome, since 1871.']) {
  const conversation: Conversation = { id: 'c', systemPrompt, messages: [msg('u1', 'user', 'What is the capital of France?')] };
  const stream: number[] = [];
  const prompts: number[][] = [];
  const turn = () => {
    const t = s.formatter.append(conversation, conversation.messages.length - 1, s.kwargs);
    expect(t.spans.reduce((a, span) => a + span.length, 0)).toBe(t.ids.length);
    prompts.push(t.ids);
    stream.push(...t.ids);
  };
  const followUps = ['And of Italy?', 'Thanks! 123 apples'];
  turn();
  replies.forEach((text, i) => {
    stream.push(...s.tokenizer.encode(text));
    conversation.messages.push(msg(`a${i}`, 'assistant', text), msg(`u${i + 2}`, 'user', followUps[i]));
    turn();
  });
  const whole = s.template.render(
    [...(systemPrompt ? [{ role: 'system' as const, content: systemPrompt }] : []), ...conversation.messages.map(({ role, content }) => ({ role, content }))],
    { addGenerationPrompt: true, kwargs: s.kwargs },
  );
  return { stream, prompts, whole, text: s.tokenizer.decode(stream, { skipSpecialTokens: false }) };
}

const LLAMA_DATE = { date_string: '26 Jul 2024' };
const SYSTEM = 'You answer in one sentence.';

describe('the test tokenizers', () => {
  it('split special tokens out of text rather than spelling them byte by byte', () => {
    const { tokenizer } = setup(QWEN3, 'qwen2');
    const ids = tokenizer.encode('<|im_start|>user\n<think>Hi</think><|im_end|>');
    expect(ids[0]).toBe(151644);
    expect(ids).toContain(151667);
    expect(ids).toContain(151668);
    expect(ids.at(-1)).toBe(151645);
    expect(tokenizer.decode(ids, { skipSpecialTokens: false })).toBe('<|im_start|>user\n<think>Hi</think><|im_end|>');
  });
});

describe('TurnFormatter, the chat engine turn by turn', () => {
  const cases: [string, string, PreTokenizerKind, Record<string, unknown>, number][] = [
    ['ChatML (Qwen2.5)', QWEN25, 'qwen2', {}, 151645],
    ['SmolLM2', SMOLLM2, 'gpt2', {}, 2],
    ['Llama-3.2', LLAMA32, 'llama3', LLAMA_DATE, 128009],
  ];
  for (const [label, name, kind, kwargs, endOfTurn] of cases) {
    it(`${label}: a stream built turn by turn equals the whole conversation rendered and tokenized at once`, () => {
      const s = setup(name, kind, kwargs);
      for (const system of [SYSTEM, '']) {
        const { stream, whole, text, prompts } = converse(s, system);
        expect(text).toBe(whole);
        expect(stream).toEqual(s.tokenizer.encode(whole));
        expect(prompts).toHaveLength(3);
      }
    });

    it(`${label}: each later turn starts with what the template writes after a reply, not with the reply again`, () => {
      const s = setup(name, kind, kwargs);
      const { prompts } = converse(s, '');
      for (const prompt of prompts.slice(1)) {
        expect(prompt[0]).toBe(endOfTurn);
        expect(s.tokenizer.decode(prompt, { skipSpecialTokens: false })).not.toContain('Paris');
      }
    });
  }

  it('Llama 3.2 trims replies when it re-renders them, while the stream keeps the whitespace the model wrote', () => {
    const s = setup(LLAMA32, 'llama3', LLAMA_DATE);
    const { text, whole } = converse(s, '', [' Paris.\n']);
    expect(text).toBe(whole.replace('Paris.', ' Paris.\n'));
  });

  it('reads the system prompt once, at the start, and no default one when a system prompt is given', () => {
    const { text } = converse(setup(QWEN25, 'qwen2'), SYSTEM);
    expect(text.startsWith(`<|im_start|>system\n${SYSTEM}<|im_end|>\n`)).toBe(true);
    expect(text.split('<|im_start|>system').length).toBe(2);
    expect(text).not.toContain('You are Qwen');
  });

  it('reads a default system prompt once when the conversation brings none', () => {
    const { text } = converse(setup(QWEN25, 'qwen2'), '');
    expect(text.split('You are Qwen, created by Alibaba Cloud.').length).toBe(2);
  });

  it("Llama 3.2's date preamble and system prompt are read once, in the first turn only", () => {
    const s = setup(LLAMA32, 'llama3', LLAMA_DATE);
    const texts = converse(s, SYSTEM).prompts.map((p) => s.tokenizer.decode(p, { skipSpecialTokens: false }));
    expect(texts[0]).toContain(`Today Date: 26 Jul 2024\n\n${SYSTEM}<|eot_id|>`);
    for (const later of texts.slice(1)) expect(later).not.toMatch(/Cutting Knowledge|one sentence/);
  });

  it('a model without a chat template continues text: BOS, then the messages one after another', () => {
    const { tokenizer } = setup(QWEN25, 'qwen2');
    const plain = ChatTemplate.load({ tokenizerConfig: { bos_token: '<|endoftext|>' } });
    expect(plain.isPlain).toBe(true);
    const formatter = new TurnFormatter(plain, tokenizer);
    expect(formatter.hasChatTemplate).toBe(false);
    const t = formatter.append({ id: 'c', systemPrompt: '', messages: [msg('u', 'user', 'Once upon a time')] }, 0);
    expect(tokenizer.decode(t.ids, { skipSpecialTokens: false })).toBe('<|endoftext|>Once upon a time');
  });

  it('the stories260K model reads BOS and the story so far, then after each continuation only the new text', () => {
    const tok512 = readFileSync(new URL('../../../public/models/stories260K/tok512.bin', import.meta.url));
    const files = llama2cTokenizerToHf(readLlama2cTokenizer(new Uint8Array(tok512), 512));
    const tokenizer = TextTokenizer.load(files);
    const formatter = new TurnFormatter(ChatTemplate.load({ tokenizerConfig: files.tokenizerConfig }), tokenizer);
    const conversation: Conversation = { id: 'c', systemPrompt: '', messages: [msg('u1', 'user', 'Once upon a time, there was a little girl named Lily.')] };
    const first = formatter.append(conversation, 0).ids;
    expect(first).toEqual(tokenizer.encode('Once upon a time, there was a little girl named Lily.', { addSpecialTokens: true }));
    expect(first[0]).toBe(1);
    conversation.messages.push(msg('a1', 'assistant', ' She loved to play outside.'), msg('u2', 'user', 'One day, she saw a big, red ball.'));
    expect(formatter.append(conversation, 2).ids).toEqual(tokenizer.encode('One day, she saw a big, red ball.'));
  });
});

describe('TurnFormatter over Qwen3, whose template is not prefix-stable', () => {
  const imStart = (role: string, text: string) => `<|im_start|>${role}\n${text}<|im_end|>\n`;

  it('with thinking on, keeps each reply as written, reasoning included, where a full re-render drops the reasoning', () => {
    const s = setup(QWEN3, 'qwen2', { enable_thinking: true });
    const { stream, whole } = converse(s, '', ['<think>\nA greeting.\n</think>\n\nHello!', '<think>\nA farewell.\n</think>\n\nGoodbye!']);
    const seen =
      imStart('user', 'What is the capital of France?') + imStart('assistant', '<think>\nA greeting.\n</think>\n\nHello!') +
      imStart('user', 'And of Italy?') + imStart('assistant', '<think>\nA farewell.\n</think>\n\nGoodbye!') +
      imStart('user', 'Thanks! 123 apples') + '<|im_start|>assistant\n';
    expect(stream).toEqual(s.tokenizer.encode(seen));
    // The full re-render shows the model its earlier answers without their reasoning.
    expect(whole).toBe(seen.replace('<think>\nA greeting.\n</think>\n\n', '').replace('<think>\nA farewell.\n</think>\n\n', ''));
  });

  it('with thinking off, keeps the empty think block each turn ended with, which a full re-render drops from earlier turns', () => {
    const s = setup(QWEN3, 'qwen2', { enable_thinking: false });
    const empty = '<think>\n\n</think>\n\n';
    const { stream, prompts, whole } = converse(s, '', ['Hello!']);
    expect(s.tokenizer.decode(prompts[0], { skipSpecialTokens: false }).endsWith(`<|im_start|>assistant\n${empty}`)).toBe(true);
    const seen = imStart('user', 'What is the capital of France?') + imStart('assistant', `${empty}Hello!`) + imStart('user', 'And of Italy?') + `<|im_start|>assistant\n${empty}`;
    expect(stream).toEqual(s.tokenizer.encode(seen));
    expect(whole).toBe(seen.replace(`${empty}Hello!`, 'Hello!'));
  });
});
