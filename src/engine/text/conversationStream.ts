// One token stream per conversation: which ids the model has read, the ids that extend them for
// each new turn (what the model read is never re-rendered or re-encoded), and the ids that end a turn.

import { EngineError } from '../../protocol/errors.ts';
import { collectEosIds } from '../generate/stopConditions.ts';
import type { ChatMessage, ChatTemplate } from './chatTemplate.ts';

/** Text to token ids, adding no special tokens of its own: the template writes BOS and the rest. */
export interface TokenEncoder {
  encode(text: string): number[];
}

/** What the generator reports for a turn (its GenerateResult has these fields). */
export interface TurnResult {
  /** Every generated id, in order; no end-of-turn id. */
  ids: readonly number[];
  /** The ids the generator put into the model: the turn's prompt ids, then the generated ids it fed. */
  fedIds: readonly number[];
}

// Stands in for the last reply when the conversation is rendered, so that whatever the template
// writes after a reply can be cut out of the text (private-use characters no message contains).
const REPLY_MARK = '\uE000reply\uE001';

/**
 * The token stream of one conversation, as the KV cache holds it.
 *
 * Each turn renders the whole conversation with the generation prompt but encodes only what comes
 * after the last reply; the reply itself is in the stream as the exact ids the model generated.
 * So the next prompt begins with any generated id the generator did not feed, then whatever the
 * template writes after a reply (`<|im_end|>\n<|im_start|>user\n…` in ChatML), and ends with the
 * generation prompt.
 *
 * Templates that render earlier turns differently once the conversation goes on are not followed
 * back: Qwen3 drops the `<think>…</think>` block of every assistant turn before the last user
 * message (and the empty one its generation prompt writes when thinking is off), and Llama 3 trims
 * the whitespace around replies. The stream keeps what the model actually read and wrote, earlier
 * reasoning included, because rewriting it would mean recomputing the cache. The model therefore
 * sees its own earlier thoughts, which a full re-render would hide from it; in a long conversation
 * the rolling window evicts them soon enough.
 */
export class ConversationStream {
  private fed: number[] = [];
  /** Generated ids that belong before the next prompt but were not fed (at most the last one). */
  private unfed: number[] = [];
  /** The messages the stream holds; once a turn is recorded, the last is the reply (its text unused). */
  private held: ChatMessage[] = [];
  /** The turn nextTurn prepared and recordTurn has yet to see. */
  private staged: { messages: ChatMessage[]; promptIds: number[] } | undefined;

  constructor(
    private readonly template: ChatTemplate,
    private readonly tokenizer: TokenEncoder,
    /** Template variables for every turn, such as enable_thinking or a fixed date_string. */
    private readonly kwargs: Readonly<Record<string, unknown>> = {},
  ) {}

  /** The ids the model has read, in order: exactly what the KV cache holds. */
  get ids(): readonly number[] {
    return this.fed;
  }

  /**
   * Index of the first message that differs from what the stream holds (the number of held
   * messages when nothing follows the last reply), or undefined when `messages` only adds messages
   * after it. The reply's own text is not compared: the stream holds the ids the model generated,
   * whatever text the caller keeps for it.
   */
  divergence(messages: readonly ChatMessage[]): number | undefined {
    const replyAt = this.held.length - 1;
    for (let i = 0; i < this.held.length; i++) {
      const a = messages[i];
      const b = this.held[i];
      if (a === undefined || a.role !== b.role || (i !== replyAt && a.content !== b.content)) return i;
    }
    return messages.length > this.held.length ? undefined : this.held.length;
  }

  /**
   * The ids to feed for a turn in which the model answers the last of `messages`. Pass them to the
   * generator as its prompt, then hand its result to recordTurn. Calling this again before
   * recordTurn prepares the turn afresh.
   */
  nextTurn(messages: readonly ChatMessage[]): number[] {
    const at = this.divergence(messages);
    if (at !== undefined) {
      throw new EngineError(
        'CONFIG_INVALID',
        at < this.held.length
          ? `Message ${at + 1} differs from what the model has already read, so this turn cannot continue the conversation's token stream; read the conversation again from its first message.`
          : 'There is no new message to answer; add a message after the last reply.',
      );
    }
    const copy = messages.map(({ role, content }) => ({ role, content }));
    const options = { addGenerationPrompt: true, kwargs: this.kwargs };
    let promptIds: number[];
    if (this.held.length === 0) {
      promptIds = this.tokenizer.encode(this.template.render(copy, options));
    } else {
      const marked = copy.map((m, i) => (i === this.held.length - 1 ? { role: m.role, content: REPLY_MARK } : m));
      const text = this.template.render(marked, options);
      const cut = text.lastIndexOf(REPLY_MARK);
      if (cut < 0) {
        throw new EngineError(
          'CHAT_TEMPLATE_FAILED',
          "The model's chat template leaves out the assistant's last reply, so the next turn cannot follow it in the token stream; choose another model.",
        );
      }
      promptIds = [...this.unfed, ...this.tokenizer.encode(text.slice(cut + REPLY_MARK.length))];
    }
    this.staged = { messages: copy, promptIds };
    return [...promptIds];
  }

  /**
   * Records a turn that nextTurn prepared: what the generator fed joins the stream, and the reply
   * becomes part of the conversation. A turn whose prompt was never fed (aborted at once) leaves
   * the stream as it was, so the same messages can be answered again.
   */
  recordTurn(result: TurnResult): void {
    const staged = this.staged;
    if (!staged) throw new EngineError('CONFIG_INVALID', 'A turn was recorded without nextTurn; prepare each turn with nextTurn first.');
    this.staged = undefined;
    const { promptIds } = staged;
    if (promptIds.length > 0 && result.fedIds.length === 0) return;
    const fedReply = result.fedIds.slice(promptIds.length);
    if (!startsWith(result.fedIds, promptIds) || !startsWith(result.ids, fedReply)) {
      throw new EngineError(
        'CONFIG_INVALID',
        "The generator's fed ids are not this turn's prompt followed by its reply; record the result of the turn that nextTurn prepared.",
      );
    }
    this.fed.push(...result.fedIds);
    this.unfed = result.ids.slice(fedReply.length);
    this.held = [...staged.messages, { role: 'assistant', content: '' }];
  }
}

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

function startsWith(ids: readonly number[], prefix: readonly number[]): boolean {
  return prefix.length <= ids.length && prefix.every((id, i) => ids[i] === id);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
