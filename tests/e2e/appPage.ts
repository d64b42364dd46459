// What the end-to-end tests do on the app's page, written once: the message box, sending and
// waiting for a reply, the model's status, applying settings, loading stories260K from local files,
// and reading what IndexedDB holds (what a reload would find).

import { expect } from 'vitest';
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

/** Waits until the header says `label` is loaded and ready. */
export const modelReady = (page: Page, label = 'stories260K') => expect.poll(() => modelStatus(page), { timeout: HANG }).toBe(`${label} · ready`);

/** Opens stories260K from local files (as the picker's "Open local files…" does) and waits for it. */
export async function loadLocalStories(page: Page): Promise<void> {
  await page.getByLabel('Model files').setInputFiles([STORIES260K_CHECKPOINT, STORIES260K_TOKENIZER]);
  await modelReady(page);
}

/** Types `text` into the message box, presses Enter and waits for the reply to start. */
export async function send(page: Page, text: string): Promise<void> {
  await composer(page).fill(text);
  await composer(page).press('Enter');
  await streaming(page).waitFor({ state: 'attached', timeout: 10_000 });
}

/** The engineering account (behind Details) of how a reply's memory followed the conversation:
 *  'Cache rolled back …', 'Cache restored …', 'Cache rebuilt …'. */
export const syncDetail = (reply: ReturnType<Page['locator']>) => reply.locator('.sync-detail').textContent();

export const replyFinished = (page: Page) => streaming(page).waitFor({ state: 'detached', timeout: HANG });

/** Sends `text` and waits for the whole reply. */
export async function sendAndWait(page: Page, text: string): Promise<void> {
  await send(page, text);
  await replyFinished(page);
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
  status?: string;
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

/** Every conversation as IndexedDB holds it now. */
export const storedConversations = (page: Page): Promise<StoredConversation[]> =>
  page.evaluate(
    () =>
      new Promise<StoredConversation[]>((resolve, reject) => {
        const open = indexedDB.open('endless-chat');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const all = db.transaction('conversations').objectStore('conversations').getAll();
          all.onerror = () => reject(all.error);
          all.onsuccess = () => {
            db.close();
            resolve(all.result as StoredConversation[]);
          };
        };
      }),
  );

/** A conversation file as the app exports one, for the import input. */
export const conversationFile = (conversation: object, name = 'conversation.json') => ({
  name,
  mimeType: 'application/json',
  buffer: Buffer.from(JSON.stringify({ format: 'endless-chat/conversation', version: 1, conversation })),
});
