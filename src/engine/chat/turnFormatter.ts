// Turns conversation messages into the token ids that extend a conversation's stream, through the
// model's chat template (or, for models without one such as the llama2.c story models, the plain
// template that writes the messages' text one after another: chatting is writing a story together).
//
// The stream is never re-encoded: a turn renders the conversation with the last reply the stream
// holds replaced by a marker, and encodes only what the template writes after it, one message at a
// time so each message's tokens are known (the UI marks messages that left the window).

import type { Conversation } from '../../protocol/messages.ts';
import { EngineError } from '../../protocol/errors.ts';
import type { ChatTemplate, TemplateMessage } from '../text/chatTemplate.ts';
import { appendIds } from '../text/tokenIds.ts';

export interface TokenEncoder {
  /** `continuation`: the text follows text already in the stream, not the start of an input. */
  encode(text: string, options?: { continuation?: boolean }): number[];
}

export interface TurnIds {
  ids: number[];
  /** Tokens contributed by each appended message, in order. */
  spans: { messageId: string; length: number }[];
}

/** The template's own switches for a turn, such as Qwen3's enable_thinking. */
export type TemplateKwargs = Readonly<Record<string, unknown>>;

const REPLY_MARK = '\uE000reply\uE001';

export class TurnFormatter {
  constructor(
    private readonly template: ChatTemplate,
    private readonly tokenizer: TokenEncoder,
  ) {}

  get hasChatTemplate(): boolean {
    return !this.template.isPlain;
  }

  get thinkingSwitch(): boolean {
    return this.template.thinkingSwitch;
  }

  /**
   * Ids that extend a stream holding messages [0, from) so it holds them all and ends where the
   * reply begins. `from` 0 means an empty stream; otherwise message from - 1 is the last reply
   * the stream holds, as the ids the model generated. `kwargs`: the template's own switches for
   * this turn, such as Qwen3's enable_thinking.
   */
  append(conversation: Conversation, from: number, kwargs: TemplateKwargs = {}): TurnIds {
    const system: TemplateMessage[] = conversation.systemPrompt ? [{ role: 'system', content: conversation.systemPrompt }] : [];
    const messages: TemplateMessage[] = conversation.messages.map((m, i) => ({ role: m.role, content: i === from - 1 ? REPLY_MARK : m.content }));
    const render = (count: number, last: boolean) =>
      this.template.render([...system, ...messages.slice(0, count)], { addGenerationPrompt: last, kwargs });

    let done = '';
    if (from > 0) {
      const text = render(from, false);
      const cut = text.lastIndexOf(REPLY_MARK);
      if (cut < 0) {
        throw new EngineError('CHAT_TEMPLATE_FAILED', "The model's chat template leaves out the assistant's last reply, so the conversation cannot go on in one token stream; choose another model.");
      }
      done = text.slice(0, cut + REPLY_MARK.length);
    }
    const ids: number[] = [];
    const spans: TurnIds['spans'] = [];
    const n = conversation.messages.length;
    for (let k = from; k < n; k++) {
      const text = render(k + 1, k === n - 1);
      // A template that re-renders earlier turns differently (Qwen3 drops old <think> blocks) only
      // changes what comes before `done`; what follows the last held reply is still appended.
      const start = text.startsWith(done) ? done.length : text.lastIndexOf(REPLY_MARK) + REPLY_MARK.length;
      // Without a chat template each message starts a new word of the story, as the user wrote it.
      const own = this.tokenizer.encode(text.slice(start), { continuation: start > 0 && this.hasChatTemplate });
      spans.push({ messageId: conversation.messages[k].id, length: own.length });
      appendIds(ids, own);
      done = text;
    }
    return { ids, spans };
  }
}
