import { describe, expect, it } from 'vitest';
import type { FeedOptions } from '../../../src/engine/decoder/decoder.ts';
import { generate, type GenerateOptions, type GeneratedToken, type GenerateResult, type TokenDecoder, type TokenModel } from '../../../src/engine/generate/generator.ts';
import type { SamplingParams } from '../../../src/protocol/messages.ts';
import { EngineError } from '../../../src/protocol/errors.ts';
import { cpuPick } from '../../../lab/topPick.ts';

// Byte-level vocabulary: ids 0..255 are bytes, 256 ends the sequence.
const EOS = 256;
const VOCAB = 257;
const GREEDY: SamplingParams = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 };

const bytes = (s: string) => [...new TextEncoder().encode(s)];

const decoder: TokenDecoder = {
  // Like a byte-fallback tokenizer: an incomplete UTF-8 sequence at the end decodes to U+FFFD.
  decode: (ids) => new TextDecoder().decode(Uint8Array.from(ids)),
};

/**
 * A model that knows one story: after the stream s it predicts story[s.length], then EOS. It fails
 * the test if it is fed anything that departs from the story, and records every call.
 */
class StoryModel implements TokenModel {
  readonly stream: number[] = [];
  readonly calls: { ids: number[]; signal?: AbortSignal }[] = [];

  constructor(
    private readonly story: number[],
    /** Runs at the start of each call, before the abort check; may abort the signal. */
    private readonly onFeed?: (call: number) => void | Promise<void>,
  ) {}

  async feed(ids: readonly number[], options: FeedOptions = {}): Promise<Float32Array> {
    const { signal } = options;
    await this.onFeed?.(this.calls.length);
    this.calls.push({ ids: [...ids], signal });
    if (signal?.aborted) throw new EngineError('ABORTED', 'Generation was stopped.');
    this.stream.push(...ids);
    expect(this.stream, 'fed ids depart from the story').toEqual(this.story.slice(0, this.stream.length));
    const logits = new Float32Array(VOCAB);
    logits[this.story[this.stream.length] ?? EOS] = 10;
    return logits;
  }
}

async function drain(gen: AsyncGenerator<GeneratedToken, GenerateResult>): Promise<{ tokens: GeneratedToken[]; result: GenerateResult }> {
  const tokens: GeneratedToken[] = [];
  for (;;) {
    const r = await gen.next();
    if (r.done) return { tokens, result: r.value };
    tokens.push(r.value);
  }
}

const PROMPT = bytes('Q: hi\nA:');

function options(overrides: Partial<GenerateOptions> = {}): GenerateOptions {
  return { maxTokens: 100, sampling: GREEDY, eosIds: [EOS], ...overrides };
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return e instanceof EngineError ? e.code : `not an EngineError: ${String(e)}`;
  }
  return undefined;
}

describe('generate', () => {
  it('ends on EOS without showing it or feeding it, after feeding every shown token', async () => {
    const model = new StoryModel([...PROMPT, ...bytes(' hello')]);
    const { tokens, result } = await drain(generate(model, decoder, PROMPT, options()));
    expect(tokens.map((t) => t.text).join('')).toBe(' hello');
    expect(tokens.map((t) => t.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(result).toEqual({ finishReason: 'eos', ids: bytes(' hello'), fedIds: [...PROMPT, ...bytes(' hello')], text: ' hello' });
    expect(model.stream).toEqual(result.fedIds);
  });

  it('stops at maxTokens and does not feed the last token', async () => {
    const model = new StoryModel([...PROMPT, ...bytes(' hello')]);
    const { tokens, result } = await drain(generate(model, decoder, PROMPT, options({ maxTokens: 3 })));
    expect(tokens.map((t) => t.text)).toEqual([' ', 'h', 'e']);
    expect(result.finishReason).toBe('max_tokens');
    expect(result.ids).toEqual(bytes(' he'));
    expect(result.fedIds).toEqual([...PROMPT, ...bytes(' h')]);
    expect(model.stream).toEqual(result.fedIds);
  });

  it('cuts the text at a stop string split across tokens and never shows any of it', async () => {
    const model = new StoryModel([...PROMPT, ...bytes(' ok</s>junk')]);
    const { tokens, result } = await drain(generate(model, decoder, PROMPT, options({ stopStrings: ['</s>'] })));
    expect(tokens.map((t) => t.text)).toEqual([' ', 'o', 'k', '', '', '', '']);
    expect(result.finishReason).toBe('stop_string');
    expect(result.text).toBe(' ok');
    expect(result.ids).toEqual(bytes(' ok</s>'));
    expect(result.fedIds).toEqual([...PROMPT, ...bytes(' ok</s')]);
    expect(model.stream).toEqual(result.fedIds);
  });

  it('releases held-back text in the final text when the reply ends on EOS', async () => {
    const model = new StoryModel([...PROMPT, ...bytes(' a</')]);
    const { tokens, result } = await drain(generate(model, decoder, PROMPT, options({ stopStrings: ['</s>'] })));
    expect(tokens.map((t) => t.text).join('')).toBe(' a');
    expect(result).toMatchObject({ finishReason: 'eos', text: ' a</' });
  });

  it('stops within one token when aborted between tokens, and reports the unfed token', async () => {
    const controller = new AbortController();
    const model = new StoryModel([...PROMPT, ...bytes(' hello world')]);
    const gen = generate(model, decoder, PROMPT, options({ signal: controller.signal }));
    const tokens: GeneratedToken[] = [];
    let result: GenerateResult | undefined;
    for (;;) {
      const r = await gen.next();
      if (r.done) {
        result = r.value;
        break;
      }
      tokens.push(r.value);
      if (r.value.index === 2) controller.abort();
    }
    expect(tokens).toHaveLength(3);
    expect(result).toEqual({ finishReason: 'aborted', ids: bytes(' he'), fedIds: [...PROMPT, ...bytes(' h')], text: ' he' });
    expect(model.stream).toEqual(result.fedIds);
  });

  it('an abort during a feed ends the reply with "aborted" and leaves that token out of fedIds', async () => {
    const controller = new AbortController();
    // Call 0 is the prompt; calls 1, 2, 3 feed ' ', 'h', 'e'.
    const model = new StoryModel([...PROMPT, ...bytes(' hello')], (call) => {
      if (call === 3) controller.abort();
    });
    const { tokens, result } = await drain(generate(model, decoder, PROMPT, options({ signal: controller.signal })));
    expect(tokens.map((t) => t.text).join('')).toBe(' he');
    expect(result.finishReason).toBe('aborted');
    expect(result.fedIds).toEqual([...PROMPT, ...bytes(' h')]);
    expect(model.stream).toEqual(result.fedIds);
    expect(model.calls.every((c) => c.signal === controller.signal)).toBe(true);
  });

  it('an abort before the start feeds nothing', async () => {
    const controller = new AbortController();
    controller.abort();
    const model = new StoryModel([...PROMPT, ...bytes(' hello')]);
    const { tokens, result } = await drain(generate(model, decoder, PROMPT, options({ signal: controller.signal })));
    expect(tokens).toEqual([]);
    expect(result).toEqual({ finishReason: 'aborted', ids: [], fedIds: [], text: '' });
    expect(model.calls).toEqual([]);
  });

  it('holds back an incomplete UTF-8 character until the token that completes it', async () => {
    // "é" is C3 A9 and "€" is E2 82 AC: each arrives as separate byte tokens.
    const model = new StoryModel([...PROMPT, ...bytes('é€!')]);
    const { tokens, result } = await drain(generate(model, decoder, PROMPT, options()));
    expect(tokens.map((t) => t.text)).toEqual(['', 'é', '', '', '€', '!']);
    expect(result.text).toBe('é€!');
  });

  it('an incomplete character at the very end shows as U+FFFD in the final text', async () => {
    const model = new StoryModel([...PROMPT, ...bytes('a'), 0xe2, 0x82]);
    const { tokens, result } = await drain(generate(model, decoder, PROMPT, options()));
    expect(tokens.map((t) => t.text)).toEqual(['a', '', '']);
    expect(result.text).toBe('a\uFFFD');
  });

  it('continues a stream fed earlier from startLogits without feeding a prompt', async () => {
    const model = new StoryModel([...PROMPT, ...bytes(' hi')]);
    const startLogits = await model.feed(PROMPT);
    const { result } = await drain(generate(model, decoder, [], options({ startLogits })));
    expect(result).toMatchObject({ finishReason: 'eos', text: ' hi', fedIds: bytes(' hi') });
    expect(model.stream).toEqual([...PROMPT, ...bytes(' hi')]);
  });

  it('the repetition penalty sees the history and prompt within the window', async () => {
    const [a, b] = bytes('ab');
    const constant: TokenModel = {
      feed: async () => {
        const logits = new Float32Array(VOCAB).fill(-Infinity);
        logits[a] = 2;
        logits[b] = 1.8;
        return logits;
      },
    };
    const first = async (extra: Partial<GenerateOptions>) =>
      (await drain(generate(constant, decoder, [], options({ maxTokens: 1, startLogits: await constant.feed([]), sampling: { ...GREEDY, repetitionPenalty: 1.5 }, ...extra })))).result.text;
    expect(await first({})).toBe('a');
    expect(await first({ history: [a] })).toBe('b');
    expect(await first({ history: [a, b, b], repetitionWindow: 2 })).toBe('a');
    expect(await first({ history: [a], repetitionWindow: 0 })).toBe('a');
  });

  it("the repetition penalty sees the reply's own tokens as they are generated, within the window, on the whole row and on the GPU pick alike", async () => {
    // Logits that never change: only the penalty on what the reply already wrote moves the pick off 'a'.
    const [a, b, c] = bytes('abc');
    const row = () => {
      const logits = new Float32Array(VOCAB).fill(-Infinity);
      logits[a] = 2;
      logits[b] = 1.8;
      logits[c] = 1.7;
      return logits;
    };
    const reply = async (withTop: boolean, repetitionWindow?: number) => {
      const model: TokenModel = {
        feed: async () => row(),
        ...(withTop && { feedTop: async (_ids: readonly number[], k: number, penalized: readonly number[]) => cpuPick(row(), k, penalized) }),
      };
      const sampling = { ...GREEDY, repetitionPenalty: 1.5 };
      return (await drain(generate(model, decoder, bytes('Q:'), options({ maxTokens: 6, sampling, repetitionWindow })))).result.text;
    };
    for (const withTop of [false, true]) {
      // a 2 / 1.5 = 1.33 loses to b 1.8, then to c 1.7; once all three are penalized a leads again.
      expect(await reply(withTop), `feedTop: ${withTop}`).toBe('abcaaa');
      // A window of one id penalizes only the token just written.
      expect(await reply(withTop, 1), `feedTop: ${withTop}`).toBe('ababab');
    }
  });

  it('refuses bad options with CONFIG_INVALID before calling the model', async () => {
    const model = new StoryModel([...PROMPT, ...bytes(' hello')]);
    const bad: [readonly number[], Partial<GenerateOptions>][] = [
      [PROMPT, { maxTokens: 0 }],
      [PROMPT, { maxTokens: 1.5 }],
      [PROMPT, { sampling: { ...GREEDY, topP: 0 } }],
      [PROMPT, { repetitionWindow: -1 }],
      [PROMPT, { stopStrings: [''] }],
      [PROMPT, { eosIds: [-1] }],
      [PROMPT, { startLogits: new Float32Array(VOCAB) }],
      [[], {}],
    ];
    for (const [prompt, o] of bad) {
      expect(await codeOf(drain(generate(model, decoder, prompt, options(o)))), JSON.stringify(o)).toBe('CONFIG_INVALID');
    }
    expect(model.calls).toEqual([]);
  });

  it('feeds a pasted document of 200,000 ids in one prompt without overflowing the stack', async () => {
    const prompt = Array.from({ length: 200_000 }, (_, i) => i % 256);
    const endsAtOnce: TokenModel = {
      feed: async () => {
        const logits = new Float32Array(VOCAB);
        logits[EOS] = 10;
        return logits;
      },
    };
    const { result } = await drain(generate(endsAtOnce, decoder, prompt, options()));
    expect(result.finishReason).toBe('eos');
    expect(result.fedIds).toHaveLength(200_000);
    expect(result.fedIds[199_999]).toBe(199_999 % 256);
  });

  it('errors from the model that are not aborts propagate', async () => {
    const failing: TokenModel = {
      feed: async () => {
        throw new EngineError('DEVICE_LOST', 'The GPU was lost; reload the page.');
      },
    };
    expect(await codeOf(drain(generate(failing, decoder, PROMPT, options())))).toBe('DEVICE_LOST');
  });

  it('asks a model that can pick the best logits for just those after the first token, with the same reply', async () => {
    const plain = new StoryModel([...PROMPT, ...bytes(' hello')]);
    const expected = await drain(generate(plain, decoder, PROMPT, options()));
    const picking = new StoryModel([...PROMPT, ...bytes(' hello')]);
    const calls: { k: number; penalized: number[] }[] = [];
    const model: TokenModel = {
      feed: (ids, feedOptions) => picking.feed(ids, feedOptions),
      feedTop: async (ids, k, penalized, feedOptions) => {
        calls.push({ k, penalized: [...penalized] });
        return cpuPick(await picking.feed(ids, feedOptions), k, penalized);
      },
    };
    const got = await drain(generate(model, decoder, PROMPT, options()));
    expect(got.result).toEqual(expected.result);
    expect(calls).toEqual(new Array(bytes(' hello').length).fill({ k: 1, penalized: [] }));
  });

  it('under a repetition penalty asks for the best logits with the distinct recent ids (history, prompt and reply, within the window), with the same reply', async () => {
    // A model whose logits favour repeating: the penalty decides every token.
    const favourite = (stream: readonly number[]) => {
      const logits = new Float32Array(VOCAB).fill(-5);
      for (const id of stream.slice(-5)) logits[id] += 1.2;
      logits[(stream.length * 7) % 97] += 1;
      return logits;
    };
    const history = bytes('history');
    const run = async (withTop: boolean) => {
      const stream = [...history];
      const calls: { k: number; penalized: number[] }[] = [];
      const model: TokenModel = {
        feed: async (ids) => {
          stream.push(...ids);
          return favourite(stream);
        },
        ...(withTop && {
          feedTop: async (ids: readonly number[], k: number, penalized: readonly number[]) => {
            calls.push({ k, penalized: [...penalized] });
            stream.push(...ids);
            return cpuPick(favourite(stream), k, penalized);
          },
        }),
      };
      const sampling = { temperature: 0.8, topK: 5, topP: 0.9, repetitionPenalty: 1.3, seed: 3 };
      const { result } = await drain(generate(model, decoder, PROMPT, options({ sampling, history, repetitionWindow: 12, maxTokens: 30, eosIds: [EOS] })));
      return { result, calls, stream };
    };
    const whole = await run(false);
    const picked = await run(true);
    expect(picked.result).toEqual(whole.result);
    expect(picked.calls).toHaveLength(29);
    picked.calls.forEach((call, t) => {
      // Fed so far: history, prompt and the first t + 1 generated ids.
      const seen = picked.stream.slice(0, history.length + PROMPT.length + t + 1);
      expect(call.k).toBe(5);
      expect([...call.penalized].sort((a, b) => a - b), `call ${t}`).toEqual([...new Set(seen.slice(-12))].sort((a, b) => a - b));
    });
  });
});
