// Turns what the user picked (a hub model fitted to this GPU, or files from this computer) into the
// ModelChoice the engine loads. Hub models go through the model cache (src/models):
// downloaded once, with progress and resume, then handed to the engine's worker as the cache's
// Blobs (backed by the browser's private file system), offline too.

import { entryFromHub, hostedFileUrl, type DeviceCaps, type ShapeConfig } from '../../models/catalog.ts';
import { hfConfigFromGenai } from '../../models/hfConfig.ts';
import { isOnnxExternalData } from '../../models/hub.ts';
import { deleteCachedModel, downloadModel, keepLocalModel, listCachedModels, listHubRepo, openCachedModel, readHubJson, type DownloadProgress, type HubListing, type HubModelSpec } from '../../models/index.ts';
import { EngineError } from '../../protocol/errors.ts';
import type { ModelChoice } from '../../protocol/messages.ts';
import { formatBytes } from '../../protocol/format.ts';
import { STORY_MODEL_CACHE, STORY_MODEL_SETTINGS, type CacheShape, type ChatSettings } from '../settings/settings.ts';
import { CATALOG_ENTRIES, fitModel, type HubChoice } from './hubModels.ts';

/** A model ready to load, with the settings it starts with. */
export interface PickedModel {
  choice: ModelChoice;
  defaults: ChatSettings;
  cache: CacheShape;
  /** The model cache entry its files came from. */
  cacheId?: string;
}

export interface CachedModelRow {
  id: string;
  label: string;
  /** Bytes stored, verified or partial. */
  bytes: number;
  complete: boolean;
  /** Files picked on this computer and kept here: loaded from this list (catalog models load from their entry). */
  local: boolean;
}

/** The hub, or a stand-in for it that a build names (the end-to-end tests run one on localhost). */
const HUB_URL: string = import.meta.env.VITE_HUB_URL ?? 'https://huggingface.co';
const REVISION = 'main';
/** Files of an ONNX export beside its graph; the first two are needed to run it. */
const REQUIRED_FILES = ['config.json', 'tokenizer.json'];
const OPTIONAL_FILES = ['tokenizer_config.json', 'generation_config.json', 'chat_template.jinja'];

/** One cache entry per weight file: the variants of one repository are cached apart. */
export const cacheIdOf = (choice: Pick<HubChoice, 'entry' | 'variant'>): string => `${choice.entry.repo}@${REVISION}:${choice.variant.file}`;

/** Lists a repository the user typed in and fits its decoder to this GPU; downloads nothing but config.json. */
export async function checkHubRepo(repo: string, caps: DeviceCaps, signal?: AbortSignal): Promise<HubChoice> {
  const listing = await listHubRepo(repo.trim(), HUB_URL, REVISION, signal);
  const config = (await readHubJson(listing, 'config.json', HUB_URL, signal)) as ShapeConfig;
  return fitModel(entryFromHub(listing.repo, listing.files, config), caps);
}

/** Downloads a hub model (or finds it already downloaded) and opens it from the cache; `signal` cancels the download, keeping what arrived. */
export async function hubModel(choice: HubChoice, onProgress: (progress: DownloadProgress) => void, signal?: AbortSignal): Promise<PickedModel> {
  const id = cacheIdOf(choice);
  const { entry, variant } = choice;
  let cached = await openCachedModel(id).catch(() => null);
  if (!cached) {
    const files = entry.format === 'onnx' ? { files: onnxFiles(choice, await listHubRepo(entry.repo, HUB_URL, REVISION, signal)) } : storyFiles(choice);
    await downloadModel({ repo: entry.repo, revision: REVISION, ...files, id }, { hubUrl: HUB_URL, signal, onProgress });
    cached = await openCachedModel(id);
  }
  return {
    choice: { key: choice.key, label: choice.label, source: { kind: 'blobs', id, files: cached.files, onnxFile: entry.format === 'onnx' ? variant.file : undefined } },
    defaults: choice.defaults,
    cache: choice.cache,
    cacheId: id,
  };
}

function onnxFiles(choice: HubChoice, listing: HubListing): string[] {
  const present = new Set(listing.files.map((f) => f.path));
  const missing = REQUIRED_FILES.filter((f) => !present.has(f));
  if (missing.length > 0) {
    throw new EngineError('MODEL_UNSUPPORTED', `${choice.entry.repo} has no ${missing.join(' or ')} beside its ONNX graph, so its tokenizer or shapes cannot be read. Pick a complete ONNX export (onnx-community has many).`);
  }
  return [choice.variant.file, ...REQUIRED_FILES, ...OPTIONAL_FILES.filter((f) => present.has(f))];
}

/** The llama2.c tokenizer beside the checkpoint in its hub repository, or hosted elsewhere (GitHub for stories15M and larger). */
function storyFiles({ entry, variant }: HubChoice): Pick<HubModelSpec, 'files' | 'hosted'> {
  const tokenizer = entry.tokenizer;
  if (!tokenizer) throw new EngineError('MODEL_NOT_FOUND', `The catalog names no tokenizer for ${entry.label}; open it from local files instead.`);
  if (tokenizer.host === 'huggingface' && tokenizer.repo === entry.repo) return { files: [variant.file, tokenizer.path] };
  return { files: [variant.file], hosted: [{ path: tokenizer.path.slice(tokenizer.path.lastIndexOf('/') + 1), url: hostedFileUrl(tokenizer) }] };
}

/**
 * After a failed load: a model the engine refused (a graph it cannot split, bytes it cannot read)
 * is removed from the cache, so it never loads again as a model; the ops splitGraph found are
 * put into the sentence the user reads.
 */
export async function afterFailedLoad(model: PickedModel, error: EngineError): Promise<EngineError> {
  if (!model.cacheId || (error.code !== 'MODEL_UNSUPPORTED' && error.code !== 'MODEL_CORRUPT')) return error;
  await deleteCachedModel(model.cacheId).catch(() => undefined);
  const ops = /^ops found: (.+)$/.exec(error.detail ?? '')?.[1];
  const message = `${error.message}${ops ? ` Its graph uses ${ops}.` : ''} The download was deleted.`;
  return new EngineError(error.code, message, error.detail);
}

/** Cached models and partial downloads, named after the catalog where it knows them. */
export async function cachedModels(): Promise<CachedModelRow[]> {
  const summaries = await listCachedModels();
  const known = new Map(CATALOG_ENTRIES.flatMap((entry) => entry.variants.map((variant) => [cacheIdOf({ entry, variant }), `${entry.label} (${variant.dtype})`] as const)));
  return summaries.map((s) => {
    const local = s.id.startsWith(LOCAL_PREFIX);
    const label = local ? `${localLabel(s.id)} (from this computer)` : (known.get(s.id) ?? s.id.replace(`@${REVISION}:`, ' · '));
    return { id: s.id, label, bytes: s.storedBytes, complete: s.complete, local };
  });
}

/** The sentence after a cancelled download: what stays in the cache (never offered as a model) for the next attempt to resume. */
export async function cancelledDownload(choice: HubChoice): Promise<string> {
  const id = cacheIdOf(choice);
  const kept = (await listCachedModels().catch(() => [])).find((s) => s.id === id)?.storedBytes ?? 0;
  return kept > 0 ? `Download cancelled; ${formatBytes(kept)} kept, it will resume where it stopped.` : 'Download cancelled; nothing was kept.';
}

export const deleteDownload = (id: string): Promise<void> => deleteCachedModel(id);

/**
 * Files picked on this computer: an ONNX export's folder (config.json or genai_config.json,
 * tokenizer files and one or more graphs, of which the one this GPU runs best is taken, as from the
 * hub), or a llama2.c checkpoint and its tok*.bin tokenizer picked together.
 */
export async function localModel(files: File[], caps: DeviceCaps): Promise<PickedModel> {
  if (files.some((f) => f.name.endsWith('.onnx'))) {
    // A folder pick names each file under the folder ("tiny-qwen2/onnx/model_q4.onnx").
    const folder = files.find((f) => f.webkitRelativePath)?.webkitRelativePath.split('/')[0] ?? files.find((f) => f.name.endsWith('.onnx'))!.name.replace(/\.onnx$/, '');
    const named = Object.fromEntries(files.map((f) => [f.webkitRelativePath ? f.webkitRelativePath.slice(folder.length + 1) : f.name, f]));
    const fitted = await fitOnnxFolder(folder, named, caps);
    const graphBytes = Object.entries(fitted.files).filter(([path]) => path === fitted.onnxFile || isOnnxExternalData(fitted.onnxFile, path)).reduce((n, [, f]) => n + f.size, 0);
    return localPicked(`${LOCAL_PREFIX}${folder}/${fitted.onnxFile}:${graphBytes}`, fitted.files, undefined, fitted);
  }
  const bins = files.filter((f) => f.name.endsWith('.bin'));
  const tokenizers = bins.filter((f) => /^tok.*\.bin$/.test(f.name));
  const checkpoints = bins.filter((f) => !tokenizers.includes(f));
  if (tokenizers.length !== 1 || checkpoints.length !== 1) {
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      'Pick the folder of an ONNX export (with config.json, tokenizer.json and its .onnx files), or two files together: a llama2.c checkpoint (such as stories260K.bin) and its tokenizer, whose name starts with "tok" (such as tok512.bin).',
      `picked: ${files.map((f) => f.name).join(', ')}`,
    );
  }
  const [checkpoint] = checkpoints;
  const [tokenizer] = tokenizers;
  const id = `${LOCAL_PREFIX}${checkpoint.name}:${checkpoint.size}`;
  return localPicked(id, { [checkpoint.name]: checkpoint, [tokenizer.name]: tokenizer });
}

interface FittedFolder {
  /** The chosen graph, its external data and the JSON and template files beside it. */
  files: Record<string, Blob>;
  onnxFile: string;
  defaults: ChatSettings;
  cache: CacheShape;
}

/** An ONNX folder sized and fitted to this GPU by the same rules as a hub repository. */
async function fitOnnxFolder(folder: string, files: Record<string, Blob>, caps: DeviceCaps): Promise<FittedFolder> {
  const paths = Object.keys(files);
  const json = async (name: string): Promise<unknown> => {
    const path = paths.includes(name) ? name : undefined;
    if (!path) return undefined;
    try {
      return JSON.parse(await files[path].text()) as unknown;
    } catch (error) {
      throw new EngineError('MODEL_CORRUPT', `${path} in ${folder} is not valid JSON. Export or download the model again.`, String(error));
    }
  };
  const hfConfig = await json('config.json');
  const genai = hfConfig ? undefined : await json('genai_config.json');
  if (!hfConfig && !genai) {
    throw new EngineError('MODEL_UNSUPPORTED', `${folder} has no config.json (nor onnxruntime-genai's genai_config.json) beside its ONNX graph, so its shapes cannot be read. Pick the whole folder of the export.`);
  }
  const config = (hfConfig ?? hfConfigFromGenai(genai as Parameters<typeof hfConfigFromGenai>[0])) as ShapeConfig;
  const fitted = fitModel(entryFromHub(folder, paths.map((path) => ({ path, size: files[path].size })), config), caps);
  const onnxFile = fitted.variant.file;
  const keep = paths.filter((p) => p === onnxFile || isOnnxExternalData(onnxFile, p) || !/\.onnx((_data|\.data)(_\d+)?)?$/.test(p));
  return { files: Object.fromEntries(keep.map((p) => [p, files[p]])), onnxFile, defaults: fitted.defaults, cache: fitted.cache };
}

const LOCAL_PREFIX = 'local:';
/** "local:stories260K.bin:1056540" -> "stories260K"; "local:tiny-qwen2/onnx/model_q4.onnx:1610187" -> "tiny-qwen2" */
const localLabel = (id: string) => id.slice(LOCAL_PREFIX.length, id.lastIndexOf(':')).replace(/\.bin$/, '').replace(/\/.*$/, '');

function localPicked(id: string, files: Record<string, Blob>, cacheId?: string, onnx?: Omit<FittedFolder, 'files'>): PickedModel {
  return {
    choice: { key: id, label: localLabel(id), source: { kind: 'blobs', id, files, onnxFile: onnx?.onnxFile } },
    defaults: onnx?.defaults ?? STORY_MODEL_SETTINGS,
    cache: onnx?.cache ?? STORY_MODEL_CACHE,
    cacheId,
  };
}

/**
 * Copies picked files into the model cache, so the model comes back after a reload, in another tab
 * or after a take-over without a file dialog. Where the browser cannot keep them (no OPFS, no room)
 * the model still loads from the picked files, and the reason comes back to be shown.
 */
export async function keepLocal(model: PickedModel): Promise<{ model: PickedModel; notKept: EngineError | null }> {
  const { source } = model.choice;
  if (source.kind !== 'blobs' || !source.id.startsWith(LOCAL_PREFIX)) return { model, notKept: null };
  try {
    await keepLocalModel(source.id, source.files);
    const { files } = await openCachedModel(source.id);
    return { model: { ...model, choice: { ...model.choice, source: { ...source, files } }, cacheId: source.id }, notKept: null };
  } catch (e) {
    return { model, notKept: e instanceof EngineError ? e : new EngineError('STORAGE_UNAVAILABLE', 'The picked files could not be kept in this browser.', String(e)) };
  }
}

/** A local model kept in the cache, opened to load (an ONNX folder holds only the graph it was fitted to). */
export async function keptLocalModel(id: string, caps: DeviceCaps): Promise<PickedModel> {
  const { files } = await openCachedModel(id);
  if (!Object.keys(files).some((p) => p.endsWith('.onnx'))) return localPicked(id, files, id);
  const fitted = await fitOnnxFolder(localLabel(id), files, caps);
  return localPicked(id, fitted.files, id, fitted);
}
