// Turns conversation messages into the token ids that extend a conversation's stream. Models
// without a chat template (the llama2.c story models) continue text: the stream is the messages'
// text one after another, so a "chat" with them is writing a story together.

import type { Conversation } from '../../protocol/messages.ts';
import type { TextTokenizer } from '../text/tokenizer.ts';

export interface TurnIds {
  ids: number[];
  /** Tokens contributed by each appended message, in order. */
  spans: { messageId: string; length: number }[];
}

export interface TurnFormatter {
  readonly hasChatTemplate: boolean;
  /** Ids that extend a stream holding messages [0, from) so it holds them all and ends where the
   *  reply begins. `from` 0 means an empty stream (BOS and system prompt come first). */
  append(conversation: Conversation, from: number): TurnIds;
}

export class PlainTextFormatter implements TurnFormatter {
  readonly hasChatTemplate = false;

  constructor(private readonly tokenizer: TextTokenizer) {}

  append(conversation: Conversation, from: number): TurnIds {
    const ids: number[] = [];
    const spans: TurnIds['spans'] = [];
    if (from === 0) {
      if (this.tokenizer.bosId !== undefined) ids.push(this.tokenizer.bosId);
      if (conversation.systemPrompt) ids.push(...this.tokenizer.encode(conversation.systemPrompt));
    }
    for (const message of conversation.messages.slice(from)) {
      const own = this.tokenizer.encode(message.content);
      spans.push({ messageId: message.id, length: own.length + (spans.length === 0 ? ids.length : 0) });
      ids.push(...own);
    }
    return { ids, spans };
  }
}
