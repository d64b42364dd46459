// The UI soak of tools/uiSoak.ts on a shortened scale: 30 turns of one conversation in the built
// app with stories260K, every reply finished, no page errors, bounded heaps, all kept after a reload.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAndServe, type ServedApp } from './appServer.ts';
import { runUiSoak, uiSoakFailures, uiSoakReport } from '../../lab/uiSoak.ts';

let app: ServedApp;

beforeAll(async () => {
  app = await buildAndServe();
});

afterAll(async () => {
  await app?.close();
});

describe('UI soak, shortened', () => {
  it('chats for 30 turns: every reply arrives, no errors, heaps bounded, the conversation survives a reload', async () => {
    const result = await runUiSoak(app.browser, app.url, { turns: 30, maxTokens: 16 });
    // The figures (heaps, snapshots, what grew) in the log, for a run that fails elsewhere.
    console.log(uiSoakReport(result, 'vitest tests/e2e/uiSoak.test.ts').split('\n\n')[1]);
    expect(uiSoakFailures(result)).toEqual([]);
    expect(result.turns.length).toBe(30);
    expect(result.turns[29].streamTokens).toBeGreaterThan(30 * 16);
  }, 900_000);
});
