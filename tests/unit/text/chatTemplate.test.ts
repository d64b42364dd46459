import { describe, expect, it } from 'vitest';
import { ChatTemplate, PLAIN_TEMPLATE, type TemplateMessage } from '../../../src/engine/text/chatTemplate.ts';
import { LLAMA32, QWEN25, QWEN3, SMOLLM2, loadFixture, type ChatFixture } from './chatFixtures.ts';
import { errorOf } from '../errorOf.ts';

const CHATML = "{% for message in messages %}{{ '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}{% endfor %}";
const HI: TemplateMessage[] = [{ role: 'user', content: 'Hi' }];

function templateOf(fixture: ChatFixture): ChatTemplate {
  return ChatTemplate.load({ tokenizerConfig: { chat_template: fixture.chat_template, bos_token: fixture.bos_token, eos_token: fixture.eos_token } });
}

describe('ChatTemplate.load', () => {
  it('uses a chat_template string from tokenizer_config.json as it is', () => {
    const template = ChatTemplate.load({ tokenizerConfig: { chat_template: CHATML } });
    expect(template.source).toBe(CHATML);
    expect(template.isPlain).toBe(false);
    expect(template.render(HI, { addGenerationPrompt: false })).toBe('<|im_start|>user\nHi<|im_end|>\n');
  });

  it('picks the template named "default" from a list of named templates', () => {
    const tokenizerConfig = { chat_template: [{ name: 'tool_use', template: 'TOOLS' }, { name: 'default', template: CHATML }] };
    expect(ChatTemplate.load({ tokenizerConfig }).source).toBe(CHATML);
  });

  it('refuses a list of templates without a default, naming the ones it found', () => {
    const error = errorOf(() => ChatTemplate.load({ tokenizerConfig: { chat_template: [{ name: 'tool_use', template: 'x' }, { name: 'rag', template: 'y' }] } }));
    expect(error.code).toBe('CHAT_TEMPLATE_FAILED');
    expect(error.message).toContain('tool_use, rag');
  });

  it('prefers chat_template.jinja to the tokenizer_config.json field', () => {
    const template = ChatTemplate.load({ tokenizerConfig: { chat_template: 'OLD' }, chatTemplateJinja: CHATML });
    expect(template.source).toBe(CHATML);
  });

  it('reads bos and eos tokens written as strings or as {content} objects', () => {
    const template = ChatTemplate.load({
      tokenizerConfig: { chat_template: '{{ bos_token }}|{{ eos_token }}', bos_token: { content: '<s>', lstrip: false }, eos_token: '</s>' },
    });
    expect([template.bosToken, template.eosToken]).toEqual(['<s>', '</s>']);
    expect(template.render([], { addGenerationPrompt: false })).toBe('<s>|</s>');
  });

  it('refuses a template with a syntax error when the model loads, not when the user first writes', () => {
    const error = errorOf(() => ChatTemplate.load({ tokenizerConfig: { chat_template: '{% for message in messages %}{{ message.content }}' } }));
    expect(error.code).toBe('CHAT_TEMPLATE_FAILED');
    expect(error.message).toMatch(/choose another model/);
  });

  it('refuses a chat_template that is neither text nor a list', () => {
    expect(errorOf(() => ChatTemplate.load({ tokenizerConfig: { chat_template: 42 } })).code).toBe('CHAT_TEMPLATE_FAILED');
  });
});

describe('ChatTemplate.render with real templates', () => {
  it('Qwen2.5 writes its default system prompt when the conversation has none, and the given one otherwise', () => {
    const template = templateOf(loadFixture(QWEN25));
    expect(template.render(HI, { addGenerationPrompt: true })).toBe(
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' +
        '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(template.render([{ role: 'system', content: 'Be brief.' }, ...HI], { addGenerationPrompt: false })).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n',
    );
  });

  it('SmolLM2 writes its default system prompt when the conversation has none', () => {
    expect(templateOf(loadFixture(SMOLLM2)).render(HI, { addGenerationPrompt: true })).toBe(
      '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' +
        '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it("Llama 3.2 opens with BOS and its date preamble, and moves the system prompt into it", () => {
    const template = templateOf(loadFixture(LLAMA32));
    const messages: TemplateMessage[] = [{ role: 'system', content: ' Be brief. ' }, ...HI];
    expect(template.render(messages, { addGenerationPrompt: true, kwargs: { date_string: '26 Jul 2024' } })).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n' +
        'Be brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    // Without date_string the template asks strftime_now for today's date.
    expect(template.render(HI, { addGenerationPrompt: false })).toMatch(/Today Date: \d{2} \S+ \d{4}\n\n<\|eot_id\|>/);
  });

  it('Qwen3 follows its generation prompt with an empty think block only when enable_thinking is false', () => {
    const template = templateOf(loadFixture(QWEN3));
    const end = '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n';
    expect(template.render(HI, { addGenerationPrompt: true })).toBe(end);
    expect(template.render(HI, { addGenerationPrompt: true, kwargs: { enable_thinking: true } })).toBe(end);
    expect(template.render(HI, { addGenerationPrompt: true, kwargs: { enable_thinking: false } })).toBe(`${end}<think>\n\n</think>\n\n`);
  });

  it('Qwen3 drops the reasoning of assistant turns before the last user message', () => {
    const template = templateOf(loadFixture(QWEN3));
    const messages: TemplateMessage[] = [...HI, { role: 'assistant', content: '<think>\nGreet back.\n</think>\n\nHello!' }, { role: 'user', content: 'Bye' }];
    expect(template.render(messages, { addGenerationPrompt: false })).toBe(
      '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n',
    );
  });
});

describe('ChatTemplate errors and fallback', () => {
  it('turns an exception raised by the template into CHAT_TEMPLATE_FAILED with its reason and what to do', () => {
    const alternating =
      "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
      "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{{ message['content'] }}{% endfor %}";
    const template = ChatTemplate.load({ tokenizerConfig: { chat_template: alternating } });
    const error = errorOf(() => template.render([...HI, { role: 'user', content: 'Hello?' }], { addGenerationPrompt: true }));
    expect(error.code).toBe('CHAT_TEMPLATE_FAILED');
    expect(error.message).toContain('Conversation roles must alternate');
    expect(error.message).toMatch(/Change the conversation/);
  });

  it('gives a model without a template the plain concatenation after BOS, with no generation prompt', () => {
    const template = ChatTemplate.load({ tokenizerConfig: { bos_token: '<s>', eos_token: '</s>' } });
    expect(template.isPlain).toBe(true);
    expect(template.source).toBe(PLAIN_TEMPLATE);
    const story: TemplateMessage[] = [{ role: 'user', content: 'Once upon a time' }, { role: 'assistant', content: ', there was a cat.' }];
    expect(template.render(story, { addGenerationPrompt: true })).toBe('<s>Once upon a time, there was a cat.');
  });

  it('writes nothing for BOS when a model without a template has no BOS either', () => {
    expect(ChatTemplate.load({ tokenizerConfig: undefined }).render(HI, { addGenerationPrompt: true })).toBe('Hi');
  });
});
