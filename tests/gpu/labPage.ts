// Opens one page of the repository for a test file (before its tests, closed after them) and calls
// the methods of the object that page exposes on window, as if they ran in Node.

import { afterAll, beforeAll } from 'vitest';
import { openPage, type BrowserPage } from '../../lab/browser.ts';

type Method = (...args: never[]) => unknown;

export interface LabPage<L> {
  call<K extends keyof L>(method: K, ...args: L[K] extends Method ? Parameters<L[K]> : never): Promise<L[K] extends Method ? Awaited<ReturnType<L[K]>> : never>;
  browser(): BrowserPage;
}

/** `global` is the name of the window property the page sets once it is ready. */
export function useLabPage<L>(path: string, global: string): LabPage<L> {
  let browser: BrowserPage;
  beforeAll(async () => {
    browser = await openPage(path);
    await browser.page.waitForFunction((g) => (window as unknown as Record<string, unknown>)[g] !== undefined, global, { timeout: 60_000 });
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    call: (method, ...args) =>
      browser.page.evaluate(
        ([g, m, a]) => ((window as unknown as Record<string, Record<string, (...x: unknown[]) => unknown>>)[g][m])(...a),
        [global, method as string, args as unknown[]] as const,
      ) as never,
    browser: () => browser,
  };
}
