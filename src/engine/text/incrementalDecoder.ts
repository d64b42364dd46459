// A reply's text one token at a time, decoding only the newest ids with a little context, as vLLM
// and TGI do: decoding the whole reply every token costs time quadratic in its length.
//
// The text of ids[prefix:] minus that of ids[prefix:read] is the text the ids from `read` on add.
// The context ids[prefix:read] (the last piece shown) gives the tokenizer what it needs to decode
// the new ids as they read inside the reply: a word-start space that a tokenizer strips at the
// start of a text, bytes that complete a character. The offsets move on only once the text does
// not end in U+FFFD, so the context always ends on a whole character.

/**
 * Turns token ids into text. Decoding a longer list must extend the text of a shorter one, except
 * that an incomplete character at the end may show as U+FFFD until the token that completes it.
 */
export interface TokenDecoder {
  decode(ids: readonly number[]): string;
}

const REPLACEMENT_CHAR = '\uFFFD';

export class IncrementalDecoder {
  private readonly ids: number[] = [];
  /** First id of the context. */
  private prefix = 0;
  /** First id after the context. */
  private read = 0;
  /** Text of ids[prefix:read]. */
  private contextText = '';
  /** Characters of the text after the context already returned. */
  private shown = 0;
  private heldBack = '';

  constructor(private readonly decoder: TokenDecoder) {}

  /** Adds one id; returns the text it completes ('' while a character is still incomplete). */
  push(id: number): string {
    this.ids.push(id);
    const text = this.decoder.decode(this.ids.slice(this.prefix));
    let end = text.length;
    while (end > 0 && text[end - 1] === REPLACEMENT_CHAR) end--;
    const start = this.contextText.length + this.shown;
    const piece = end > start ? text.slice(start, end) : '';
    this.shown += piece.length;
    this.heldBack = text.slice(start + piece.length);
    if (end === text.length) {
      // A context that decodes to nothing (skipped special tokens) would give the tokenizer no
      // context at all: keep the old one then.
      const context = this.prefix === this.read ? text : this.decoder.decode(this.ids.slice(this.read));
      if (context !== '' || this.prefix === this.read) {
        this.prefix = this.read;
        this.contextText = context;
      } else {
        this.contextText = text;
      }
      this.read = this.ids.length;
      this.shown = 0;
    }
    return piece;
  }

  /** Text decoded but not returned yet: an incomplete character at the end, as U+FFFD. */
  get pending(): string {
    return this.heldBack;
  }
}
