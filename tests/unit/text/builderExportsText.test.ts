// Tokenizers, chat templates and end-of-turn ids of the builder exports (tests/fixtures/builder-exports),
// read from their folders through the app's own loader: the chat engine's turn-by-turn stream must
// equal the whole conversation rendered and tokenized at once, and replies must stop where the
// model's generation_config.json says.

import { describe, expect, it } from 'vitest';
import { TurnFormatter } from '../../../src/engine/chat/turnFormatter.ts';
import { ChatTemplate } from '../../../src/engine/text/chatTemplate.ts';
import { endOfTurnIds } from '../../../src/engine/text/endOfTurn.ts';
import { loadModelText } from '../../../src/engine/text/modelText.ts';
import { TextTokenizer } from '../../../src/engine/text/tokenizer.ts';
import type { ChatMessage, Conversation } from '../../../src/protocol/messages.ts';
import { loadModelFolder } from '../../../lab/reference/modelFolder.ts';

const ROOT = new URL('../../fixtures/builder-exports/', import.meta.url).pathname;
const msg = (id: string, role: ChatMessage['role'], content: string): ChatMessage => ({ id, role, content });

async function setup(folder: string, onnxFile: string | undefined, kwargs: Record<string, unknown> = {}) {
  const files = await loadModelFolder(`${ROOT}${folder}`, onnxFile);
  const template = ChatTemplate.load(files);
  const tokenizer = TextTokenizer.load(files);
  return { files, template, tokenizer, formatter: new TurnFormatter(template, tokenizer), kwargs };
}

/** Three user turns and two replies fed as the chat engine feeds them; the stream and the whole conversation at once. */
function converse(s: Awaited<ReturnType<typeof setup>>, systemPrompt: string, replies: string[]) {
  const conversation: Conversation = { id: 'c', systemPrompt, messages: [msg('u1', 'user', 'What is the capital of France?')] };
  const stream: number[] = [];
  const followUps = ['And of Italy?', 'Thanks! 123 apples'];
  const turn = () => stream.push(...s.formatter.append(conversation, conversation.messages.length - 1, s.kwargs).ids);
  turn();
  replies.forEach((text, i) => {
    // A reply is what the model wrote right after the prompt: text continuing the stream.
    stream.push(...s.tokenizer.encode(text, { continuation: true }));
    conversation.messages.push(msg(`a${i}`, 'assistant', text), msg(`u${i + 2}`, 'user', followUps[i]));
    turn();
  });
  const whole = s.template.render(
    [...(systemPrompt ? [{ role: 'system' as const, content: systemPrompt }] : []), ...conversation.messages.map(({ role, content }) => ({ role, content }))],
    { addGenerationPrompt: true, kwargs: s.kwargs },
  );
  return { stream, whole, text: s.tokenizer.decode(stream, { skipSpecialTokens: false }) };
}

// Qwen3's tokenizer.json is 11 MB: reading it takes seconds on a loaded machine.
describe('builder exports: tokenizer, template and stop ids from the model folder', { timeout: 60_000 }, () => {
  it('tiny-qwen2 (ChatML over a LLaMA tokenizer): special tokens by id, turn by turn equals the whole conversation, stops at <|im_end|> and </s>', async () => {
    const s = await setup('tiny-qwen2', 'onnx/model_q4.onnx');
    expect(s.tokenizer.encode('<|im_start|>user\nHi<|im_end|>')).toEqual([32000, ...s.tokenizer.encode('user\nHi'), 32001]);
    for (const system of ['You answer in one sentence.', '']) {
      // The LLaMA normalizer starts every piece between special tokens with "▁", so decoding shows
      // a space after each <|im_start|>: the ids, not the decoded text, must equal the whole.
      const { stream, whole } = converse(s, system, ['Paris.', 'Rome.']);
      expect(stream).toEqual(s.tokenizer.encode(whole));
      expect(whole.startsWith(`<|im_start|>system\n${system || 'You are a helpful assistant.'}<|im_end|>\n`)).toBe(true);
    }
    expect(endOfTurnIds(s.files).sort((a, b) => a - b)).toEqual([2, 32001]);
  });

  it('tiny-qwen3 (the real Qwen3 tokenizer and template): turn by turn keeps each reply as written, stops at <|im_end|> and <|endoftext|>', async () => {
    const s = await setup('tiny-qwen3', 'onnx/model_q4f16.onnx', { enable_thinking: false });
    const empty = '<think>\n\n</think>\n\n';
    const { stream } = converse(s, '', ['Paris.', 'Rome.']);
    const imStart = (role: string, text: string) => `<|im_start|>${role}\n${text}<|im_end|>\n`;
    const seen =
      imStart('user', 'What is the capital of France?') + imStart('assistant', `${empty}Paris.`) + imStart('user', 'And of Italy?') +
      imStart('assistant', `${empty}Rome.`) + imStart('user', 'Thanks! 123 apples') + `<|im_start|>assistant\n${empty}`;
    expect(stream).toEqual(s.tokenizer.encode(seen));
    expect(endOfTurnIds(s.files).sort((a, b) => a - b)).toEqual([151643, 151645]);
  });

  it('tiny-llama (Llama-2 [INST] template, sentencepiece): turn by turn equals the whole conversation, starting with <s> once per turn, stops at </s>', async () => {
    const s = await setup('tiny-llama', 'onnx/model_q4f16.onnx');
    // The model answers after "[/INST]" with a space, which the template writes when it re-renders.
    const { stream, whole } = converse(s, 'You answer in one sentence.', [' Paris.', ' Rome.']);
    expect(whole.startsWith('<s>[INST] <<SYS>>\nYou answer in one sentence.\n<</SYS>>\n\nWhat is the capital of France? [/INST]')).toBe(true);
    expect(stream).toEqual(s.tokenizer.encode(whole));
    expect(stream.filter((id) => id === 1)).toHaveLength(3);
    expect(endOfTurnIds(s.files)).toEqual([2]);
  });

  it('the published genai export (genai_config.json, no config.json) reads its shapes and stop id from genai_config.json', async () => {
    const s = await setup('published/genai-tiny-llama-fp16', undefined);
    expect(s.files.config).toMatchObject({ hidden_size: 16, num_attention_heads: 1, num_key_value_heads: 1, num_hidden_layers: 2, head_dim: 16, vocab_size: 32000 });
    expect(s.tokenizer.encode('Hello', { addSpecialTokens: true })[0]).toBe(1);
    expect(endOfTurnIds(s.files)).toContain(2);
  });
});

// What ModelRunner.load reads before the GPU: the tokenizer, stop ids and stop strings (loadModelText).
describe('builder exports: what ends a reply, read from the model folder as the engine loads it', { timeout: 60_000 }, () => {
  const qwen3 = (edits: Record<string, string | null>) => loadModelFolder(`${ROOT}tiny-qwen3`, 'onnx/model_q4f16.onnx', edits);

  it("a Qwen3 folder without generation_config.json loads (its tokenizer_config has \"bos_token\": null) and stops at the tokenizer's own end-of-turn tokens", async () => {
    const files = await qwen3({ 'generation_config.json': null });
    expect(files.generationConfig).toEqual({});
    expect(files.tokenizerConfig).toMatchObject({ bos_token: null });
    const text = loadModelText(files);
    expect(text.tokenizer.encode('<|im_start|>user')[0]).toBe(151644);
    expect(text.stopIds.sort((a, b) => a - b)).toEqual([151643, 151645]);
    expect(text.stopStrings.sort()).toEqual(['<|endoftext|>', '<|im_end|>']);
  });

  it('stops at an id and a text that only generation_config.json names', async () => {
    // 151646 is <|object_ref_start|>: no end-of-turn marker, and neither config.json nor tokenizer_config.json names it.
    const files = await qwen3({ 'generation_config.json': JSON.stringify({ eos_token_id: 151646, stop_strings: ['\nObservation:'] }) });
    const text = loadModelText(files);
    expect(text.stopIds.sort((a, b) => a - b)).toEqual([151643, 151645, 151646]);
    expect(text.stopStrings.sort()).toEqual(['\nObservation:', '<|endoftext|>', '<|im_end|>', '<|object_ref_start|>']);
  });

  it('the Llama-2 form stops at </s>, as id and as text', async () => {
    const text = loadModelText(await loadModelFolder(`${ROOT}tiny-llama`, 'onnx/model_q4f16.onnx'));
    expect([text.stopIds, text.stopStrings]).toEqual([[2], ['</s>']]);
  });
});
