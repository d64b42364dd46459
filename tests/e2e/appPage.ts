// What the end-to-end tests do on the app's page, written once: the message box, sending and
// waiting for a reply, the model's status, applying settings, loading stories260K from local files,
// and reading what IndexedDB holds (what a reload would find).

import type { Page } from 'playwright-core';
import { STORIES260K_CHECKPOINT, STORIES260K_TOKENIZER } from '../../lab/fixtures.ts';

/** How long the engine may take over a step (a load, a reply) before a test calls it hung: a guard,
 *  not a speed bound; a loaded 2-core machine has needed more than 30 s for a first token. */
export const HANG = 180_000;

export const composer = (page: Page) => page.getByRole('textbox', { name: 'Message', exact: true });
export const streaming = (page: Page) => page.locator('.message[data-status="streaming"]');
export const replies = (page: Page) => page.locator('.message.assistant');
export const userMessages = (page: Page) => page.locator('.message.user');
export const modelStatus = (page: Page) => page.getByTestId('model-status').innerText();

/** Waits until the header says `label` is loaded and ready. A locator's wait, not expect.poll, so
 *  that a beforeAll may call it; on a timeout it says what the header showed instead. */
export async function modelReady(page: Page, label = 'stories260K', timeout = HANG): Promise<void> {
  const status = page.getByTestId('model-status');
  const ready = `${label} · ready`;
  await status.filter({ hasText: new RegExp(`^${ready.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }).waitFor({ timeout }).catch(async (e: Error) => {
    throw new Error(`the header never said "${ready}" in ${timeout} ms; it says "${await status.innerText().catch(() => '(no header)')}"`, { cause: e });
  });
}

/** Opens stories260K from local files (as the picker's "Open local files…" does) and waits for it. */
export async function loadLocalStories(page: Page, timeout = HANG): Promise<void> {
  await page.getByLabel('Model files').setInputFiles([STORIES260K_CHECKPOINT, STORIES260K_TOKENIZER]);
  await modelReady(page, 'stories260K', timeout);
}

/** Types `text` into the message box, presses Enter and waits (`startTimeout` ms) for the reply to start. */
export async function send(page: Page, text: string, startTimeout = 10_000): Promise<void> {
  await composer(page).fill(text);
  await composer(page).press('Enter');
  await streaming(page).waitFor({ state: 'attached', timeout: startTimeout });
}

/** The engineering account (behind Details) of how a reply's memory followed the conversation:
 *  'Cache rolled back …', 'Cache restored …', 'Cache rebuilt …'. */
export const syncDetail = (reply: ReturnType<Page['locator']>) => reply.locator('.sync-detail').textContent();

export const replyFinished = (page: Page, timeout = HANG) => streaming(page).waitFor({ state: 'detached', timeout });

/** Sends `text` and waits (`timeout` ms) for the whole reply. */
export async function sendAndWait(page: Page, text: string, timeout = HANG): Promise<void> {
  await send(page, text);
  await replyFinished(page, timeout);
}

/** Opens the settings and every Details section in them (the engineering fields sit there). */
export async function openSettings(page: Page) {
  await page.getByRole('button', { name: 'Settings' }).click();
  const dialog = page.getByRole('dialog', { name: 'Settings' });
  await dialog.locator('details:not([open]) > summary').evaluateAll((summaries) => summaries.forEach((s) => (s as HTMLElement).click()));
  return dialog;
}

/** Opens the settings with their Details, fills the fields named by their labels and applies.
 *  Resolves once the dialog has closed. */
export async function applySettings(page: Page, values: Record<string, string>): Promise<void> {
  const dialog = await openSettings(page);
  for (const [label, value] of Object.entries(values)) await dialog.getByLabel(label, { exact: true }).fill(value);
  await dialog.getByRole('button', { name: 'Apply' }).click();
  await dialog.waitFor({ state: 'hidden' });
}

export interface StoredMessage {
  id: string;
  role: string;
  content: string;
  createdAt: number;
  status?: string;
  /** How the engine's cache followed the transcript for this reply. */
  sync?: { how: string };
  alternatives?: { id: string; content: string }[];
}

export interface StoredConversation {
  id: string;
  title: string;
  systemPrompt: string;
  messages: StoredMessage[];
  pinned?: boolean;
  renamed?: boolean;
  importedAt?: number;
}

/** Every record of IndexedDB's `store` as it holds it now (what a reload would find), or the field
 *  at `path` in each: a snapshot's cache bytes (up to hundreds of MB) stay in the page. */
export const storedRecords = <T>(page: Page, store: 'conversations' | 'snapshots' | 'experiments', path: string[] = []): Promise<T[]> =>
  page.evaluate(
    ({ name, path }) =>
      new Promise<T[]>((resolve, reject) => {
        const open = indexedDB.open('endless-chat');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const all = db.transaction(name).objectStore(name).getAll();
          all.onerror = () => reject(all.error);
          all.onsuccess = () => {
            db.close();
            resolve(all.result.map((record) => path.reduce((value, key) => (value as Record<string, unknown>)[key], record)) as T[]);
          };
        };
      }),
    { name: store, path },
  );

/** Every conversation as IndexedDB holds it now. */
export const storedConversations = (page: Page) => storedRecords<StoredConversation>(page, 'conversations');

/** A conversation file as the app exports one, for the import input. */
export const conversationFile = (conversation: object, name = 'conversation.json') => ({
  name,
  mimeType: 'application/json',
  buffer: Buffer.from(JSON.stringify({ format: 'endless-chat/conversation', version: 1, conversation })),
});
