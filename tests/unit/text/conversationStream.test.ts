import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ChatTemplate, type ChatMessage } from '../../../src/engine/text/chatTemplate.ts';
import { ConversationStream, endOfTurnIds } from '../../../src/engine/text/conversationStream.ts';
import { TextTokenizer } from '../../../src/engine/text/tokenizer.ts';
import { readLlama2cTokenizer } from '../../../src/engine/model/llama2c.ts';
import { llama2cTokenizerToHf } from '../../../src/engine/model/tokenizerJson.ts';
import { EngineError } from '../../../src/protocol/errors.ts';
import { LLAMA32, QWEN25, QWEN3, SMOLLM2, loadFixture, tokenizerFiles, type PreTokenizerKind } from './chatFixtures.ts';

interface Model {
  template: ChatTemplate;
  tokenizer: TextTokenizer;
  files: { tokenizerJson: unknown; tokenizerConfig: unknown };
  fixture: ReturnType<typeof loadFixture>;
}

function model(name: string, kind: PreTokenizerKind): Model {
  const fixture = loadFixture(name);
  const files = tokenizerFiles(fixture, kind);
  return {
    template: ChatTemplate.load({ tokenizerConfig: files.tokenizerConfig }),
    tokenizer: TextTokenizer.load(files, fixture.generation_config),
    files,
    fixture,
  };
}

type Finish = 'eos' | 'max_tokens' | 'aborted_prompt';

/**
 * Plays the generator for one turn: the model "writes" replyText (its ids are the text encoded),
 * and the feeds follow generator.ts: on an end-of-turn id every generated id was fed, on the token
 * limit all but the last, and an abort during the prompt feeds nothing.
 */
function playTurn(stream: ConversationStream, m: Model, messages: ChatMessage[], replyText: string, finish: Finish = 'eos'): number[] {
  const promptIds = stream.nextTurn(messages);
  const ids = m.tokenizer.encode(replyText);
  if (finish === 'aborted_prompt') {
    stream.recordTurn({ ids: [], fedIds: [] });
    return promptIds;
  }
  stream.recordTurn({ ids, fedIds: [...promptIds, ...(finish === 'eos' ? ids : ids.slice(0, -1))] });
  messages.push({ role: 'assistant', content: replyText });
  return promptIds;
}

/** Three user turns and two replies, then the prompt for the third reply: the whole stream as the model will have read it. */
function converse(m: Model, first: ChatMessage[], kwargs: Record<string, unknown> = {}, finish: Finish = 'eos') {
  const stream = new ConversationStream(m.template, m.tokenizer, kwargs);
  const messages = [...first];
  const prompts = [playTurn(stream, m, messages, 'The capital of France is Paris.', finish)];
  messages.push({ role: 'user', content: 'And of Italy?' });
  prompts.push(playTurn(stream, m, messages, 'Rome, since 1871.', finish));
  messages.push({ role: 'user', content: 'Thanks! 123 apples' });
  prompts.push(stream.nextTurn(messages));
  return { stream, messages, prompts, read: [...stream.ids, ...prompts[2]] };
}

const QUESTION: ChatMessage[] = [{ role: 'user', content: 'What is the capital of France?' }];
const WITH_SYSTEM: ChatMessage[] = [{ role: 'system', content: 'You answer in one sentence.' }, ...QUESTION];
const LLAMA_DATE = { date_string: '26 Jul 2024' };

describe('the test tokenizers', () => {
  it('split special tokens out of text rather than spelling them byte by byte', () => {
    const m = model(QWEN3, 'qwen2');
    const ids = m.tokenizer.encode('<|im_start|>user\n<think>Hi</think><|im_end|>');
    expect(ids[0]).toBe(151644);
    expect(ids).toContain(151667);
    expect(ids).toContain(151668);
    expect(ids.at(-1)).toBe(151645);
    expect(m.tokenizer.decode(ids, { skipSpecialTokens: false })).toBe('<|im_start|>user\n<think>Hi</think><|im_end|>');
  });
});

describe('ConversationStream over prefix-stable templates', () => {
  const cases: [string, string, PreTokenizerKind, Record<string, unknown>, number][] = [
    ['Qwen2.5', QWEN25, 'qwen2', {}, 151645],
    ['Llama 3.2', LLAMA32, 'llama3', LLAMA_DATE, 128009],
    ['SmolLM2', SMOLLM2, 'gpt2', {}, 2],
  ];
  for (const [label, name, kind, kwargs, endOfTurn] of cases) {
    it(`${label}: turns fed one by one read exactly the tokens of the whole conversation rendered at once`, () => {
      const m = model(name, kind);
      for (const first of [QUESTION, WITH_SYSTEM]) {
        const { messages, read } = converse(m, first, kwargs);
        expect(read).toEqual(m.tokenizer.encode(m.template.render(messages, { addGenerationPrompt: true, kwargs })));
      }
    });

    it(`${label}: each later prompt starts with what the template writes after a reply, not with the reply again`, () => {
      const m = model(name, kind);
      const { prompts } = converse(m, QUESTION, kwargs);
      for (const prompt of prompts.slice(1)) {
        expect(prompt[0]).toBe(endOfTurn);
        expect(m.tokenizer.decode(prompt, { skipSpecialTokens: false })).not.toContain('Paris');
      }
    });

    it(`${label}: a reply whose last token was not fed puts that token first in the next prompt`, () => {
      const m = model(name, kind);
      const { messages, prompts, read } = converse(m, QUESTION, kwargs, 'max_tokens');
      expect(prompts[1].slice(0, 2)).toEqual([m.tokenizer.encode('The capital of France is Paris.').at(-1), endOfTurn]);
      expect(read).toEqual(m.tokenizer.encode(m.template.render(messages, { addGenerationPrompt: true, kwargs })));
    });
  }

  it("Llama 3.2 trims replies when it re-renders them, while the stream keeps the whitespace the model wrote", () => {
    const m = model(LLAMA32, 'llama3');
    const stream = new ConversationStream(m.template, m.tokenizer, LLAMA_DATE);
    const messages = [...QUESTION];
    playTurn(stream, m, messages, ' Paris.\n');
    messages.push({ role: 'user', content: 'Sure?' });
    const read = m.tokenizer.decode([...stream.ids, ...stream.nextTurn(messages)], { skipSpecialTokens: false });
    const rerendered = m.template.render(messages, { addGenerationPrompt: true, kwargs: LLAMA_DATE });
    expect(read).toBe(rerendered.replace('Paris.', ' Paris.\n'));
  });

  it('reads the system prompt once, at the start, and no default one when a system prompt is given', () => {
    const m = model(QWEN25, 'qwen2');
    const { stream, prompts } = converse(m, WITH_SYSTEM);
    const text = m.tokenizer.decode([...stream.ids, ...prompts[2]], { skipSpecialTokens: false });
    expect(text.startsWith('<|im_start|>system\nYou answer in one sentence.<|im_end|>\n')).toBe(true);
    expect(text.split('<|im_start|>system').length).toBe(2);
    expect(text).not.toContain('You are Qwen');
  });

  it('reads a default system prompt once when the conversation brings none', () => {
    const m = model(QWEN25, 'qwen2');
    const { stream, prompts } = converse(m, QUESTION);
    const text = m.tokenizer.decode([...stream.ids, ...prompts[2]], { skipSpecialTokens: false });
    expect(text.split('You are Qwen, created by Alibaba Cloud.').length).toBe(2);
  });

  it("Llama 3.2's date preamble and system prompt are read once, in the first prompt only", () => {
    const m = model(LLAMA32, 'llama3');
    const { prompts } = converse(m, WITH_SYSTEM, LLAMA_DATE);
    const texts = prompts.map((p) => m.tokenizer.decode(p, { skipSpecialTokens: false }));
    expect(texts[0]).toContain('Today Date: 26 Jul 2024\n\nYou answer in one sentence.<|eot_id|>');
    for (const later of texts.slice(1)) expect(later).not.toMatch(/Cutting Knowledge|one sentence/);
  });

  it('a turn whose prompt was never fed leaves the stream as it was, so the same messages can be answered again', () => {
    const m = model(QWEN25, 'qwen2');
    const stream = new ConversationStream(m.template, m.tokenizer);
    const messages = [...QUESTION];
    playTurn(stream, m, messages, 'Paris.');
    messages.push({ role: 'user', content: 'And Italy?' });
    const before = [...stream.ids];
    const aborted = playTurn(stream, m, messages, 'Rome.', 'aborted_prompt');
    expect(stream.ids).toEqual(before);
    expect(stream.nextTurn(messages)).toEqual(aborted);
  });
});

describe('ConversationStream over Qwen3, whose template is not prefix-stable', () => {
  const m = model(QWEN3, 'qwen2');
  const imStart = (role: string, text: string) => `<|im_start|>${role}\n${text}<|im_end|>\n`;

  it('with thinking on, keeps each reply as written, reasoning included, where a full re-render drops the reasoning', () => {
    const stream = new ConversationStream(m.template, m.tokenizer, { enable_thinking: true });
    const messages: ChatMessage[] = [{ role: 'user', content: 'Hi' }];
    playTurn(stream, m, messages, '<think>\nA greeting.\n</think>\n\nHello!');
    messages.push({ role: 'user', content: 'Bye' });
    playTurn(stream, m, messages, '<think>\nA farewell.\n</think>\n\nGoodbye!');
    messages.push({ role: 'user', content: 'Wait' });
    const read = [...stream.ids, ...stream.nextTurn(messages)];

    const seen =
      imStart('user', 'Hi') + imStart('assistant', '<think>\nA greeting.\n</think>\n\nHello!') +
      imStart('user', 'Bye') + imStart('assistant', '<think>\nA farewell.\n</think>\n\nGoodbye!') +
      imStart('user', 'Wait') + '<|im_start|>assistant\n';
    expect(read).toEqual(m.tokenizer.encode(seen));

    // The full re-render shows the model its earlier answers without their reasoning.
    const rerendered = m.template.render(messages, { addGenerationPrompt: true, kwargs: { enable_thinking: true } });
    expect(rerendered).toBe(seen.replace('<think>\nA greeting.\n</think>\n\n', '').replace('<think>\nA farewell.\n</think>\n\n', ''));
    expect(read).not.toEqual(m.tokenizer.encode(rerendered));
  });

  it('with thinking off, keeps the empty think block each prompt ended with, which a full re-render drops from earlier turns', () => {
    const stream = new ConversationStream(m.template, m.tokenizer, { enable_thinking: false });
    const messages: ChatMessage[] = [{ role: 'user', content: 'Hi' }];
    const first = playTurn(stream, m, messages, 'Hello!');
    expect(m.tokenizer.decode(first, { skipSpecialTokens: false }).endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
    messages.push({ role: 'user', content: 'Bye' });
    const read = [...stream.ids, ...stream.nextTurn(messages)];

    const empty = '<think>\n\n</think>\n\n';
    const seen = imStart('user', 'Hi') + imStart('assistant', `${empty}Hello!`) + imStart('user', 'Bye') + `<|im_start|>assistant\n${empty}`;
    expect(read).toEqual(m.tokenizer.encode(seen));
    expect(m.template.render(messages, { addGenerationPrompt: true, kwargs: { enable_thinking: false } })).toBe(seen.replace(`${empty}Hello!`, 'Hello!'));
  });
});

describe('ConversationStream bookkeeping', () => {
  const m = model(SMOLLM2, 'gpt2');

  it('says which message was edited after the model read it, and refuses to continue from it', () => {
    const stream = new ConversationStream(m.template, m.tokenizer);
    const messages = [...WITH_SYSTEM];
    playTurn(stream, m, messages, 'Paris.');
    const edited = [messages[0], { role: 'user' as const, content: 'What is the capital of Spain?' }, messages[2], { role: 'user' as const, content: 'Sure?' }];
    expect(stream.divergence(edited)).toBe(1);
    expect(stream.divergence([...messages, { role: 'user', content: 'Sure?' }])).toBeUndefined();
    // The reply's text is not compared: the stream holds the ids the model generated.
    expect(stream.divergence([...messages.slice(0, 2), { role: 'assistant', content: 'Paris' }, { role: 'user', content: 'Sure?' }])).toBeUndefined();
    try {
      stream.nextTurn(edited);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(EngineError);
      expect((e as EngineError).code).toBe('CONFIG_INVALID');
      expect((e as EngineError).message).toMatch(/Message 2 differs/);
    }
  });

  it('refuses a turn with nothing new to answer', () => {
    const stream = new ConversationStream(m.template, m.tokenizer);
    const messages = [...QUESTION];
    playTurn(stream, m, messages, 'Paris.');
    expect(() => stream.nextTurn(messages)).toThrow(/no new message/);
    expect(() => new ConversationStream(m.template, m.tokenizer).nextTurn([])).toThrow(/no new message/);
  });

  it('refuses a result whose fed ids are not the prepared prompt, and a result with no prepared turn', () => {
    const stream = new ConversationStream(m.template, m.tokenizer);
    expect(() => stream.recordTurn({ ids: [], fedIds: [1] })).toThrow(EngineError);
    const prompt = stream.nextTurn(QUESTION);
    expect(() => stream.recordTurn({ ids: [5], fedIds: [...prompt.slice(1), 5] })).toThrow(/not this turn's prompt/);
  });
});

describe('endOfTurnIds', () => {
  it('joins the configs\' end-of-sequence ids with the end-of-turn tokens the tokenizer defines', () => {
    const qwen = model(QWEN25, 'qwen2');
    expect(endOfTurnIds({ ...qwen.files, generationConfig: qwen.fixture.generation_config, config: qwen.fixture.config }).sort()).toEqual([151643, 151645]);
    const llama = model(LLAMA32, 'llama3');
    expect(endOfTurnIds({ ...llama.files, config: llama.fixture.config }).sort()).toEqual([128001, 128008, 128009]);
    const smol = model(SMOLLM2, 'gpt2');
    expect(endOfTurnIds({ ...smol.files, generationConfig: smol.fixture.generation_config }).sort()).toEqual([0, 2]);
  });

  it('finds an end-of-turn token the configs leave out, and ignores ordinary words', () => {
    const tokenizerJson = {
      added_tokens: [
        { id: 1, content: '<bos>', special: true },
        { id: 106, content: '<end_of_turn>', special: true },
        { id: 107, content: 'end', special: false },
      ],
    };
    expect(endOfTurnIds({ tokenizerJson, tokenizerConfig: { eos_token: '<eos>' }, generationConfig: { eos_token_id: 1 } })).toEqual([1, 106]);
  });
});

describe('ConversationStream over a story model without a template', () => {
  const tok512 = readFileSync(new URL('../../../../shared/models/stories260K/tok512.bin', import.meta.url));
  const files = llama2cTokenizerToHf(readLlama2cTokenizer(new Uint8Array(tok512), 512));
  const tokenizer = TextTokenizer.load(files);
  const template = ChatTemplate.load({ tokenizerConfig: files.tokenizerConfig });

  it('reads BOS and the story so far, then after each continuation only the new text', () => {
    const stream = new ConversationStream(template, tokenizer);
    const messages: ChatMessage[] = [{ role: 'user', content: 'Once upon a time, there was a little girl named Lily.' }];
    const first = stream.nextTurn(messages);
    expect(first).toEqual(tokenizer.encode('Once upon a time, there was a little girl named Lily.', { addSpecialTokens: true }));
    expect(first[0]).toBe(1);

    const reply = tokenizer.encode('She loved to play outside.');
    stream.recordTurn({ ids: reply, fedIds: [...first, ...reply.slice(0, -1)] });
    messages.push({ role: 'assistant', content: ' She loved to play outside.' });
    messages.push({ role: 'user', content: 'One day, she saw a big, red ball.' });
    expect(stream.nextTurn(messages)).toEqual([reply.at(-1), ...tokenizer.encode('One day, she saw a big, red ball.')]);
  });
});
