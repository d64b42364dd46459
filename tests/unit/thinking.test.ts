import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { splitThinking } from '../../src/features/chat/thinking.ts';
import { ChatTemplate } from '../../src/engine/text/chatTemplate.ts';

/** Qwen3's own chat template, from the tiny builder export's tokenizer_config.json. */
const qwen3 = ChatTemplate.load({
  tokenizerConfig: JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/builder-exports/tiny-qwen3/tokenizer_config.json'), 'utf8')),
});

const REPLY = '<think>\nThe user greets me. I should greet back, briefly.\n</think>\n\nHello! How can I help?';

describe('a reply that thinks, split into its reasoning and its answer', () => {
  it('folds the reasoning away and keeps as the answer what Qwen3\'s template keeps of an earlier reply', () => {
    const split = splitThinking(REPLY);
    expect(split).toEqual({ thinking: 'The user greets me. I should greet back, briefly.', thought: true, answer: 'Hello! How can I help?' });
    // The template drops the reasoning of replies before the last question: what it keeps is the answer.
    const prompt = qwen3.render(
      [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: REPLY },
        { role: 'user', content: 'Tell me a joke.' },
      ],
      { addGenerationPrompt: true, kwargs: { enable_thinking: true } },
    );
    expect(prompt).toContain(`<|im_start|>assistant\n${split.answer}<|im_end|>`);
    expect(prompt).not.toContain('greet back');
  });

  it('streams: every prefix of the reply is reasoning until </think>, then the answer grows', () => {
    const close = REPLY.indexOf('</think>');
    for (let end = '<think>'.length + 2; end <= REPLY.length; end++) {
      const split = splitThinking(REPLY.slice(0, end));
      if (end < close + '</think>'.length) {
        expect(split.thought).toBe(false);
        expect(split.answer).toBe('');
        expect('The user greets me. I should greet back, briefly.'.startsWith(split.thinking ?? '')).toBe(true);
      } else {
        expect(split.thought).toBe(true);
        expect('Hello! How can I help?'.startsWith(split.answer)).toBe(true);
      }
    }
  });

  it('leaves a reply without reasoning as it is, and shows no section for an empty think block (thinking off)', () => {
    expect(splitThinking('Once upon a time, a cat.')).toEqual({ thinking: null, thought: true, answer: 'Once upon a time, a cat.' });
    expect(splitThinking('<think>\n\n</think>\n\nParis.')).toEqual({ thinking: null, thought: true, answer: 'Paris.' });
    // A prompt that opened the block leaves the reply inside it: everything before </think> is reasoning.
    expect(splitThinking('Two plus two.\n</think>\n\nFour.')).toEqual({ thinking: 'Two plus two.', thought: true, answer: 'Four.' });
  });
});
