// The UI soak (tools/uiSoak.ts runs it): drives the built app through hundreds of chat turns in one
// conversation with stories260K (loaded from local files, short replies), in headless Chromium, and
// judges the run: every turn ends in a finished reply with no page error or console error; the engine
// worker's JS heap (over CDP, after a forced GC) and the page's JS objects (from heap snapshots, the
// compiled code left out) may grow after the warm-up turns only by a fixed slack plus a small bound
// per turn (both keep the transcript, which grows); after a reload every message is still there.

import { join } from 'node:path';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { REPO_ROOT } from './browser.ts';
import { STORIES260K_CHECKPOINT, STORIES260K_TOKENIZER } from './fixtures.ts';

export interface UiSoakOptions {
  turns: number;
  maxTokens: number;
}

export interface UiTurn {
  turn: number;
  /** Wall time from pressing Enter to the finished reply. */
  ms: number;
  status: string;
  replyChars: number;
  /** Tokens in the conversation's stream, from the cache panel. */
  streamTokens: number;
  /** Bytes in use after a forced GC: the page's main thread, and the workers (the engine). */
  pageHeap: number;
  workerHeap: number;
}

export interface UiSoakResult {
  options: UiSoakOptions;
  turns: UiTurn[];
  /** Page errors and console errors, in order. */
  errors: string[];
  /** After a reload: messages found, messages expected, and whether the last reply's text survived. */
  persisted: { messages: number; expected: number; lastReplyIntact: boolean } | null;
  /** The page's heap snapshots after the warm-up turn and after the last turn. */
  pageObjects: { base: PageObjects; end: PageObjects } | null;
}

/** What a heap snapshot of the page holds. Compiled code is counted apart: V8 compiles and tiers
 *  functions as they warm up (1 MiB of code in turns 3 to 30 on an idle machine), when depends on
 *  the machine's load, and that code is bounded, no leak. Blink's own objects (the DOM's layout)
 *  are left out, as the heap's used size leaves them out. */
export interface PageObjects {
  turn: number;
  /** Bytes of JS objects, strings, arrays and closures. */
  objects: number;
  /** Bytes of compiled code and its metadata. */
  code: number;
  /** Bytes of objects by kind ("object:Object", "string", …), to name what grew. */
  byKind: Record<string, number>;
}

/** Heap growth allowed after the warm-up turns: a fixed slack (V8 compiles and tiers code, caches
 *  settle) plus a bound per turn, since the transcript is kept and grows with every turn. */
export interface UiSoakTolerances {
  workerHeapSlackBytes: number;
  workerHeapBytesPerTurn: number;
  pageObjectsSlackBytes: number;
  pageObjectsBytesPerTurn: number;
}

/** An idle machine measured 18 KiB of page objects per turn (React's fibers and the messages). */
export const UI_SOAK_TOLERANCES: UiSoakTolerances = {
  workerHeapSlackBytes: 2 * 2 ** 20,
  workerHeapBytesPerTurn: 16 * 1024,
  pageObjectsSlackBytes: 1 * 2 ** 20,
  pageObjectsBytesPerTurn: 64 * 1024,
};

const MODEL_FILES = [STORIES260K_CHECKPOINT, STORIES260K_TOKENIZER];
const PROMPTS = ['Tom saw a cat.', 'The sun was hot.', 'Lily had a red ball.', 'They went to the park.', 'A bird sang in the tree.'];

/** Heap of every dedicated worker of the browser, over CDP (Playwright offers no CDP session on a worker). */
class WorkerHeaps {
  private next = 0;
  private readonly pending = new Map<number, (value: Record<string, number>) => void>();
  private readonly sessions = new Map<string, string>();

  private constructor(private readonly cdp: CDPSession) {
    cdp.on('Target.receivedMessageFromTarget', (event) => {
      const message = JSON.parse(event.message) as { id?: number; result?: Record<string, number> };
      if (message.id !== undefined) this.pending.get(message.id)?.(message.result ?? {});
    });
  }

  static async open(browser: Browser): Promise<WorkerHeaps> {
    return new WorkerHeaps(await browser.newBrowserCDPSession());
  }

  private send(sessionId: string, method: string): Promise<Record<string, number>> {
    const id = ++this.next;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      void this.cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params: {} }) });
    });
  }

  async usedBytes(): Promise<number> {
    const { targetInfos } = await this.cdp.send('Target.getTargets');
    let total = 0;
    for (const target of targetInfos.filter((t) => t.type === 'worker')) {
      let sessionId = this.sessions.get(target.targetId);
      if (!sessionId) {
        sessionId = (await this.cdp.send('Target.attachToTarget', { targetId: target.targetId, flatten: false })).sessionId;
        this.sessions.set(target.targetId, sessionId);
      }
      await this.send(sessionId, 'HeapProfiler.collectGarbage');
      total += (await this.send(sessionId, 'Runtime.getHeapUsage')).usedSize ?? 0;
    }
    return total;
  }
}

async function pageHeap(cdp: CDPSession): Promise<number> {
  await cdp.send('HeapProfiler.collectGarbage');
  return (await cdp.send('Runtime.getHeapUsage')).usedSize;
}

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Takes a heap snapshot of the page (after a forced GC) and sums its nodes by kind. */
async function pageObjects(cdp: CDPSession, turn: number): Promise<PageObjects> {
  await cdp.send('HeapProfiler.collectGarbage');
  const chunks: string[] = [];
  const onChunk = (event: { chunk: string }) => chunks.push(event.chunk);
  cdp.on('HeapProfiler.addHeapSnapshotChunk', onChunk);
  await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  cdp.off('HeapProfiler.addHeapSnapshotChunk', onChunk);
  const snapshot = JSON.parse(chunks.join('')) as HeapSnapshot;
  const fields = snapshot.snapshot.meta.node_fields;
  const typeNames = snapshot.snapshot.meta.node_types[0];
  const [type, name, size] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const result: PageObjects = { turn, objects: 0, code: 0, byKind: {} };
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const kind = typeNames[snapshot.nodes[i + type]];
    const bytes = snapshot.nodes[i + size];
    if (kind === 'native' || kind === 'synthetic') continue;
    if (kind === 'code') {
      result.code += bytes;
      continue;
    }
    result.objects += bytes;
    const key = kind === 'object' || kind === 'closure' ? `${kind}:${snapshot.strings[snapshot.nodes[i + name]].slice(0, 40)}` : kind.endsWith('string') ? 'string' : kind;
    result.byKind[key] = (result.byKind[key] ?? 0) + bytes;
  }
  return result;
}

/** Opens the app at `url` in a new context of `browser` and chats for `options.turns` turns. */
export async function runUiSoak(browser: Browser, url: string, options: UiSoakOptions, onTurn: (result: UiSoakResult) => void = () => {}): Promise<UiSoakResult> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const result: UiSoakResult = { options, turns: [], errors: [], persisted: null, pageObjects: null };
  let base: PageObjects | null = null;
  try {
    const page = await context.newPage();
    page.on('pageerror', (e) => result.errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') result.errors.push(`console: ${m.text()}`);
    });
    const cdp = await context.newCDPSession(page);
    const workers = await WorkerHeaps.open(browser);
    await page.goto(url);
    await page.getByRole('heading', { name: 'Choose a model' }).waitFor({ timeout: 60_000 });
    await loadModel(page);
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByLabel('Max tokens per reply', { exact: true }).fill(String(options.maxTokens));
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByRole('dialog', { name: 'Settings' }).waitFor({ state: 'detached', timeout: 30_000 });
    await waitReady(page);

    const composer = page.getByRole('textbox', { name: 'Message', exact: true });
    for (let turn = 1; turn <= options.turns; turn++) {
      const begin = performance.now();
      await composer.fill(`${PROMPTS[turn % PROMPTS.length]} (${turn})`);
      await page.getByRole('button', { name: 'Send', exact: true }).click({ timeout: 60_000 });
      try {
        // Counted, not watched: a reply that ends at once may stream too briefly to be seen. The
        // turn ends when the log is no longer busy (the reply is saved), so the next send is taken.
        await page.waitForFunction(
          (n) =>
            document.querySelectorAll('.message.assistant').length >= n &&
            !document.querySelector('.message[data-status="streaming"]') &&
            !document.querySelector('[role="log"][aria-busy="true"]'),
          turn,
          { timeout: 180_000, polling: 100 },
        );
      } catch (e) {
        await page.screenshot({ path: join(REPO_ROOT, '.cache', 'ui-soak-failure.png') });
        result.errors.push(`turn ${turn}: no finished reply (${(e as Error).message.split('\n')[0]}); screenshot in .cache/ui-soak-failure.png`);
        return result;
      }
      const ms = performance.now() - begin;
      const reply = page.locator('.message.assistant').last();
      result.turns.push({
        turn,
        ms,
        status: (await reply.getAttribute('data-status')) ?? 'missing',
        replyChars: (await reply.locator('.markdown').innerText()).length,
        streamTokens: Number((await page.getByTestId('cache-tokens').innerText()).replace(/,/g, '')),
        pageHeap: await pageHeap(cdp),
        workerHeap: await workers.usedBytes(),
      });
      if (turn === warmUp(options.turns)) base = await pageObjects(cdp, turn);
      onTurn(result);
    }

    const messages = page.locator('.message');
    const lastReply = await page.locator('.message.assistant .markdown').last().innerText();
    await page.waitForTimeout(1000); // past the save of the last reply
    if (base) result.pageObjects = { base, end: await pageObjects(cdp, options.turns) };
    await page.reload();
    await page.locator('.message.assistant').last().waitFor({ timeout: 60_000 });
    result.persisted = {
      messages: await messages.count(),
      expected: 2 * options.turns,
      lastReplyIntact: (await page.locator('.message.assistant .markdown').last().innerText()) === lastReply,
    };
    onTurn(result);
  } finally {
    await context.close();
  }
  return result;
}

async function loadModel(page: Page): Promise<void> {
  await page.getByLabel('Model files').setInputFiles(MODEL_FILES);
  await waitReady(page);
}

async function waitReady(page: Page): Promise<void> {
  const status = page.getByTestId('model-status');
  const deadline = Date.now() + 120_000;
  while ((await status.innerText()) !== 'stories260K · ready') {
    if (Date.now() > deadline) throw new Error(`the model did not become ready: "${await status.innerText()}"`);
    await page.waitForTimeout(200);
  }
}

/** Turns after which the heaps are taken as the baseline: the first tenth, at least one. */
const warmUp = (turns: number) => Math.max(1, Math.floor(turns / 10));

/** Every way the run broke a check, one line each; empty when it passed. */
export function uiSoakFailures(result: UiSoakResult, tolerances: UiSoakTolerances = UI_SOAK_TOLERANCES): string[] {
  const failures = result.errors.map((e) => `page error: ${e}`);
  const turns = result.turns;
  if (turns.length < result.options.turns) failures.push(`only ${turns.length} of ${result.options.turns} turns finished`);
  for (const t of turns) if (t.status !== 'done') failures.push(`turn ${t.turn} ended as "${t.status}"`);
  if (turns.length > warmUp(result.options.turns)) {
    const base = turns[warmUp(result.options.turns) - 1];
    const after = turns.slice(base.turn);
    const allowed = (slack: number, perTurn: number) => slack + perTurn * (after[after.length - 1].turn - base.turn);
    // The end is the median of the last three turns: a save or a reply in flight when the heap is
    // read holds a snapshot for a moment, which is no leak; a leak shows in every turn.
    const end = (heap: (t: UiTurn) => number) => median(after.slice(-3).map(heap));
    const workerGrowth = end((t) => t.workerHeap) - base.workerHeap;
    if (workerGrowth > allowed(tolerances.workerHeapSlackBytes, tolerances.workerHeapBytesPerTurn)) {
      failures.push(`the engine worker's heap grew by ${mib(workerGrowth)} MiB in the ${after.length} turns after turn ${base.turn}`);
    }
  }
  const objects = result.pageObjects;
  if (objects) {
    const growth = objects.end.objects - objects.base.objects;
    const turnsAfter = objects.end.turn - objects.base.turn;
    if (growth > tolerances.pageObjectsSlackBytes + tolerances.pageObjectsBytesPerTurn * turnsAfter) {
      failures.push(`the page's JS objects grew by ${mib(growth)} MiB in the ${turnsAfter} turns after turn ${objects.base.turn} (most: ${grownKinds(objects).slice(0, 3).join(', ')})`);
    }
  } else if (turns.length === result.options.turns) failures.push("the page's heap snapshots were not taken");
  const p = result.persisted;
  if (!p) failures.push('the reload at the end was not reached');
  else {
    if (p.messages !== p.expected) failures.push(`after the reload ${p.messages} messages were shown, ${p.expected} expected`);
    if (!p.lastReplyIntact) failures.push('after the reload the last reply differs from what was shown before');
  }
  return failures;
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(2);

/** The kinds of page objects that grew most between the two snapshots, as "kind +N KiB". */
function grownKinds({ base, end }: { base: PageObjects; end: PageObjects }): string[] {
  return Object.entries(end.byKind)
    .map(([kind, bytes]) => [kind, bytes - (base.byKind[kind] ?? 0)] as const)
    .sort((a, b) => b[1] - a[1])
    .filter(([, grown]) => grown > 0)
    .map(([kind, grown]) => `${kind} +${(grown / 1024).toFixed(0)} KiB`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Least-squares growth per turn of a heap, in KiB. */
function slopeKib(turns: UiTurn[], heap: (t: UiTurn) => number): number {
  if (turns.length < 2) return 0;
  const mx = turns.reduce((s, t) => s + t.turn, 0) / turns.length;
  const my = turns.reduce((s, t) => s + heap(t), 0) / turns.length;
  const sxy = turns.reduce((s, t) => s + (t.turn - mx) * (heap(t) - my), 0);
  const sxx = turns.reduce((s, t) => s + (t.turn - mx) ** 2, 0);
  return sxy / sxx / 1024;
}

export function uiSoakReport(result: UiSoakResult, command: string): string {
  const turns = result.turns;
  const failures = uiSoakFailures(result);
  const base = turns[warmUp(result.options.turns) - 1] ?? turns[0];
  const last = turns[turns.length - 1];
  const after = turns.slice(base?.turn ?? 0);
  const rows = turns.filter((t) => t.turn === 1 || t.turn % Math.max(1, Math.round(turns.length / 20)) === 0 || t === last);
  const p = result.persisted;
  const o = result.pageObjects;
  return [
    `UI soak: the built app, one conversation with stories260K from local files, replies of at most ${result.options.maxTokens} tokens, default cache settings; headless Chromium, SwiftShader. ${new Date().toISOString().slice(0, 16)}Z.`,
    `Command: \`${command}\`.`,
    '',
    `- Turns finished: ${turns.length} of ${result.options.turns}, ${turns.filter((t) => t.status === 'done').length} ended as done, ${turns.filter((t) => t.replyChars === 0).length} with an empty reply (the model chose end of text at once); median ${(median(turns.map((t) => t.ms)) / 1000).toFixed(1)} s per turn, ${((turns.reduce((s, t) => s + t.ms, 0)) / 60000).toFixed(1)} min in all.`,
    `- Stream length at the end: ${last?.streamTokens ?? 0} tokens.`,
    `- Page errors and console errors: ${result.errors.length}${result.errors.length ? ` (first: ${result.errors[0]})` : ''}.`,
    `- Engine worker heap after a forced GC: ${mib(base?.workerHeap ?? 0)} MiB after turn ${base?.turn}, ${mib(last?.workerHeap ?? 0)} MiB at the end, at most ${mib(Math.max(...turns.map((t) => t.workerHeap)))} MiB; ${slopeKib(after, (t) => t.workerHeap).toFixed(1)} KiB per turn after the warm-up (least squares).`,
    `- Page heap after a forced GC: ${mib(base?.pageHeap ?? 0)} MiB after turn ${base?.turn}, ${mib(last?.pageHeap ?? 0)} MiB at the end, at most ${mib(Math.max(...turns.map((t) => t.pageHeap)))} MiB; ${slopeKib(after, (t) => t.pageHeap).toFixed(1)} KiB per turn after the warm-up (the transcript and its DOM grow with the conversation; compiled code counts here too, so the verdict reads the snapshots below).`,
    `- Page's JS objects in heap snapshots (compiled code apart): ${o ? `${mib(o.base.objects)} MiB after turn ${o.base.turn}, ${mib(o.end.objects)} MiB at the end, ${((o.end.objects - o.base.objects) / 1024 / Math.max(1, o.end.turn - o.base.turn)).toFixed(1)} KiB per turn; compiled code ${mib(o.base.code)} MiB, then ${mib(o.end.code)} MiB; grown most: ${grownKinds(o).slice(0, 5).join(', ')}` : 'not taken'}.`,
    `- Allowed growth after the warm-up: ${mib(UI_SOAK_TOLERANCES.workerHeapSlackBytes)} MiB + ${UI_SOAK_TOLERANCES.workerHeapBytesPerTurn / 1024} KiB per turn (worker heap), ${mib(UI_SOAK_TOLERANCES.pageObjectsSlackBytes)} MiB + ${UI_SOAK_TOLERANCES.pageObjectsBytesPerTurn / 1024} KiB per turn (page objects).`,
    `- After a reload: ${p ? `${p.messages} of ${p.expected} messages shown, last reply ${p.lastReplyIntact ? 'intact' : 'changed'}` : 'not reached'}.`,
    `- Verdict: ${failures.length === 0 ? 'PASS' : `FAIL\n${failures.slice(0, 10).map((f) => `  - ${f}`).join('\n')}`}`,
    '',
    '| turn | s | status | reply chars | stream tokens | worker heap MiB | page heap MiB |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((t) => `| ${t.turn} | ${(t.ms / 1000).toFixed(1)} | ${t.status} | ${t.replyChars} | ${t.streamTokens} | ${mib(t.workerHeap)} | ${mib(t.pageHeap)} |`),
  ].join('\n');
}

/** One progress line for a finished turn. */
export function uiSoakTurnLine(t: UiTurn): string {
  return `turn ${t.turn}: ${(t.ms / 1000).toFixed(1)} s, ${t.status}, ${t.replyChars} chars, stream ${t.streamTokens}, worker ${mib(t.workerHeap)} MiB, page ${mib(t.pageHeap)} MiB`;
}
