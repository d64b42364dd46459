import { describe, expect, it } from 'vitest';
import { StopStrings, collectEosIds } from '../../../src/engine/generate/stopConditions.ts';
import { EngineError } from '../../../src/protocol/errors.ts';

/** Feeds the pieces in order and returns what was emitted before the stop, and whether it stopped. */
function run(stops: string[], pieces: string[]): { emitted: string[]; stopped: boolean; rest: string } {
  const s = new StopStrings(stops);
  const emitted: string[] = [];
  for (const piece of pieces) {
    const scan = s.push(piece);
    emitted.push(scan.emit);
    if (scan.stopped) return { emitted, stopped: true, rest: '' };
  }
  return { emitted, stopped: false, rest: s.flush() };
}

describe('StopStrings', () => {
  it('a stop string split across pieces is held back and never shown', () => {
    expect(run(['</s>'], ['Hello <', '/', 's>', 'more'])).toEqual({ emitted: ['Hello ', '', ''], stopped: true, rest: '' });
  });

  it('held-back text is released as soon as it can no longer start a stop string', () => {
    expect(run(['</s>'], ['a<', '/b', 'c'])).toEqual({ emitted: ['a', '</b', 'c'], stopped: false, rest: '' });
  });

  it('overlapping prefixes are found: stop "abc" in "ababc" leaves "ab"', () => {
    const { emitted, stopped } = run(['abc'], [...'ababc']);
    expect(stopped).toBe(true);
    expect(emitted.join('')).toBe('ab');
  });

  it('overlapping prefixes are found when the whole text arrives at once', () => {
    expect(run(['abc'], ['xababcy'])).toEqual({ emitted: ['xab'], stopped: true, rest: '' });
  });

  it('a stop string at the very start leaves nothing to show', () => {
    expect(run(['STOP'], ['STOP and more'])).toEqual({ emitted: [''], stopped: true, rest: '' });
    expect(run(['STOP'], ['ST', 'OP'])).toEqual({ emitted: ['', ''], stopped: true, rest: '' });
  });

  it('with several stop strings the one that appears first wins, whatever their order in the list', () => {
    const { emitted, stopped } = run(['\nUser:', '###'], ['answer ##', '# more\nUser:']);
    expect(stopped).toBe(true);
    expect(emitted.join('')).toBe('answer ');
  });

  it('the longest possible start of any stop string is held back', () => {
    // "<|e" could still become "<|end|>"; "<" alone would only cover "<s>".
    expect(run(['<s>', '<|end|>'], ['x<|e'])).toEqual({ emitted: ['x'], stopped: false, rest: '<|e' });
  });

  it('without stop strings every piece passes straight through', () => {
    expect(run([], ['a', 'b'])).toEqual({ emitted: ['a', 'b'], stopped: false, rest: '' });
  });

  it('refuses an empty stop string with CONFIG_INVALID', () => {
    expect(() => new StopStrings(['ok', ''])).toThrow(EngineError);
    expect(() => new StopStrings([''])).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});

describe('collectEosIds', () => {
  it('merges single ids, lists and missing entries without duplicates', () => {
    expect(collectEosIds(2, [2, 32000], null, undefined, [7])).toEqual([2, 32000, 7]);
    expect(collectEosIds(undefined)).toEqual([]);
  });

  it('refuses an id that is not a non-negative whole number', () => {
    expect(() => collectEosIds([1, -1])).toThrow(EngineError);
    expect(() => collectEosIds(1.5)).toThrow(EngineError);
  });
});
