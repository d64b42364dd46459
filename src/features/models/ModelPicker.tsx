// Choosing a model: the catalog and any hub repository typed in, each checked against this GPU
// before anything is downloaded (the weights it can run, the window its memory budget allows);
// the models already downloaded, with their sizes and their total; or files from this computer.
// Offline, what needs the hub is disabled, and one sentence says why.

import './models.css';
import { useEffect, useRef, useState, type ChangeEvent, type FormEvent } from 'react';
import { Icon } from '../../ui/icons.tsx';
import { useDeviceCaps } from '../../client/gpuCheck.ts';
import type { CatalogEntry, DeviceCaps } from '../../models/catalog.ts';
import { toEngineError, type EngineError } from '../../protocol/errors.ts';
import type { ModelChoice } from '../../protocol/messages.ts';
import { formatBytes, formatCount } from '../../protocol/format.ts';
import { loadSettings } from '../settings/settingsStore.ts';
import { CATALOG_ENTRIES, fitModel, recommendedChoice, variantLine, windowLine, windowOf, type HubChoice } from './hubModels.ts';
import { BUILT_IN_BYTES, BUILT_IN_LABEL } from './builtInModel.ts';
import { forgetModel } from './lastModel.ts';
import { storageEstimate, storageLine, type StorageEstimate } from './storageUse.ts';
import { cacheIdOf, cachedModels, checkHubRepo, deleteDownload, keptLocalModel, localModel, type CachedModelRow, type PickedModel } from './modelSource.ts';

interface Props {
  onPick(model: PickedModel): void;
  /** The model built into the app. */
  onPickBuiltIn(): void;
  onPickHub(model: HubChoice): void;
  /** Why the last load failed. */
  error?: EngineError;
  /** What the last load did that is not a failure (a download cancelled). */
  notice?: string;
  /** The model this tab loaded last (picked files stay readable until the page closes). */
  again?: PickedModel | null;
  /** The model loaded now, marked in the list and offered to unload. */
  loaded: ModelChoice | null;
  onUnload(): void;
  onCancel?(): void;
}

/** Whether the browser says it is online, following it as it changes. */
function useOnline(): boolean {
  const [online, setOnline] = useState(navigator.onLine);
  useEffect(() => {
    const update = () => setOnline(navigator.onLine);
    addEventListener('online', update);
    addEventListener('offline', update);
    return () => {
      removeEventListener('online', update);
      removeEventListener('offline', update);
    };
  }, []);
  return online;
}

type Fit = { choice: HubChoice; error: null } | { choice: null; error: EngineError };

function fit(entry: CatalogEntry, caps: DeviceCaps): Fit {
  try {
    return { choice: fitModel(entry, caps), error: null };
  } catch (e) {
    return { choice: null, error: toEngineError(e, 'the model picker') };
  }
}

/** What the user gets, in plain words; the engineering behind it (weights, cache bytes) under Details. */
function CapabilityLine({ fitted, caps, testId, downloaded }: { fitted: Fit; caps: DeviceCaps; testId: string; downloaded?: boolean }) {
  if (fitted.error) return <p className="small warn-text" data-testid={testId}>{fitted.error.message}</p>;
  const { choice } = fitted;
  const sized = windowOf(choice, loadSettings(choice.key, choice.defaults));
  return (
    <>
      <p className="small">
        {downloaded ? 'Downloaded: loads at once, works offline' : `${formatBytes(choice.variant.downloadBytes)} to download once`} · remembers the last {formatCount(sized.window)} tokens of the conversation
      </p>
      <details className="model-details">
        <summary>Details</summary>
        <p className="small" data-testid={testId}>
          {variantLine(choice, caps)} · {windowLine(sized)}
        </p>
        <p className="small muted">From {choice.entry.repo} on the Hugging Face hub.</p>
      </details>
    </>
  );
}

export function ModelPicker({ onPick, onPickBuiltIn, onPickHub, error, notice, again, loaded, onUnload, onCancel }: Props) {
  const files = useRef<HTMLInputElement>(null);
  const folder = useRef<HTMLInputElement>(null);
  const caps = useDeviceCaps();
  const online = useOnline();
  const [pickError, setPickError] = useState<EngineError | null>(null);
  const [cached, setCached] = useState<CachedModelRow[]>([]);
  const [repo, setRepo] = useState('');
  const [typed, setTyped] = useState<{ state: 'checking' } | { state: 'done'; fitted: Fit } | null>(null);
  const [estimate, setEstimate] = useState<StorageEstimate | null>(null);
  const refresh = () => {
    void cachedModels().then(setCached, () => setCached([]));
    void storageEstimate().then(setEstimate);
  };
  useEffect(refresh, []);
  const downloaded = new Set(cached.filter((c) => c.complete).map((c) => c.id));

  const openFiles = (list: FileList | null) => {
    if (!list || list.length === 0 || !caps) return;
    localModel(Array.from(list), caps).then(
      (picked) => {
        setPickError(null);
        onPick(picked);
      },
      (e: unknown) => setPickError(toEngineError(e, 'the model picker')),
    );
  };
  const onFilesPicked = (e: ChangeEvent<HTMLInputElement>) => {
    openFiles(e.target.files);
    e.target.value = ''; // the same files picked again load again
  };
  const remove = (id: string) =>
    deleteDownload(id).then(() => {
      forgetModel(id); // a deleted model is not loaded by itself after the next reload
      refresh();
    }, (e: unknown) => setPickError(toEngineError(e, 'the model picker')));
  const check = (event: FormEvent) => {
    event.preventDefault();
    if (!caps || !online || repo.trim() === '') return;
    setTyped({ state: 'checking' });
    checkHubRepo(repo, caps).then(
      (choice) => setTyped({ state: 'done', fitted: { choice, error: null } }),
      (e: unknown) => setTyped({ state: 'done', fitted: { choice: null, error: toEngineError(e, 'the model picker') } }),
    );
  };
  const shown = pickError ?? error;
  const recommended = caps ? recommendedChoice(caps) : null;
  // The recommended model first; the rest in the catalog's order.
  const entries = recommended ? [recommended.entry, ...CATALOG_ENTRIES.filter((e) => e !== recommended.entry)] : CATALOG_ENTRIES;
  const typedFit = typed?.state === 'done' ? typed.fitted : null;
  const used = storageLine(cached.map((row) => row.bytes), estimate);

  return (
    <section className="model-picker" aria-labelledby="picker-title">
      <div className="picker-head">
        <h2 id="picker-title">Choose a model</h2>
        {onCancel && (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
      <p className="muted">It runs on your GPU, in this tab. Nothing you write leaves this computer.</p>
      {shown && (
        <div className="error-text" role="alert">
          <p>{shown.message}</p>
          {shown.detail && (
            <details>
              <summary className="small">Details</summary>
              <p className="small">{shown.detail}</p>
            </details>
          )}
        </div>
      )}
      {loaded && (
        <div className="loaded-model" data-testid="loaded-model">
          <p>
            <strong>{loaded.label}</strong> <span className="badge">Loaded now</span>
          </p>
          <button type="button" onClick={onUnload}>
            Unload
          </button>
          <p className="small muted">Unloading frees the GPU memory; your conversations stay.</p>
        </div>
      )}
      {notice && !shown && (
        <p role="status" data-testid="picker-notice">
          {notice}
        </p>
      )}
      <div className="built-in">
        <p>
          <strong>Try it now: a 1 MiB story model</strong> <span className="muted">· built in, works offline</span>
        </p>
        <p>
          {BUILT_IN_LABEL} ({formatBytes(BUILT_IN_BYTES)}) writes children's stories: begin one, such as "Once upon a time, a little cat", and it
          carries on. It does not answer questions or follow instructions.
        </p>
        <button type="button" className="primary" onClick={onPickBuiltIn}>
          Try it now
        </button>
        {caps && recommended && (
          <p className="small" data-testid="recommended-line">
            For real chat, download <strong>{recommended.label}</strong> below ({formatBytes(recommended.variant.downloadBytes)}, once): the chat model recommended for
            this GPU.
          </p>
        )}
      </div>
      {!online && (
        <p className="warn-text" role="status" data-testid="offline-note">
          You are offline: models not downloaded yet cannot be loaded until the connection is back. Downloaded models and files on this computer still load.
        </p>
      )}
      <ul className="model-options">
        {again && (!again.cacheId || downloaded.has(again.cacheId)) && (
          <li>
            <div>
              <strong>{again.choice.label}</strong> <span className="muted">· loaded last in this tab</span>
            </div>
            <button type="button" className="primary" onClick={() => onPick(again)}>
              Load {again.choice.label} again
            </button>
          </li>
        )}
        {caps &&
          entries.map((entry) => {
            const fitted = fit(entry, caps);
            const isDownloaded = !!fitted.choice && downloaded.has(cacheIdOf(fitted.choice));
            const isLoaded = !!fitted.choice && loaded?.key === fitted.choice.key;
            const unreachable = !isDownloaded && !online;
            return (
              <li key={entry.id} data-loaded={isLoaded ? 'true' : undefined}>
                <div>
                  <strong>{entry.label}</strong>
                  {isLoaded && <span className="badge">Loaded now</span>}
                  {entry === recommended?.entry && (
                    <span className="badge" data-testid="recommended-badge">
                      Recommended for this GPU
                    </span>
                  )}
                  {!entry.hasChatTemplate && <span className="muted"> · story model</span>}
                  <p>{entry.description}</p>
                  <CapabilityLine fitted={fitted} caps={caps} testId={`capability-${entry.id}`} downloaded={isDownloaded} />
                </div>
                <button type="button" className="primary" disabled={!fitted.choice || isLoaded || unreachable} onClick={() => fitted.choice && onPickHub(fitted.choice)}>
                  {isLoaded ? 'In use' : `Load ${entry.label}`}
                </button>
              </li>
            );
          })}
        <li className="hub-repo">
          <form onSubmit={check}>
            <label htmlFor="hub-repo-id">
              <strong>Another model from the hub</strong>
            </label>
            <p>Type the name of a Hugging Face repository that holds an ONNX export of a chat model, such as onnx-community/SmolLM2-135M-Instruct-ONNX-GQA. It is checked before anything is downloaded.</p>
            <details className="model-details">
              <summary>Details</summary>
              <p className="small">The app reads config.json and the onnx/ folder, and runs exports with GroupQueryAttention or with plain MatMul/Softmax attention; other graphs are refused after download with the operators they use.</p>
            </details>
            <div className="model-actions">
              <input id="hub-repo-id" type="text" placeholder="owner/name" value={repo} spellCheck={false} onChange={(e) => { setRepo(e.target.value); setTyped(null); }} />
              <button type="submit" disabled={!caps || !online || typed?.state === 'checking'}>
                Check
              </button>
            </div>
            {typed?.state === 'checking' && <p className="small muted">Reading the repository's file list and config.json…</p>}
            {typedFit && caps && <CapabilityLine fitted={typedFit} caps={caps} testId="capability-typed" />}
            {typedFit?.choice && (
              <button type="button" className="primary" disabled={!online} onClick={() => onPickHub(typedFit.choice)}>
                Download and load {typedFit.choice.label}
              </button>
            )}
          </form>
        </li>
        <li>
          <div>
            <strong>A model on this computer</strong>
            <p>The folder of an ONNX export (config.json, tokenizer.json and its .onnx files, as on the hub), or a llama2.c checkpoint and its tokenizer picked together (for example stories260K.bin and tok512.bin). They are kept in this browser, so you pick them once.</p>
          </div>
          <div className="model-actions">
            <button type="button" onClick={() => folder.current?.click()}>
              <Icon name="upload" /> Open a model folder…
            </button>
            <button type="button" onClick={() => files.current?.click()}>
              <Icon name="upload" /> Open local files…
            </button>
          </div>
          <input
            ref={folder}
            type="file"
            {...{ webkitdirectory: '' }}
            className="visually-hidden"
            tabIndex={-1}
            aria-label="Model folder"
            onChange={onFilesPicked}
          />
          <input
            ref={files}
            type="file"
            multiple
            accept=".bin,.onnx,.onnx_data,.data,.json,.jinja"
            className="visually-hidden"
            tabIndex={-1}
            aria-label="Model files"
            onChange={onFilesPicked}
          />
        </li>
      </ul>
      <section aria-labelledby="cached-title" className="cached-models">
        <h3 id="cached-title">Kept in this browser</h3>
        {used && (
          <p className="small" data-testid="storage-total">
            {used}
          </p>
        )}
        {cached.length === 0 ? (
          <p className="small muted">None yet: models you download or open from this computer are kept here until you delete them.</p>
        ) : (
          <ul className="model-options">
            {cached.map((row) => (
              <li key={row.id} data-testid="cached-model">
                <div>
                  <strong>{row.label}</strong> <span className="muted">· {formatBytes(row.bytes)}{row.complete ? '' : ', download not finished'}</span>
                </div>
                {row.local && row.complete && (
                  <button type="button" className="primary" disabled={!caps} onClick={() => caps && keptLocalModel(row.id, caps).then(onPick, (e: unknown) => setPickError(toEngineError(e, 'the model picker')))}>
                    Load {row.label.replace(/ \(from this computer\)$/, '')}
                  </button>
                )}
                <button type="button" className="icon-button" onClick={() => void remove(row.id)} aria-label={`Delete ${row.label}`} title="Delete from this browser">
                  <Icon name="trash" />
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
    </section>
  );
}
