// Model sources in headless Chromium against a local stand-in for the Hugging Face hub
// (lab/hubServer.ts): download with progress, cancel, reload and broken-connection resume,
// integrity failures, storage refusals, list and delete, and local folders read as the same bytes.

import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubModelSpec } from '../../src/models/index.ts';
import { formatBytes } from '../../src/protocol/format.ts';
import { openPage, type BrowserPage } from '../../lab/browser.ts';
import { ensureStories260kFixture, STORIES260K_DIR } from '../../lab/fixtures.ts';
import { startHubServer, type HubFixtureFile, type HubMisbehaviour, type HubServer } from '../../lab/hubServer.ts';
import type { DownloadLab, LabDownloadOptions, TimedProgress } from './download/lab.ts';

/** Small segments, so that a few hundred kilobytes span several commits. */
const SEGMENT_BYTES = 64 * 1024;
const BYTES_PER_SECOND = 1_000_000;

let browser: BrowserPage;
let hub: HubServer;
let fixtureDir: string;
const sizes = new Map<string, number>();
const sha256s = new Map<string, string>();

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Seeded bytes (mulberry32), so a failure replays. */
function seeded(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let a = seed >>> 0;
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (t ^ (t >>> 14)) & 0xff;
  }
  return out;
}

const STORIES: HubModelSpec = {
  repo: 'onnx-community/stories260K-ONNX',
  files: ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'],
};
const TINYLLAMAS: HubModelSpec = { repo: 'karpathy/tinyllamas', files: ['stories260K/stories260K.bin', 'stories260K/tok512.bin'] };
const SHARDED: HubModelSpec = { repo: 'test/sharded', files: ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.onnx'] };
const broken = (repo: string): HubModelSpec => ({ repo, files: ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.onnx'] });
/** Served longer than its HEAD request says; like the llama2.c tokenizer on GitHub, it has no hash to catch that. */
const GROWN_TOKENIZER = { path: 'tokenizer.bin', bytes: seeded(10, 20_000), extraBytes: 3000 };

function lab<K extends keyof DownloadLab>(method: K, ...args: Parameters<DownloadLab[K]>): Promise<Awaited<ReturnType<DownloadLab[K]>>> {
  return browser.page.evaluate(
    ([m, a]) => (window.downloadLab![m as K] as (...x: unknown[]) => unknown)(...(a as unknown[])),
    [method, args] as const,
  ) as Promise<Awaited<ReturnType<DownloadLab[K]>>>;
}

const options = (extra: Partial<LabDownloadOptions> = {}): LabDownloadOptions => ({ hubUrl: hub.hubUrl, segmentBytes: SEGMENT_BYTES, ...extra });

/** Start offsets of the Range requests the CDN got for a file. */
const rangeStarts = (fileSha: string) =>
  hub.requests.filter((r) => r.server === 'cdn' && r.path.endsWith(fileSha) && r.range).map((r) => Number(/^bytes=(\d+)-$/.exec(r.range!)![1]));

/** The size of the STORIES files: the fixture export's. */
const storiesBytes = async () => (await Promise.all(STORIES.files.map((f) => readFile(join(fixtureDir, f.replace('onnx/', '')))))).reduce((sum, b) => sum + b.length, 0);

/** Where the meter's intervals fall against the page's events, and chunks landing just before or after an event. */
const RATE_SLACK = 1.5;
/** Shortest interval the rate meter measures (progress.ts). */
const METER_INTERVAL_MS = 250;

/**
 * Lowest and highest real download rate (B/s) over spans between events about a meter interval long
 * or longer (0.8 of it: the page stamps an event just after the meter read its clock).
 */
function realRates(events: TimedProgress[]): { lowest: number; highest: number } {
  let lowest = Infinity;
  let highest = 0;
  for (let i = 0; i < events.length; i++) {
    for (let j = i + 1; j < events.length; j++) {
      const ms = events[j].at - events[i].at;
      if (ms < 0.8 * METER_INTERVAL_MS) continue;
      const rate = ((events[j].bytesDone - events[i].bytesDone) * 1000) / ms;
      lowest = Math.min(lowest, rate);
      highest = Math.max(highest, rate);
    }
  }
  return { lowest, highest };
}

async function reloadPage(): Promise<void> {
  await browser.page.reload();
  await browser.page.waitForFunction(() => window.downloadLab !== undefined, null, { timeout: 60_000 });
}

beforeAll(async () => {
  fixtureDir = await ensureStories260kFixture();
  const fixture = async (name: string) => new Uint8Array(await readFile(join(fixtureDir, name)));
  const jsonFiles = await Promise.all(
    ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json'].map(async (path): Promise<HubFixtureFile> => ({ path, bytes: await fixture(path), lfs: false })),
  );
  const weights = (path: string, bytes: Uint8Array): HubFixtureFile => {
    sizes.set(path, bytes.length);
    sha256s.set(path, sha256(bytes));
    return { path, bytes, lfs: true };
  };
  const extras: HubFixtureFile[] = [
    { path: '.gitattributes', bytes: new TextEncoder().encode('*.onnx filter=lfs diff=lfs merge=lfs -text\n'), lfs: false },
    { path: 'README.md', bytes: new TextEncoder().encode('# fixture\n'), lfs: false },
  ];
  const brokenRepo = (id: string, seed: number, misbehaviour: HubMisbehaviour) => {
    const bytes = seeded(seed, 400_000);
    sha256s.set(`${id}/model.onnx`, sha256(bytes));
    return { id, files: [...jsonFiles, { path: 'model.onnx', bytes, lfs: true }], misbehaviour };
  };
  hub = await startHubServer(
    [
      { id: STORIES.repo, files: [...jsonFiles, ...extras, weights('onnx/model.onnx', await fixture('model.onnx'))] },
      {
        id: TINYLLAMAS.repo,
        files: [
          weights('stories260K/stories260K.bin', new Uint8Array(await readFile(join(STORIES260K_DIR, 'stories260K.bin')))),
          weights('stories260K/tok512.bin', new Uint8Array(await readFile(join(STORIES260K_DIR, 'tok512.bin')))),
        ],
      },
      {
        id: SHARDED.repo,
        files: [
          ...jsonFiles,
          weights('model.onnx', seeded(1, 64_000)),
          weights('model.onnx_data', seeded(2, 600_000)),
          weights('model.onnx_data_1', seeded(3, 300_000)),
          // Another variant in the same folder: not requested, so never fetched.
          weights('model_q4.onnx', seeded(4, 20_000)),
          weights('model_q4.onnx_data', seeded(5, 90_000)),
        ],
      },
      brokenRepo('test/cut', 6, { cutFreshRequestsHalfWay: true }),
      brokenRepo('test/corrupt', 7, { corruptBytes: true }),
      brokenRepo('test/no-range', 8, { ignoreRange: true }),
      brokenRepo('test/wrong-range', 9, { wrongRange: true }),
    ],
    { bytesPerSecond: BYTES_PER_SECOND, pageSize: 3, lifetimeMs: 240_000, hosted: [GROWN_TOKENIZER] },
  );
  browser = await openPage('tests/gpu/download/index.html');
  await browser.page.waitForFunction(() => window.downloadLab !== undefined, null, { timeout: 60_000 });
});

afterAll(async () => {
  await browser?.close();
  await hub?.close();
});

describe('downloading from the hub', () => {
  it('reports monotonic progress with a known total, a rate and a time left, and caches every file verified', async () => {
    hub.requests.length = 0;
    const outcome = await lab('download', STORIES, options());
    expect(outcome.error).toBeNull();
    const total = await storiesBytes();
    const { events } = outcome;
    expect(events.length).toBeGreaterThan(5);
    for (const [i, event] of events.entries()) {
      expect(event.bytesTotal).toBe(total);
      if (i > 0) expect(event.bytesDone, `event ${i} went back`).toBeGreaterThanOrEqual(events[i - 1].bytesDone);
      expect(typeof event.persisted).toBe('boolean');
    }
    expect(events.at(-1)!.bytesDone).toBe(total);
    expect(events.at(-1)!.files.every((f) => f.state === 'done' && f.bytesDone === f.bytesTotal)).toBe(true);
    const measured = events.filter((e) => e.bytesPerSecond !== null && e.secondsLeft !== null);
    expect(measured.length).toBeGreaterThan(0);
    for (const e of measured) {
      // The meter smooths the rates of its own intervals, so it lies within the range of the real
      // rates over spans of the page's events (with slack for where its intervals fall), whatever
      // the load made those rates; the throttle bounds them from above.
      const { lowest, highest } = realRates(events.filter((x) => x.at <= e.at));
      const where = `at ${Math.round(e.at - events[0].at)} ms: meter ${Math.round(e.bytesPerSecond!)} B/s, real ${Math.round(lowest)}..${Math.round(highest)} B/s`;
      expect(e.bytesPerSecond!, where).toBeGreaterThanOrEqual(lowest / RATE_SLACK);
      expect(e.bytesPerSecond!, where).toBeLessThanOrEqual(Math.min(highest, BYTES_PER_SECOND) * RATE_SLACK);
      expect(e.secondsLeft!).toBeCloseTo((total - e.bytesDone) / e.bytesPerSecond!, 6);
    }

    const model = outcome.model!;
    expect(model.id).toBe(`${STORIES.repo}@main`);
    expect(model.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(model.files.map((f) => f.path)).toEqual(STORIES.files);
    expect(model.files.find((f) => f.path === 'onnx/model.onnx')!.digest).toEqual({ algorithm: 'sha256', hex: sha256s.get('onnx/model.onnx') });
    expect(model.files.find((f) => f.path === 'config.json')!.digest!.algorithm).toBe('git-sha1');

    // The root folder spans several pages of the tree listing; files are fetched at the pinned commit.
    expect(hub.requests.filter((r) => r.path.includes('/tree/') && r.status === 200).length).toBeGreaterThan(2);
    const resolves = hub.requests.filter((r) => r.path.includes('/resolve/'));
    expect(resolves.length).toBe(STORIES.files.length);
    expect(resolves.every((r) => r.path.includes(`/resolve/${model.commit}/`))).toBe(true);
    expect(hub.requests.filter((r) => r.server === 'cdn').map((r) => [r.range, r.status])).toEqual([[null, 200]]);

    const opened = await lab('open', model.id);
    expect(opened.error).toBeNull();
    expect(opened.value!.modelSha256).toBe(sha256s.get('onnx/model.onnx'));
    expect(opened.value!.config).toEqual(JSON.parse(await readFile(join(fixtureDir, 'config.json'), 'utf8')));
  });

  it('returns a cached model without asking the network', async () => {
    hub.requests.length = 0;
    const outcome = await lab('download', STORIES, options());
    expect(outcome.error).toBeNull();
    expect(outcome.model!.files.length).toBe(STORIES.files.length);
    expect(hub.requests).toEqual([]);
  });

  it('fetches the external data beside the requested .onnx, and not the other variant in the same folder', async () => {
    const outcome = await lab('download', SHARDED, options());
    expect(outcome.error).toBeNull();
    expect(outcome.model!.files.map((f) => f.path)).toEqual([...SHARDED.files, 'model.onnx_data', 'model.onnx_data_1']);
    const opened = await lab('open', outcome.model!.id);
    expect(opened.value!.externalData).toEqual(
      ['model.onnx_data', 'model.onnx_data_1'].map((path) => ({ path, sha256: sha256s.get(path), bytes: sizes.get(path) })),
    );
  });

  it('names a missing repository or file as MODEL_NOT_FOUND', async () => {
    const repo = await lab('download', { repo: 'nobody/nothing', files: ['model.onnx'] }, options());
    expect(repo.error?.code).toBe('MODEL_NOT_FOUND');
    expect(repo.error?.message).toContain('nobody/nothing');
    const file = await lab('download', { ...STORIES, id: 'missing-file', files: ['onnx/model_fp16.onnx'] }, options());
    expect(file.error?.code).toBe('MODEL_NOT_FOUND');
    expect(file.error?.message).toContain('onnx/model_fp16.onnx');
  });
});

describe('interrupted downloads', () => {
  it('cancelling mid-way leaves no cached model, and the next download resumes with a Range request and completes', async () => {
    const spec = { ...SHARDED, id: 'cancelled' };
    hub.requests.length = 0;
    const cancelled = await lab('download', spec, options({ abortAtBytes: 300_000 }));
    expect(cancelled.error?.code).toBe('ABORTED');
    expect((await lab('open', 'cancelled')).error?.code).toBe('MODEL_NOT_FOUND');
    const entry = (await lab('list')).find((m) => m.id === 'cancelled')!;
    expect(entry.complete).toBe(false);
    expect(entry.storedBytes).toBeGreaterThan(200_000);
    expect((await lab('storedFiles')).some((f) => f.path === 'cancelled/manifest.json')).toBe(false);

    const resumed = await lab('download', spec, options());
    expect(resumed.error).toBeNull();
    expect(resumed.events[0].bytesResumed).toBe(entry.storedBytes);
    const starts = rangeStarts(sha256s.get('model.onnx_data')!);
    expect(starts.length).toBe(1);
    expect(starts[0]).toBeGreaterThan(0);
    expect((await lab('open', 'cancelled')).value!.externalData[0].sha256).toBe(sha256s.get('model.onnx_data'));
  });

  it('a page reload mid-download resumes the file with a Range request, and the file verifies', async () => {
    const spec = { ...SHARDED, id: 'reloaded' };
    hub.requests.length = 0;
    // The CDN holds model.onnx_data at 300 KB, so the reload always lands mid-file, after the page
    // has closed segments of it.
    const hold = hub.holdCdnAt(300_000);
    await lab('start', spec, options());
    await hold.reached;
    await browser.page.waitForFunction(
      (closed) => (window.downloadLab!.latest()?.files.find((f) => f.path === 'model.onnx_data')?.bytesDone ?? 0) >= closed,
      3 * SEGMENT_BYTES,
      { timeout: 60_000 },
    );
    await reloadPage();
    hold.release();
    const resumed = await lab('download', spec, options());
    expect(resumed.error).toBeNull();
    expect(resumed.events[0].bytesResumed).toBeGreaterThan(SEGMENT_BYTES);
    const starts = rangeStarts(sha256s.get('model.onnx_data')!);
    expect(starts.length).toBe(1);
    // Only closed segments survive a reload.
    expect(starts[0] % SEGMENT_BYTES).toBe(0);
    expect(starts[0]).toBeGreaterThan(0);
    const opened = await lab('open', 'reloaded');
    expect(opened.value!.externalData.map((d) => d.sha256)).toEqual([sha256s.get('model.onnx_data'), sha256s.get('model.onnx_data_1')]);
  });

  it('a connection cut half-way fails with DOWNLOAD_FAILED, and the retry resumes from the bytes that arrived', async () => {
    hub.requests.length = 0;
    const cut = await lab('download', broken('test/cut'), options());
    expect(cut.error?.code).toBe('DOWNLOAD_FAILED');
    expect(cut.error?.message).toMatch(/broke off after \d+ of 400000 bytes/);
    expect(hub.requests.some((r) => r.server === 'cdn' && !r.completed)).toBe(true);
    const retry = await lab('download', broken('test/cut'), options());
    expect(retry.error).toBeNull();
    const starts = rangeStarts(sha256s.get('test/cut/model.onnx')!);
    expect(starts.length).toBe(1);
    expect(starts[0]).toBeGreaterThan(100_000);
    expect((await lab('open', 'test/cut@main')).value!.modelSha256).toBe(sha256s.get('test/cut/model.onnx'));
  });

  it('a server that ignores Range makes the file start over, and it still verifies', async () => {
    const spec = broken('test/no-range');
    expect((await lab('download', spec, options({ abortAtBytes: 150_000 }))).error?.code).toBe('ABORTED');
    hub.requests.length = 0;
    const resumed = await lab('download', spec, options());
    expect(resumed.error).toBeNull();
    const cdn = hub.requests.filter((r) => r.server === 'cdn');
    expect(cdn.map((r) => r.status)).toEqual([200]);
    expect(cdn[0].range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(resumed.events.some((e) => e.files.find((f) => f.path === 'model.onnx')!.bytesDone === 0)).toBe(true);
    expect((await lab('open', 'test/no-range@main')).value!.modelSha256).toBe(sha256s.get('test/no-range/model.onnx'));
  });

  it('a 206 answer for another range than asked makes the file start over, and it still verifies', async () => {
    const spec = broken('test/wrong-range');
    expect((await lab('download', spec, options({ abortAtBytes: 150_000 }))).error?.code).toBe('ABORTED');
    hub.requests.length = 0;
    const resumed = await lab('download', spec, options());
    expect(resumed.error).toBeNull();
    const cdn = hub.requests.filter((r) => r.server === 'cdn');
    expect(cdn.map((r) => [r.range !== null, r.status])).toEqual([[true, 206], [false, 200]]);
    expect((await lab('open', 'test/wrong-range@main')).value!.modelSha256).toBe(sha256s.get('test/wrong-range/model.onnx'));
  });
});

describe('integrity and storage', () => {
  it('bytes that do not hash to the hub\'s sha256 fail with MODEL_CORRUPT and leave nothing loadable', async () => {
    const spec = broken('test/corrupt');
    const outcome = await lab('download', spec, options());
    expect(outcome.error?.code).toBe('MODEL_CORRUPT');
    expect(outcome.error?.message).toContain('model.onnx arrived damaged: its sha256 hash does not match');
    expect((await lab('open', 'test/corrupt@main')).error?.code).toBe('MODEL_NOT_FOUND');
    const stored = (await lab('storedFiles')).filter((f) => f.path.startsWith(encodeURIComponent('test/corrupt@main')));
    expect(stored.some((f) => f.path.endsWith('manifest.json'))).toBe(false);
    // Nothing of model.onnx survives, neither among verified files nor as a partial to resume.
    expect(stored.filter((f) => f.path.includes('model.onnx') && !f.path.endsWith('meta.json'))).toEqual([]);
    expect(stored.some((f) => f.path.includes('/files/config.json/'))).toBe(true);
  });

  it('a file checked by size alone that arrives longer than the size it was listed with fails with MODEL_CORRUPT and is not kept', async () => {
    const spec: HubModelSpec = { repo: SHARDED.repo, id: 'grown', files: ['config.json'], hosted: [{ path: 'tokenizer.bin', url: `${hub.cdnUrl}/hosted/${GROWN_TOKENIZER.path}` }] };
    const outcome = await lab('download', spec, options());
    expect(outcome.error?.code).toBe('MODEL_CORRUPT');
    expect(outcome.error?.message).toMatch(/^tokenizer\.bin (is longer than the 20000 bytes|holds 23000 bytes where) the hub lists/);
    expect((await lab('open', 'grown')).error?.code).toBe('MODEL_NOT_FOUND');
    const stored = (await lab('storedFiles')).filter((f) => f.path.startsWith('grown/'));
    expect(stored.some((f) => f.path.endsWith('manifest.json'))).toBe(false);
    expect(stored.filter((f) => f.path.includes('tokenizer.bin') && !f.path.endsWith('meta.json'))).toEqual([]);
    expect(stored.some((f) => f.path.includes('/files/config.json/'))).toBe(true);
  });

  it('too little quota refuses before downloading, naming the sizes', async () => {
    await browser.page.evaluate(() => {
      navigator.storage.estimate = async () => ({ quota: 8 * 2 ** 20, usage: 8 * 2 ** 20 - 500_000 });
    });
    hub.requests.length = 0;
    const outcome = await lab('download', { ...STORIES, id: 'no-room' }, options());
    await reloadPage();
    expect(outcome.error?.code).toBe('STORAGE_FULL');
    expect(outcome.error?.message).toContain(`it needs ${formatBytes(await storiesBytes())} more (plus 64 MiB of headroom)`);
    expect(outcome.error?.message).toContain('only 488 KiB more (7.5 MiB of 8.0 MiB used)');
    expect(hub.requests.filter((r) => r.path.includes('/resolve/') || r.server === 'cdn')).toEqual([]);
    expect((await lab('list')).some((m) => m.id === 'no-room')).toBe(false);
  });

  it('a full disk during a write gives STORAGE_FULL, keeps what was stored, and the download later resumes', async () => {
    await browser.page.evaluate(() => {
      const write = FileSystemWritableFileStream.prototype.write;
      let budget = 250_000;
      FileSystemWritableFileStream.prototype.write = function (this: FileSystemWritableFileStream, data: FileSystemWriteChunkType) {
        if (typeof data !== 'string' && 'byteLength' in data && (budget -= data.byteLength) < 0) {
          return Promise.reject(new DOMException('The quota has been exceeded.', 'QuotaExceededError'));
        }
        return write.call(this, data);
      };
    });
    const spec = { ...SHARDED, id: 'disk-full' };
    const full = await lab('download', spec, options());
    await reloadPage();
    expect(full.error?.code).toBe('STORAGE_FULL');
    expect(full.error?.message).toContain('continues where it stopped');
    const entry = (await lab('list')).find((m) => m.id === 'disk-full')!;
    expect(entry.complete).toBe(false);
    expect(entry.storedBytes).toBeGreaterThan(SEGMENT_BYTES);
    const resumed = await lab('download', spec, options());
    expect(resumed.error).toBeNull();
    expect(resumed.events[0].bytesResumed).toBe(entry.storedBytes);
  });
});

describe('browsers without what the cache needs', () => {
  it('a browser without writable private files is told so, and a model from a folder still loads', async () => {
    await browser.page.evaluate(() => {
      delete (FileSystemFileHandle.prototype as Partial<FileSystemFileHandle>).createWritable;
    });
    const outcome = await lab('download', STORIES, options());
    const list = await browser.page.evaluate(() => window.downloadLab!.list().then(() => null, (e: { code: string }) => e.code));
    const local = await lab('openFolderUrl', `/@fs${fixtureDir}`, ['model.onnx', 'config.json', 'tokenizer.json']);
    await reloadPage();
    expect(outcome.error?.code).toBe('STORAGE_UNAVAILABLE');
    expect(outcome.error?.message).toContain('load a model from a folder on this computer instead');
    expect(list).toBe('STORAGE_UNAVAILABLE');
    expect(local.error).toBeNull();
  });
});

describe('local folders', () => {
  it('a folder served by the dev server gives the same ModelFiles as the model downloaded from the hub', async () => {
    const names = ['model.onnx', 'config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json'];
    const local = await lab('openFolderUrl', `/@fs${fixtureDir}`, names);
    expect(local.error).toBeNull();
    expect(local.value).toEqual((await lab('open', `${STORIES.repo}@main`)).value);
  });

  it('a llama2.c checkpoint from the hub converts to the same ModelFiles as the built-in one served from public/', async () => {
    const outcome = await lab('download', TINYLLAMAS, options());
    expect(outcome.error).toBeNull();
    const cached = await lab('open', outcome.model!.id);
    expect(cached.error).toBeNull();
    expect((cached.value!.config as { hidden_size: number }).hidden_size).toBe(64);
    const local = await lab('openFolderUrl', `/@fs${STORIES260K_DIR}/`, ['stories260K.bin', 'tok512.bin']);
    expect(local.value).toEqual(cached.value);
  });

  it('files picked from a folder, as a file list or as a directory handle, give the same ModelFiles', async () => {
    await browser.page.setInputFiles('#folder', fixtureDir);
    const expected = (await lab('open', `${STORIES.repo}@main`)).value;
    const names = (await readdir(fixtureDir)).sort();
    const fromList = await lab('openPicked');
    expect(fromList.error).toBeNull();
    expect(fromList.value!.paths).toEqual(names);
    expect(fromList.value!.id).toBe(`local:${fixtureDir.split('/').at(-1)}`);
    const fromHandle = await lab('openPickedAsDirectory');
    expect(fromHandle.value!.paths).toEqual(names);
    for (const picked of [fromList.value!, fromHandle.value!]) {
      const { id: _id, paths: _paths, ...files } = picked;
      expect(files).toEqual(expected);
    }
  });
});

describe('the cache list', () => {
  it('lists complete and partial models with their sizes; delete refuses during a download and then removes everything', async () => {
    const list = await lab('list');
    const stories = list.find((m) => m.id === `${STORIES.repo}@main`)!;
    expect(stories).toMatchObject({ complete: true, repo: STORIES.repo, revision: 'main' });
    expect(stories.storedBytes).toBe(stories.totalBytes);
    expect(list.find((m) => m.id === 'test/corrupt@main')).toMatchObject({ complete: false });

    // Held by the CDN, the download is surely still running when the delete comes.
    const hold = hub.holdCdnAt(100_000);
    await lab('start', { ...SHARDED, id: 'busy' }, options());
    await hold.reached;
    expect((await lab('remove', 'busy')).error?.code).toBe('MODEL_BUSY');
    hold.release();
    expect((await lab('finish')).error).toBeNull();

    for (const { id } of await lab('list')) expect((await lab('remove', id)).error).toBeNull();
    expect(await lab('list')).toEqual([]);
    expect(await lab('storedFiles')).toEqual([]);
    expect((await lab('open', `${STORIES.repo}@main`)).error?.code).toBe('MODEL_NOT_FOUND');
  });
});
