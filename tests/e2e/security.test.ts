// The built app's Content-Security-Policy and its network footprint, in headless Chromium: an
// injected inline script and a fetch to another host are refused, and every request the page, its
// workers and its service worker make (loading, a hub download, a chat, a reload) goes to the
// app's own origin or the model hub's.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { createServer, type Server } from 'node:http';
import { buildAndServe, type ServedApp } from './appServer.ts';
import { modelReady, replies, sendAndWait } from './appPage.ts';

interface Violation {
  directive: string;
  blocked: string;
}

interface Recorded {
  url: string;
  from: 'page' | 'service worker';
}

let app: ServedApp;
let context: BrowserContext;
let page: Page;
let elsewhere: Server;
let elsewhereHits = 0;
let elsewhereUrl: string;
const pageErrors: string[] = [];
const recorded: Recorded[] = [];

const violations = (on: Page = page): Promise<Violation[]> => on.evaluate(() => (window as unknown as { __violations: Violation[] }).__violations);

beforeAll(async () => {
  app = await buildAndServe();
  // Another host the page must not reach: counts the requests that get through.
  elsewhere = createServer((_, response) => {
    elsewhereHits += 1;
    response.writeHead(200, { 'access-control-allow-origin': '*' }).end('reached');
  });
  await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
  elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as { port: number }).port}/collect`;

  context = await app.browser.newContext();
  context.on('request', (request) => recorded.push({ url: request.url(), from: request.serviceWorker() ? 'service worker' : 'page' }));
  await context.addInitScript(() => {
    const seen: Violation[] = [];
    (window as unknown as { __violations: Violation[] }).__violations = seen;
    document.addEventListener('securitypolicyviolation', (e) => seen.push({ directive: e.effectiveDirective, blocked: e.blockedURI }));
  });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(app.url);
  await page.getByRole('heading', { name: 'Choose a model' }).waitFor();
});

afterAll(async () => {
  await app?.close();
  await new Promise((resolve) => elsewhere?.close(resolve));
});

describe('the Content-Security-Policy of the built app', () => {
  it('allows scripts from the app alone and connections to the app and the model hub', async () => {
    const policy = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    const directives = new Map(policy!.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
    expect(directives.get('script-src')).toEqual(["'self'", "'wasm-unsafe-eval'"]);
    expect(directives.get('connect-src')).toEqual(["'self'", app.hub.hubUrl, app.hub.cdnUrl]);
    expect(directives.get('object-src')).toEqual(["'none'"]);
    expect(directives.get('base-uri')).toEqual(["'self'"]);
    expect(await page.locator('script:not([src])').count()).toBe(0);
  });

  it('refuses an injected inline script and inline event handler', async () => {
    await page.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'window.__inlineRan = true;';
      document.body.append(script);
      const img = document.createElement('img');
      img.setAttribute('onerror', 'window.__handlerRan = true;');
      img.src = 'data:,not-an-image';
      document.body.append(img);
    });
    await expect.poll(async () => (await violations()).map((v) => v.directive).sort()).toEqual(['script-src-attr', 'script-src-elem']);
    expect(await page.evaluate(() => [(window as unknown as { __inlineRan?: boolean }).__inlineRan, (window as unknown as { __handlerRan?: boolean }).__handlerRan])).toEqual([
      undefined,
      undefined,
    ]);
  });

  it('blocks a fetch to a host other than the app and the hub', async () => {
    const outcome = await page.evaluate(async (url) => {
      try {
        return await (await fetch(url, { method: 'POST', body: 'telemetry' })).text();
      } catch (e) {
        return (e as Error).name;
      }
    }, elsewhereUrl);
    expect(outcome).toBe('TypeError');
    expect((await violations()).filter((v) => v.directive === 'connect-src').map((v) => v.blocked)).toEqual([elsewhereUrl]);
    expect(elsewhereHits).toBe(0);
  });
});

describe('what the app asks of the network', () => {
  it('sends every request of a load, a hub download, a chat and a reload to the app or the hub, and nothing breaks the policy', async () => {
    recorded.length = 0;
    const allowed = new Set([new URL(app.url).origin, app.hub.hubUrl, app.hub.cdnUrl]);
    await page.reload();
    await page.getByRole('button', { name: 'Load stories260K' }).click();
    await modelReady(page, 'stories260K', 90_000);

    await sendAndWait(page, 'Once upon a time, there was a bird.');
    expect(await replies(page).last().getAttribute('data-status')).toBe('done');
    expect(await violations()).toEqual([]);

    await page.reload();
    await page.evaluate(() => navigator.serviceWorker.ready);
    // The model used last loads by itself after the reload.
    await modelReady(page, 'stories260K', 90_000);
    expect(await page.locator('.message').count()).toBe(2);
    expect(await violations()).toEqual([]);

    const network = recorded.filter((r) => !r.url.startsWith('data:') && !r.url.startsWith('blob:'));
    const strays = network.filter((r) => !allowed.has(new URL(r.url).origin));
    expect(strays).toEqual([]);
    // The list is complete enough to mean something: it holds the worker's hub download and the
    // service worker's precache of the app.
    expect(network.some((r) => new URL(r.url).origin === app.hub.cdnUrl)).toBe(true);
    expect(network.some((r) => r.from === 'service worker')).toBe(true);
    expect(app.hub.requests.length).toBeGreaterThan(0);
    expect(pageErrors).toEqual([]);
  });
});
