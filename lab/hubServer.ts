// A local stand-in for the Hugging Face hub, for the download tests: the model API (revision and
// paged tree listings with lfs.oid = sha256), /resolve/ URLs that redirect like the hub's (LFS
// files to a CDN on another origin, plain files to a commit-pinned resolve-cache path), a CDN with
// Range support and a bandwidth limit, and repositories that misbehave on purpose. It records
// every request, listens on 127.0.0.1 only, and closes itself after `lifetimeMs`. The CDN also
// hosts files outside any repository, as GitHub hosts the llama2.c tokenizer: sized by HEAD only.

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubFixtureFile {
  path: string;
  bytes: Uint8Array;
  /** Stored through LFS (weights): served by the CDN, listed with lfs.oid = sha256. */
  lfs: boolean;
}

/** Ways a repository's CDN misbehaves. */
export interface HubMisbehaviour {
  /** Requests that start at byte 0 are cut (the socket destroyed) half-way; resumed requests are served. */
  cutFreshRequestsHalfWay?: boolean;
  /** One byte in the middle is flipped: sizes match, hashes do not. */
  corruptBytes?: boolean;
  /** Range is ignored: every answer is 200 with the whole file. */
  ignoreRange?: boolean;
  /** A Range request gets 206 with the whole file and a Content-Range starting at 0. */
  wrongRange?: boolean;
}

/** A file hosted outside the hub, at `${cdnUrl}/hosted/${path}`: no listing, no hash, only a size. */
export interface HostedFixtureFile {
  path: string;
  bytes: Uint8Array;
  /** Bytes a GET sends past the size HEAD announces, as a file that grew between the two would. */
  extraBytes?: number;
}

export interface HubFixtureRepo {
  id: string;
  files: HubFixtureFile[];
  misbehaviour?: HubMisbehaviour;
}

export interface HubRequest {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  range: string | null;
  status: number;
  /** False where the response was cut off before its end, or is still being sent. */
  completed: boolean;
  /** True once the response is over: sent in full, cut, or dropped by the client. */
  closed: boolean;
}

/** CDN responses held at one byte offset of their file, so a test catches a download mid-way on any machine. */
export interface HubHold {
  /** Resolves once a response has sent every byte before the offset and waits there. */
  reached: Promise<void>;
  /** Lets the waiting responses go on; later ones are not held. */
  release(): void;
}

export interface HubServer {
  hubUrl: string;
  cdnUrl: string;
  /** Holds CDN responses before byte `offset` of their file until released; one hold at a time. */
  holdCdnAt(offset: number): HubHold;
  /** Every request in arrival order; tests may empty it. */
  requests: HubRequest[];
  /** Bytes per second the CDN sends at most. */
  bytesPerSecond: number;
  close(): Promise<void>;
}

interface StoredFile extends HubFixtureFile {
  sha256: string;
  gitOid: string;
}

interface StoredRepo {
  id: string;
  commit: string;
  files: Map<string, StoredFile>;
  misbehaviour: HubMisbehaviour;
}

const EXPOSED_HEADERS = 'Content-Range, Content-Length, Accept-Ranges, ETag, Link, X-Linked-Size, X-Linked-Etag, X-Repo-Commit, X-Error-Code';
const CHUNK_BYTES = 16 * 1024;

const hex = (algorithm: string, ...parts: (string | Uint8Array)[]) => {
  const hash = createHash(algorithm);
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
};
const gitBlobOid = (bytes: Uint8Array) => hex('sha1', `blob ${bytes.length}\0`, bytes);
const lfsPointer = (sha256: string, size: number) => `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;

export interface HubServerOptions {
  bytesPerSecond?: number;
  pageSize?: number;
  lifetimeMs?: number;
  /** Fixed ports (0 or absent: any free port), for an app built against a known hub address. */
  hubPort?: number;
  cdnPort?: number;
  hosted?: HostedFixtureFile[];
}

export async function startHubServer(repos: HubFixtureRepo[], options: HubServerOptions = {}): Promise<HubServer> {
  const pageSize = options.pageSize ?? 1000;
  const stored = new Map<string, StoredRepo>();
  for (const repo of repos) {
    const files = new Map<string, StoredFile>();
    for (const file of repo.files) {
      const sha256 = hex('sha256', file.bytes);
      // Like git, an LFS file's oid is the hash of its pointer, not of its content.
      const gitOid = file.lfs ? gitBlobOid(new TextEncoder().encode(lfsPointer(sha256, file.bytes.length))) : gitBlobOid(file.bytes);
      files.set(file.path, { ...file, sha256, gitOid });
    }
    stored.set(repo.id, { id: repo.id, commit: hex('sha1', `commit of ${repo.id}`), files, misbehaviour: repo.misbehaviour ?? {} });
  }

  const hosted = new Map((options.hosted ?? []).map((file) => [file.path, file]));
  const requests: HubRequest[] = [];
  const state: { bytesPerSecond: number; hold: { offset: number; waiting: (() => void)[]; reach: () => void } | null } = {
    bytesPerSecond: options.bytesPerSecond ?? 1_000_000,
    hold: null,
  };
  const servers: Server[] = [];
  const urls = { hub: '', cdn: '' };

  const handle = (server: 'hub' | 'cdn') => (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fixture');
    // Logged on arrival, so that emptying the log drops earlier requests even while they still stream.
    let closed = false;
    res.on('close', () => (closed = true));
    requests.push({
      server,
      method: req.method ?? '',
      path: url.pathname,
      range: req.headers.range ?? null,
      get status() {
        return res.statusCode;
      },
      get completed() {
        return res.writableFinished;
      },
      get closed() {
        return closed;
      },
    });
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'Access-Control-Allow-Methods': 'GET, HEAD', 'Access-Control-Allow-Headers': 'Range, Accept, Content-Type', 'Access-Control-Max-Age': '600' }).end();
      return;
    }
    if (server === 'cdn') serveCdn(req, res, url);
    else serveHub(req, res, url);
  };

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
  const notFound = (res: ServerResponse, code: string, message: string) =>
    // The hub answers 401 for repositories it does not show, so that private names do not leak.
    json(res, code === 'RepoNotFound' ? 401 : 404, { error: message }, { 'X-Error-Code': code });

  /** The repository whose id is the start of `rest`, and what follows it. */
  function findRepo(rest: string): { repo: StoredRepo; tail: string } | null {
    for (const repo of stored.values()) if (rest.startsWith(`${repo.id}/`)) return { repo, tail: rest.slice(repo.id.length + 1) };
    return null;
  }

  const atRevision = (repo: StoredRepo, revision: string) => revision === 'main' || revision === repo.commit;

  function serveHub(req: IncomingMessage, res: ServerResponse, url: URL) {
    const path = decodeURIComponent(url.pathname);
    if (path.startsWith('/api/models/')) {
      const found = findRepo(path.slice('/api/models/'.length));
      if (!found) return notFound(res, 'RepoNotFound', 'Repository not found');
      const { repo, tail } = found;
      const [kind, revision, ...rest] = tail.split('/');
      if (!atRevision(repo, revision)) return notFound(res, 'RevisionNotFound', `Invalid rev id: ${revision}`);
      if (kind === 'revision') {
        return json(res, 200, {
          _id: repo.commit.slice(0, 24), id: repo.id, modelId: repo.id, author: repo.id.split('/')[0], sha: repo.commit,
          private: false, gated: false, disabled: false, lastModified: '2025-01-01T00:00:00.000Z', tags: [], downloads: 0, likes: 0,
          siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })),
        });
      }
      if (kind === 'tree') return serveTree(res, url, repo, rest.join('/'));
      return notFound(res, 'EntryNotFound', 'Not found');
    }
    if (path.startsWith('/api/resolve-cache/models/')) {
      const found = findRepo(path.slice('/api/resolve-cache/models/'.length));
      const [commit, ...rest] = found?.tail.split('/') ?? [];
      const file = found?.repo.files.get(rest.join('/'));
      if (!found || commit !== found.repo.commit || !file) return notFound(res, 'EntryNotFound', 'Entry not found');
      return sendBytes(req, res, file.bytes, { ETag: `"${file.gitOid}"`, 'X-Repo-Commit': found.repo.commit }, {}, false);
    }
    const found = findRepo(path.slice(1));
    const match = found && /^resolve\/([^/]+)\/(.+)$/.exec(found.tail);
    if (!found || !match) return notFound(res, 'RepoNotFound', 'Repository not found');
    const { repo } = found;
    if (!atRevision(repo, match[1])) return notFound(res, 'RevisionNotFound', `Invalid rev id: ${match[1]}`);
    const file = repo.files.get(match[2]);
    if (!file) return notFound(res, 'EntryNotFound', 'Entry not found');
    if (file.lfs) {
      // The hub's metadata rides on the redirect; a browser following it never sees these headers.
      res.writeHead(302, {
        Location: `${urls.cdn}/repos/${repo.id}/${file.sha256}?X-Amz-Expires=3600`,
        'X-Linked-Size': String(file.bytes.length),
        'X-Linked-Etag': `"${file.sha256}"`,
        'X-Repo-Commit': repo.commit,
        ETag: `"${file.sha256}"`,
      }).end();
      return;
    }
    const pinned = `/api/resolve-cache/models/${repo.id}/${repo.commit}/${file.path}?etag=${encodeURIComponent(`"${file.gitOid}"`)}`;
    res.writeHead(307, { Location: pinned, 'X-Repo-Commit': repo.commit }).end();
  }

  function serveTree(res: ServerResponse, url: URL, repo: StoredRepo, dir: string) {
    const prefix = dir ? `${dir}/` : '';
    const entries: unknown[] = [];
    const dirs = new Set<string>();
    for (const file of repo.files.values()) {
      if (!file.path.startsWith(prefix)) continue;
      const rest = file.path.slice(prefix.length);
      if (rest.includes('/')) {
        dirs.add(prefix + rest.slice(0, rest.indexOf('/')));
        continue;
      }
      entries.push({
        type: 'file', oid: file.gitOid, size: file.bytes.length, path: file.path,
        ...(file.lfs ? { lfs: { oid: file.sha256, size: file.bytes.length, pointerSize: lfsPointer(file.sha256, file.bytes.length).length } } : {}),
      });
    }
    for (const d of dirs) entries.push({ type: 'directory', oid: hex('sha1', d), size: 0, path: d });
    if (dir && entries.length === 0) return notFound(res, 'EntryNotFound', `${dir} does not exist on "${repo.commit}"`);
    const start = Number(url.searchParams.get('cursor') ?? 0);
    const page = entries.slice(start, start + pageSize);
    const headers: Record<string, string> = {};
    if (start + pageSize < entries.length) {
      const next = new URL(url.pathname, urls.hub);
      next.searchParams.set('cursor', String(start + pageSize));
      headers.Link = `<${next.href}>; rel="next"`;
    }
    json(res, 200, page, headers);
  }

  function serveCdn(req: IncomingMessage, res: ServerResponse, url: URL) {
    const path = decodeURIComponent(url.pathname);
    if (path.startsWith('/hosted/')) {
      const file = hosted.get(path.slice('/hosted/'.length));
      if (!file) return res.writeHead(404).end('Not Found');
      const body = new Uint8Array(file.bytes.length + (req.method === 'HEAD' ? 0 : (file.extraBytes ?? 0))).fill(0x2a);
      body.set(file.bytes);
      return sendBytes(req, res, body, {}, {}, true);
    }
    const match = /^\/repos\/(.+)\/([0-9a-f]{64})$/.exec(path);
    const repo = match ? stored.get(match[1]) : undefined;
    const file = repo && [...repo.files.values()].find((f) => f.sha256 === match![2]);
    if (!repo || !file) return res.writeHead(404).end('NoSuchKey');
    let bytes = file.bytes;
    if (repo.misbehaviour.corruptBytes) {
      bytes = bytes.slice();
      bytes[bytes.length >> 1] ^= 0xff;
    }
    sendBytes(req, res, bytes, { ETag: `"${file.sha256}"` }, repo.misbehaviour, true);
  }

  /** Serves bytes with Range support, at most state.bytesPerSecond, misbehaving as asked. */
  function sendBytes(req: IncomingMessage, res: ServerResponse, bytes: Uint8Array, headers: Record<string, string>, misbehaviour: HubMisbehaviour, throttle: boolean) {
    const size = bytes.length;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    let start = 0;
    let end = size - 1;
    let status = 200;
    const head: Record<string, string> = { ...headers, 'Content-Type': 'application/octet-stream', 'Accept-Ranges': misbehaviour.ignoreRange ? 'none' : 'bytes' };
    if (range && !misbehaviour.ignoreRange) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size) return res.writeHead(416, { ...head, 'Content-Range': `bytes */${size}` }).end();
      status = 206;
      head['Content-Range'] = `bytes ${start}-${end}/${size}`;
      if (misbehaviour.wrongRange) {
        start = 0;
        head['Content-Range'] = `bytes 0-${end}/${size}`;
      }
    }
    head['Content-Length'] = String(end - start + 1);
    res.writeHead(status, head);
    if (req.method === 'HEAD') return res.end();
    const cutAt = misbehaviour.cutFreshRequestsHalfWay && start === 0 ? size >> 1 : Infinity;
    let at = start;
    const pump = () => {
      if (res.destroyed) return;
      if (at > end) return res.end();
      const hold = throttle ? state.hold : null;
      if (hold && at === hold.offset) {
        hold.waiting.push(pump);
        hold.reach();
        return;
      }
      const holdAt = hold && hold.offset > at ? hold.offset : Infinity;
      const stop = Math.min(end + 1, at + CHUNK_BYTES, cutAt, holdAt);
      const chunk = bytes.subarray(at, stop);
      at = stop;
      res.write(chunk, () => {
        if (at >= cutAt) return res.destroy();
        setTimeout(pump, throttle ? (chunk.length / state.bytesPerSecond) * 1000 : 0);
      });
    };
    pump();
  }

  const listen = (kind: 'hub' | 'cdn', port = 0) =>
    new Promise<string>((resolve, reject) => {
      const server = createServer(handle(kind));
      servers.push(server);
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
    });
  urls.hub = await listen('hub', options.hubPort);
  urls.cdn = await listen('cdn', options.cdnPort);

  const close = async () => {
    clearTimeout(timer);
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      ),
    );
  };
  const timer = setTimeout(() => void close(), options.lifetimeMs ?? 300_000);
  timer.unref();

  return {
    hubUrl: urls.hub,
    cdnUrl: urls.cdn,
    requests,
    holdCdnAt(offset) {
      if (state.hold) throw new Error('The CDN already holds responses; release that hold first.');
      let reach!: () => void;
      const reached = new Promise<void>((resolve) => (reach = resolve));
      const hold = { offset, waiting: [] as (() => void)[], reach };
      state.hold = hold;
      return {
        reached,
        release() {
          if (state.hold === hold) state.hold = null;
          for (const pump of hold.waiting.splice(0)) pump();
        },
      };
    },
    get bytesPerSecond() {
      return state.bytesPerSecond;
    },
    set bytesPerSecond(value: number) {
      state.bytesPerSecond = value;
    },
    close,
  };
}
