// The UI soak's verdict on made-up runs: page objects or a worker heap that grow every turn are a
// leak; compiled code that grows, and a worker heap read while a save held a snapshot for a moment,
// are not; unfinished turns, missing snapshots or a lost reload are failures.

import { describe, expect, it } from 'vitest';
import { uiSoakFailures, type PageObjects, type UiSoakResult, type UiTurn } from '../../lab/uiSoak.ts';

const MiB = 2 ** 20;
const KiB = 1024;

/** The page's snapshots after turn 3 and turn 30: objects grown by `objectsGrowth`, code by `codeGrowth`. */
function snapshots(objectsGrowth: number, codeGrowth = 0): UiSoakResult['pageObjects'] {
  const base: PageObjects = { turn: 3, objects: 5 * MiB, code: 2 * MiB, byKind: { 'object:Object': 1 * MiB, string: 4 * MiB } };
  const end: PageObjects = { turn: 30, objects: base.objects + objectsGrowth, code: base.code + codeGrowth, byKind: { 'object:Object': 1 * MiB + objectsGrowth, string: 4 * MiB } };
  return { base, end };
}

function run(workerHeap: (turn: number) => number = () => 4 * MiB, pageObjects = snapshots(27 * 18 * KiB)): UiSoakResult {
  const turns: UiTurn[] = Array.from({ length: 30 }, (_, i) => ({
    turn: i + 1,
    ms: 1000,
    status: 'done',
    replyChars: 60,
    streamTokens: 40 * (i + 1),
    pageHeap: 10 * MiB,
    workerHeap: workerHeap(i + 1),
  }));
  return { options: { turns: 30, maxTokens: 16 }, turns, errors: [], persisted: { messages: 60, expected: 60, lastReplyIntact: true }, pageObjects };
}

describe('uiSoakFailures', () => {
  it('passes a run whose page objects grow only by the transcript, and whose compiled code grows by 6 MiB', () => {
    expect(uiSoakFailures(run(undefined, snapshots(27 * 18 * KiB, 6 * MiB)))).toEqual([]);
  });

  it('fails page objects that grow by 128 KiB every turn, and names what grew', () => {
    expect(uiSoakFailures(run(undefined, snapshots(27 * 128 * KiB)))).toEqual(["the page's JS objects grew by 3.38 MiB in the 27 turns after turn 3 (most: object:Object +3456 KiB)"]);
  });

  it('fails an engine worker heap that grows by 100 KiB every turn', () => {
    expect(uiSoakFailures(run((t) => 4 * MiB + t * 100 * KiB))).toEqual(["the engine worker's heap grew by 2.54 MiB in the 27 turns after turn 3"]);
  });

  it('passes a worker heap read once while a snapshot was held, higher by 6 MiB for that turn only', () => {
    expect(uiSoakFailures(run((t) => 4 * MiB + (t === 30 ? 6 * MiB : 0)))).toEqual([]);
    expect(uiSoakFailures(run((t) => 4 * MiB + (t === 17 ? 6 * MiB : 0)))).toEqual([]);
  });

  it('fails unfinished turns, page errors, missing snapshots and a reload that lost messages', () => {
    const broken = run(undefined, null);
    broken.turns[4].status = 'error';
    broken.errors.push('TypeError: x is undefined');
    broken.persisted = { messages: 58, expected: 60, lastReplyIntact: false };
    expect(uiSoakFailures(broken)).toEqual([
      'page error: TypeError: x is undefined',
      'turn 5 ended as "error"',
      "the page's heap snapshots were not taken",
      'after the reload 58 messages were shown, 60 expected',
      'after the reload the last reply differs from what was shown before',
    ]);
  });
});
