// The Hugging Face hub as a model source: pins a revision to its commit, lists the requested files
// with their sizes and hashes from the hub API, and names the resolve URL of each.

import { EngineError } from '../protocol/errors.ts';
import type { Digest } from './integrity.ts';

export const DEFAULT_HUB_URL = 'https://huggingface.co';

export interface HubModelSpec {
  /** "owner/name", as on the hub. */
  repo: string;
  /** Branch, tag or commit; "main" when left out. */
  revision?: string;
  /** Paths in the repository. The external data beside each .onnx (X.onnx_data, X.onnx_data_1, ...) is added. */
  files: string[];
  /** Files that live outside the repository (the llama2.c tokenizer on GitHub), stored under `path`.
   *  No hash is published for them: they are sized by a HEAD request and checked by size only. */
  hosted?: { path: string; url: string }[];
  /** The cache entry's id; `${repo}@${revision}` when left out. Give one per variant when caching several from one repo. */
  id?: string;
}

export interface RemoteFile {
  path: string;
  url: string;
  size: number;
  digest: Digest | null;
}

export interface RemoteModel {
  repo: string;
  revision: string;
  /** The commit the revision pointed at: every URL is pinned to it, so a resumed download gets the same bytes. */
  commit: string;
  files: RemoteFile[];
}

/** One entry of GET /api/models/{repo}/tree/{revision}/{path}. */
interface TreeEntry {
  type: 'file' | 'directory' | 'unknown';
  path: string;
  size: number;
  oid?: string;
  lfs?: { oid: string; size: number; pointerSize: number };
}

const REPO_ID = /^[\w.-]+(\/[\w.-]+)?$/;
const GIT_OID = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;

export const hubModelId = (spec: HubModelSpec): string => spec.id ?? `${spec.repo}@${spec.revision ?? 'main'}`;

const encodePath = (path: string) => path.split('/').map(encodeURIComponent).join('/');

/** Resolves `spec` on the hub at `hubUrl`: its commit, and every file with its size and hash. */
export async function resolveHubModel(spec: HubModelSpec, hubUrl: string, signal?: AbortSignal): Promise<RemoteModel> {
  const revision = spec.revision ?? 'main';
  if (!REPO_ID.test(spec.repo)) throw new EngineError('CONFIG_INVALID', `"${spec.repo}" is not a hub repository id; write it as owner/name, for example karpathy/tinyllamas.`);
  if (spec.files.length === 0) throw new EngineError('CONFIG_INVALID', `Name the files to download from ${spec.repo}.`);
  const base = hubUrl.replace(/\/+$/, '');
  const api = `${base}/api/models/${spec.repo}`;
  const notFound = `The hub has no public model "${spec.repo}" at revision "${revision}". Check the name and the revision; private and gated models cannot be downloaded here.`;

  const commit = await resolveCommit(api, revision, notFound, signal);

  const dirs = new Set(spec.files.map(parentDir));
  const entries = new Map<string, TreeEntry>();
  for (const dir of dirs) {
    const missing = dir ? `The model ${spec.repo} has no folder "${dir}" at revision "${revision}". Check the file names against the repository's file list.` : notFound;
    for (const entry of await listTree(`${api}/tree/${commit}${dir ? `/${encodePath(dir)}` : ''}`, missing, signal)) entries.set(entry.path, entry);
  }

  const wanted: string[] = [];
  for (const path of spec.files) {
    const entry = entries.get(path);
    if (entry?.type !== 'file') throw new EngineError('MODEL_NOT_FOUND', `The model ${spec.repo} has no file "${path}" at revision "${revision}". Check the file name against the repository's file list.`);
    wanted.push(path);
    if (path.endsWith('.onnx')) wanted.push(...externalDataOf(path, entries));
  }

  const files = [...new Set(wanted)].map((path): RemoteFile => {
    const entry = entries.get(path)!;
    const size = entry.lfs?.size ?? entry.size;
    if (!Number.isSafeInteger(size) || size < 0) throw hubMalformed(`${api}/tree`, `no size for ${path}`);
    return { path, url: `${base}/${spec.repo}/resolve/${commit}/${encodePath(path)}`, size, digest: digestOf(entry) };
  });
  for (const { path, url } of spec.hosted ?? []) files.push({ path, url, size: await hostedSize(url, signal), digest: null });
  return { repo: spec.repo, revision, commit, files };
}

export interface HubListing {
  repo: string;
  revision: string;
  commit: string;
  /** Files at the top of the repository and in its onnx/ folder. */
  files: { path: string; size: number }[];
}

/** What a repository holds where decoders and their configs live (the top and onnx/), with sizes: enough to choose a file before downloading. */
export async function listHubRepo(repo: string, hubUrl: string, revision = 'main', signal?: AbortSignal): Promise<HubListing> {
  if (!REPO_ID.test(repo)) throw new EngineError('CONFIG_INVALID', `"${repo}" is not a hub repository id; write it as owner/name, for example onnx-community/Qwen3-0.6B-ONNX.`);
  const base = hubUrl.replace(/\/+$/, '');
  const api = `${base}/api/models/${repo}`;
  const notFound = `The hub has no public model "${repo}" at revision "${revision}". Check the name and the revision; private and gated models cannot be downloaded here.`;
  const commit = await resolveCommit(api, revision, notFound, signal);
  const top = await listTree(`${api}/tree/${commit}`, notFound, signal);
  const onnx = top.some((e) => e.type === 'directory' && e.path === 'onnx') ? await listTree(`${api}/tree/${commit}/onnx`, notFound, signal) : [];
  const files = [...top, ...onnx].filter((e) => e.type === 'file').map((e) => ({ path: e.path, size: e.lfs?.size ?? e.size }));
  return { repo, revision, commit, files };
}

/** A small JSON file of a listed repository (config.json), read at the commit the listing pinned. */
export async function readHubJson(listing: HubListing, path: string, hubUrl: string, signal?: AbortSignal): Promise<unknown> {
  const url = `${hubUrl.replace(/\/+$/, '')}/${listing.repo}/resolve/${listing.commit}/${encodePath(path)}`;
  return getJson(url, `The model ${listing.repo} has no ${path}, which this app needs to size its cache; it is not a Hugging Face model export.`, signal);
}

async function hostedSize(url: string, signal?: AbortSignal): Promise<number> {
  const origin = new URL(url).origin;
  let response: Response;
  try {
    response = await fetch(url, { method: 'HEAD', signal, cache: 'no-store' });
  } catch (error) {
    if (signal?.aborted) throw new EngineError('ABORTED', 'The download was cancelled before it started.');
    throw new EngineError('DOWNLOAD_FAILED', `Could not reach ${origin}, which hosts a file of this model; check the connection and try again.`, String(error));
  }
  if (!response.ok) throw new EngineError('MODEL_NOT_FOUND', `${origin} no longer has ${url} (HTTP ${response.status}), a file this model needs. Open the model from local files instead.`, url);
  const size = Number(response.headers.get('content-length'));
  // A compressed answer's length is not the file's: without it there is nothing to check the bytes against.
  if (!Number.isSafeInteger(size) || size <= 0 || response.headers.get('content-encoding')) {
    throw new EngineError('DOWNLOAD_FAILED', `${origin} did not say how large ${url} is, so its download could not be checked. Open the model from local files instead.`, url);
  }
  return size;
}

async function resolveCommit(api: string, revision: string, notFound: string, signal?: AbortSignal): Promise<string> {
  const info = (await getJson(`${api}/revision/${encodeURIComponent(revision)}`, notFound, signal)) as { sha?: unknown };
  if (typeof info.sha !== 'string' || !GIT_OID.test(info.sha)) throw hubMalformed(`${api}/revision`, 'no commit sha');
  return info.sha;
}

const parentDir = (path: string) => path.slice(0, Math.max(0, path.lastIndexOf('/')));

function externalDataOf(onnxPath: string, entries: Map<string, TreeEntry>): string[] {
  return [...entries.values()].filter((e) => e.type === 'file' && isOnnxExternalData(onnxPath, e.path)).map((e) => e.path).sort(naturalOrder);
}

/** ONNX external data sits beside its model as X.onnx_data, X.onnx_data_1, ... (X.onnx.data from the torch exporter). */
export function isOnnxExternalData(onnxPath: string, path: string): boolean {
  if (!path.startsWith(onnxPath)) return false;
  return /^(_data|\.data)(_\d+)?$/.test(path.slice(onnxPath.length));
}

const naturalOrder = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

function digestOf(entry: TreeEntry): Digest | null {
  if (entry.lfs) return SHA256.test(entry.lfs.oid) ? { algorithm: 'sha256', hex: entry.lfs.oid } : null;
  return entry.oid && GIT_OID.test(entry.oid) ? { algorithm: 'git-sha1', hex: entry.oid } : null;
}

/** A directory listing, following the `Link: <...>; rel="next"` pages of large folders. */
async function listTree(url: string, notFound: string, signal?: AbortSignal): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = [];
  let next: string | null = url;
  while (next) {
    const { body, link } = await getJsonWithLink(next, notFound, signal);
    if (!Array.isArray(body)) throw hubMalformed(url, 'the listing is not an array');
    entries.push(...(body as TreeEntry[]));
    next = link ? (/<([^>]+)>\s*;\s*rel="?next"?/.exec(link)?.[1] ?? null) : null;
    if (next) next = new URL(next, url).href;
  }
  return entries;
}

async function getJson(url: string, notFound: string, signal?: AbortSignal): Promise<unknown> {
  return (await getJsonWithLink(url, notFound, signal)).body;
}

async function getJsonWithLink(url: string, notFound: string, signal?: AbortSignal): Promise<{ body: unknown; link: string | null }> {
  let response: Response;
  try {
    // no-cache: a branch moves; the hub must be asked where it points now.
    response = await fetch(url, { signal, cache: 'no-cache', headers: { accept: 'application/json' } });
  } catch (error) {
    if (signal?.aborted) throw new EngineError('ABORTED', 'The download was cancelled before it started.');
    throw new EngineError('DOWNLOAD_FAILED', `Could not reach the model hub at ${new URL(url).origin}; check the connection and try again.`, String(error));
  }
  // The hub answers 401 rather than 404 for a repository it will not show, so that private names do not leak.
  if (response.status === 401 || response.status === 403 || response.status === 404) throw new EngineError('MODEL_NOT_FOUND', notFound, `HTTP ${response.status} from ${url}`);
  if (!response.ok) throw new EngineError('DOWNLOAD_FAILED', `The model hub answered HTTP ${response.status}; try again in a minute.`, url);
  try {
    return { body: await response.json(), link: response.headers.get('link') };
  } catch (error) {
    throw hubMalformed(url, String(error));
  }
}

const hubMalformed = (url: string, what: string) =>
  new EngineError('DOWNLOAD_FAILED', `The model hub sent an answer this app does not understand (${what}); check the hub address, or try again later.`, url);
