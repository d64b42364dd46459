// The UI soak's verdict on made-up runs: a heap that grows every turn is a leak, a heap read while
// a save held a snapshot for a moment is not, and unfinished turns or a lost reload are failures.

import { describe, expect, it } from 'vitest';
import { uiSoakFailures, type UiSoakResult, type UiTurn } from '../../lab/uiSoak.ts';

const MiB = 2 ** 20;

function run(pageHeap: (turn: number) => number, workerHeap: (turn: number) => number = () => 4 * MiB): UiSoakResult {
  const turns: UiTurn[] = Array.from({ length: 30 }, (_, i) => ({
    turn: i + 1,
    ms: 1000,
    status: 'done',
    replyChars: 60,
    streamTokens: 40 * (i + 1),
    pageHeap: pageHeap(i + 1),
    workerHeap: workerHeap(i + 1),
  }));
  return { options: { turns: 30, maxTokens: 16 }, turns, errors: [], persisted: { messages: 60, expected: 60, lastReplyIntact: true } };
}

describe('uiSoakFailures', () => {
  it('passes a run whose heaps grow only by the transcript', () => {
    expect(uiSoakFailures(run((t) => 10 * MiB + t * 24 * 1024))).toEqual([]);
  });

  it('fails a page heap that grows by half a MiB every turn', () => {
    expect(uiSoakFailures(run((t) => 10 * MiB + t * 0.5 * MiB))).toEqual(["the page's heap grew by 13.00 MiB in the 27 turns after turn 3"]);
  });

  it('fails an engine worker heap that grows by 100 KiB every turn', () => {
    expect(uiSoakFailures(run(() => 10 * MiB, (t) => 4 * MiB + t * 100 * 1024))).toEqual(["the engine worker's heap grew by 2.54 MiB in the 27 turns after turn 3"]);
  });

  it('passes a heap read once while a snapshot was held, higher by 6 MiB for that turn only', () => {
    expect(uiSoakFailures(run((t) => 10 * MiB + (t === 30 ? 6 * MiB : 0)))).toEqual([]);
    expect(uiSoakFailures(run((t) => 10 * MiB + (t === 17 ? 6 * MiB : 0)))).toEqual([]);
  });

  it('fails unfinished turns, page errors and a reload that lost messages', () => {
    const broken = run(() => 10 * MiB);
    broken.turns[4].status = 'error';
    broken.errors.push('TypeError: x is undefined');
    broken.persisted = { messages: 58, expected: 60, lastReplyIntact: false };
    expect(uiSoakFailures(broken)).toEqual([
      'page error: TypeError: x is undefined',
      'turn 5 ended as "error"',
      'after the reload 58 messages were shown, 60 expected',
      'after the reload the last reply differs from what was shown before',
    ]);
  });
});
