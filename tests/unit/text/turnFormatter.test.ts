import { describe, expect, it } from 'vitest';
import { TurnFormatter } from '../../../src/engine/chat/turnFormatter.ts';
import { ChatTemplate } from '../../../src/engine/text/chatTemplate.ts';
import { TextTokenizer } from '../../../src/engine/text/tokenizer.ts';
import type { ChatMessage, Conversation } from '../../../src/protocol/messages.ts';
import { LLAMA32, QWEN25, SMOLLM2, loadFixture, tokenizerFiles, type PreTokenizerKind } from './chatFixtures.ts';

function setup(name: string, kind: PreTokenizerKind, kwargs: Record<string, unknown> = {}) {
  const fixture = loadFixture(name);
  const files = tokenizerFiles(fixture, kind);
  const template = ChatTemplate.load({ tokenizerConfig: files.tokenizerConfig });
  const tokenizer = TextTokenizer.load(files, fixture.generation_config);
  return { template, tokenizer, formatter: new TurnFormatter(template, tokenizer, kwargs), kwargs };
}

const msg = (id: string, role: ChatMessage['role'], content: string): ChatMessage => ({ id, role, content });

describe('TurnFormatter, the chat engine turn by turn', () => {
  const cases: [string, string, PreTokenizerKind, Record<string, unknown>][] = [
    ['ChatML (Qwen2.5)', QWEN25, 'qwen2', {}],
    ['SmolLM2', SMOLLM2, 'gpt2', {}],
    ['Llama-3.2', LLAMA32, 'llama3', { date_string: '26 Jul 2024' }],
  ];
  for (const [label, name, kind, kwargs] of cases) {
    it(`${label}: a stream built turn by turn equals the whole conversation rendered and tokenized at once`, () => {
      const { template, tokenizer, formatter } = setup(name, kind, kwargs);
      const conversation: Conversation = { id: 'c', systemPrompt: 'You answer in one sentence.', messages: [msg('u1', 'user', 'What is the capital of France?')] };
      const stream: number[] = [];
      const spans: number[] = [];
      const turn = (from: number) => {
        const t = formatter.append(conversation, from);
        stream.push(...t.ids);
        spans.push(...t.spans.map((s) => s.length));
        expect(t.spans.reduce((a, s) => a + s.length, 0)).toBe(t.ids.length);
      };
      const reply = (id: string, text: string) => {
        stream.push(...tokenizer.encode(text)); // the model's own ids; never re-encoded later
        conversation.messages.push(msg(id, 'assistant', text));
      };
      turn(0);
      reply('a1', 'The capital of France is Paris.');
      conversation.messages.push(msg('u2', 'user', 'And of Italy?'));
      turn(2);
      reply('a2', 'Rome, since 1871.');
      conversation.messages.push(msg('u3', 'user', 'Thanks! 123 apples'));
      turn(4);

      const whole = template.render(
        [{ role: 'system', content: conversation.systemPrompt }, ...conversation.messages.map(({ role, content }) => ({ role, content }))],
        { addGenerationPrompt: true, kwargs },
      );
      expect(tokenizer.decode(stream, { skipSpecialTokens: false })).toBe(whole);
      expect(stream).toEqual(tokenizer.encode(whole));
      expect(spans).toHaveLength(3);
    });
  }

  it('a model without a chat template continues text: BOS, then the messages one after another', () => {
    const { tokenizer } = setup(QWEN25, 'qwen2');
    const plain = ChatTemplate.load({ tokenizerConfig: { bos_token: '<|endoftext|>' } });
    expect(plain.isPlain).toBe(true);
    const formatter = new TurnFormatter(plain, tokenizer);
    expect(formatter.hasChatTemplate).toBe(false);
    const t = formatter.append({ id: 'c', systemPrompt: '', messages: [msg('u', 'user', 'Once upon a time')] }, 0);
    expect(tokenizer.decode(t.ids, { skipSpecialTokens: false })).toBe('<|endoftext|>Once upon a time');
  });
});
