// A reply of a reasoning model (Qwen3) opens with its reasoning in <think>…</think>: split off, it
// shows folded under "Thinking", and the answer after it as the reply. While the reply streams the
// reasoning may still be open (no </think> yet): all of it so far is reasoning, the answer empty.

export interface SplitReply {
  /** The reasoning, trimmed; null when the reply has none (or an empty think block). */
  thinking: string | null;
  /** Whether the reasoning is closed (its </think> written); false while it is still streaming. */
  thought: boolean;
  answer: string;
}

const OPEN = '<think>';
const CLOSE = '</think>';

export function splitThinking(content: string): SplitReply {
  const start = content.trimStart();
  // A prompt that opened the block itself leaves the reply starting inside it, with only </think>.
  const opened = start.startsWith(OPEN);
  const close = content.indexOf(CLOSE);
  if (!opened && close < 0) return { thinking: null, thought: true, answer: content };
  if (!opened && content.slice(0, close).includes(OPEN)) return { thinking: null, thought: true, answer: content };
  const from = opened ? content.length - start.length + OPEN.length : 0;
  if (close < 0) {
    // A </think> half streamed is not shown as reasoning.
    let open = content.slice(from);
    for (let n = CLOSE.length - 1; n > 0; n--) {
      if (open.endsWith(CLOSE.slice(0, n))) {
        open = open.slice(0, -n);
        break;
      }
    }
    const thinking = open.trim();
    return { thinking: thinking || null, thought: false, answer: '' };
  }
  const thinking = content.slice(from, close).trim();
  return { thinking: thinking || null, thought: true, answer: content.slice(close + CLOSE.length).trimStart() };
}
