// What ends a reply, from the model's configs and tokenizer: ids, and texts.

import { collectEosIds } from '../generate/stopConditions.ts';

/**
 * Ids that end a reply: the end-of-sequence ids of generation_config.json and config.json, the
 * tokenizer's eos_token, and those of the tokenizer's added tokens whose text is a known
 * end-of-turn marker. The markers are a list of conventions shared by many models, looked up in
 * each model's own tokenizer, so no model needs code of its own.
 */
export function endOfTurnIds(model: {
  tokenizerJson: unknown;
  tokenizerConfig: unknown;
  generationConfig?: { eos_token_id?: number | number[] };
  config?: { eos_token_id?: number | number[] };
}): number[] {
  const added = addedTokens(model.tokenizerJson, model.tokenizerConfig);
  const config = isObject(model.tokenizerConfig) ? model.tokenizerConfig : {};
  const eosToken = config.eos_token;
  const eosText = typeof eosToken === 'string' ? eosToken : isObject(eosToken) ? eosToken.content : undefined;
  const markers = added.filter((t) => END_OF_TURN_MARKERS.has(t.content) || t.content === eosText).map((t) => t.id);
  return collectEosIds(model.generationConfig?.eos_token_id, model.config?.eos_token_id, markers);
}

/**
 * Texts that end a reply: generation_config.json's stop_strings, and the text of each stop id's own
 * token. The id ends a reply before its text shows; the text catches a model that spells the
 * marker out of ordinary tokens ("<|im_end|>" as "<|", "im", "_end", "|>"), which small and
 * quantized models do, and would otherwise show it and run on into a turn of its own making.
 */
export function endOfTurnStrings(
  model: { tokenizerJson: unknown; tokenizerConfig: unknown; generationConfig?: { stop_strings?: string | string[] } },
  stopIds: readonly number[],
): string[] {
  const ids = new Set(stopIds);
  const spelled = addedTokens(model.tokenizerJson, model.tokenizerConfig).filter((t) => ids.has(t.id)).map((t) => t.content);
  const configured: unknown = model.generationConfig?.stop_strings;
  const listed: unknown[] = typeof configured === 'string' ? [configured] : Array.isArray(configured) ? configured : [];
  // An empty entry would end every reply before its first character: it is no stop string.
  const named = listed.filter((s): s is string => typeof s === 'string' && s.length > 0);
  return [...new Set([...named, ...spelled])];
}

/** Texts that end a turn or a document in common chat formats. */
const END_OF_TURN_MARKERS = new Set([
  '<|im_end|>', // ChatML: Qwen, SmolLM
  '<|eot_id|>', // Llama 3
  '<|eom_id|>', // Llama 3.1+, end of a tool-call message
  '<|end_of_text|>', // Llama 3
  '<|endoftext|>', // GPT-2 lineage, Qwen, SmolLM
  '<|end|>', // Phi-3
  '<end_of_turn>', // Gemma
  '</s>', // Llama 2, Mistral
]);

function addedTokens(tokenizerJson: unknown, tokenizerConfig: unknown): { id: number; content: string }[] {
  const tokens: { id: number; content: string }[] = [];
  const list = isObject(tokenizerJson) ? tokenizerJson.added_tokens : undefined;
  if (Array.isArray(list)) {
    for (const t of list) {
      if (isObject(t) && typeof t.id === 'number' && typeof t.content === 'string') tokens.push({ id: t.id, content: t.content });
    }
  }
  const decoder = isObject(tokenizerConfig) ? tokenizerConfig.added_tokens_decoder : undefined;
  if (isObject(decoder)) {
    for (const [id, t] of Object.entries(decoder)) {
      if (isObject(t) && typeof t.content === 'string') tokens.push({ id: Number(id), content: t.content });
    }
  }
  return tokens;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
