// Choosing a model: the catalog and any hub repository typed in, each checked against this GPU
// before anything is downloaded (the weights it can run, the window its memory budget allows);
// the models already downloaded, with their sizes; or files from this computer.

import './models.css';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Icon } from '../../app/icons.tsx';
import { checkWebGpu } from '../../app/gpuCheck.ts';
import { toEngineError } from '../../app/engineSession.ts';
import type { CatalogEntry, DeviceCaps } from '../../engine/model/catalog.ts';
import type { EngineError } from '../../protocol/errors.ts';
import { formatBytes } from '../memory/windowMath.ts';
import { loadSettings } from '../settings/settingsStore.ts';
import { CATALOG_ENTRIES, fitModel, variantLine, windowLine, windowOf, type HubChoice } from './hubModels.ts';
import { cacheIdOf, cachedModels, checkHubRepo, deleteDownload, localModel, type CachedModelRow, type PickedModel } from './modelSource.ts';

interface Props {
  onPick(model: PickedModel): void;
  onPickHub(model: HubChoice): void;
  /** Why the last load failed. */
  error?: EngineError;
  /** What the last load did that is not a failure (a download cancelled). */
  notice?: string;
  /** The model this tab loaded last (picked files stay readable until the page closes). */
  again?: PickedModel | null;
  onCancel?(): void;
}

type Fit = { choice: HubChoice; error: null } | { choice: null; error: EngineError };

function fit(entry: CatalogEntry, caps: DeviceCaps): Fit {
  try {
    return { choice: fitModel(entry, caps), error: null };
  } catch (e) {
    return { choice: null, error: toEngineError(e) };
  }
}

function useDeviceCaps(): DeviceCaps | null {
  const [caps, setCaps] = useState<DeviceCaps | null>(null);
  useEffect(() => {
    let live = true;
    void checkWebGpu().then((check) => live && check.state === 'ok' && setCaps(check.caps));
    return () => {
      live = false;
    };
  }, []);
  return caps;
}

/** What this GPU runs of a model and the window it gets, or why it cannot: shown before any download. */
function CapabilityLine({ fitted, caps, testId }: { fitted: Fit; caps: DeviceCaps; testId: string }) {
  if (fitted.error) return <p className="small warn-text" data-testid={testId}>{fitted.error.message}</p>;
  const { choice } = fitted;
  return (
    <p className="small" data-testid={testId}>
      {variantLine(choice, caps)} · {windowLine(windowOf(choice, loadSettings(choice.key, choice.defaults)))}
    </p>
  );
}

export function ModelPicker({ onPick, onPickHub, error, notice, again, onCancel }: Props) {
  const files = useRef<HTMLInputElement>(null);
  const caps = useDeviceCaps();
  const [pickError, setPickError] = useState<EngineError | null>(null);
  const [cached, setCached] = useState<CachedModelRow[]>([]);
  const [repo, setRepo] = useState('');
  const [typed, setTyped] = useState<{ state: 'checking' } | { state: 'done'; fitted: Fit } | null>(null);
  const refresh = () => void cachedModels().then(setCached, () => setCached([]));
  useEffect(refresh, []);
  const downloaded = new Set(cached.filter((c) => c.complete).map((c) => c.id));

  const openFiles = (list: FileList | null) => {
    if (!list || list.length === 0) return;
    try {
      const picked = localModel(Array.from(list));
      setPickError(null);
      onPick(picked);
    } catch (e) {
      setPickError(toEngineError(e));
    }
  };
  const remove = (id: string) => deleteDownload(id).then(refresh, (e: unknown) => setPickError(toEngineError(e)));
  const check = (event: FormEvent) => {
    event.preventDefault();
    if (!caps || repo.trim() === '') return;
    setTyped({ state: 'checking' });
    checkHubRepo(repo, caps).then(
      (choice) => setTyped({ state: 'done', fitted: { choice, error: null } }),
      (e: unknown) => setTyped({ state: 'done', fitted: { choice: null, error: toEngineError(e) } }),
    );
  };
  const shown = pickError ?? error;
  const typedFit = typed?.state === 'done' ? typed.fitted : null;

  return (
    <section className="model-picker card" aria-labelledby="picker-title">
      <h2 id="picker-title">Choose a model</h2>
      <p className="muted">It runs on your GPU, in this tab. Nothing you write leaves this computer.</p>
      {shown && (
        <div className="error-text" role="alert">
          <p>{shown.message}</p>
          {shown.detail && <p className="small">{shown.detail}</p>}
        </div>
      )}
      {notice && !shown && (
        <p role="status" data-testid="picker-notice">
          {notice}
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
          CATALOG_ENTRIES.map((entry) => {
            const fitted = fit(entry, caps);
            const isDownloaded = !!fitted.choice && downloaded.has(cacheIdOf(fitted.choice));
            return (
              <li key={entry.id}>
                <div>
                  <strong>{entry.label}</strong>{' '}
                  <span className="muted">· {isDownloaded ? 'downloaded, works offline' : `${entry.repo} on the Hugging Face hub`}</span>
                  <p>{entry.description}</p>
                  <CapabilityLine fitted={fitted} caps={caps} testId={`capability-${entry.id}`} />
                  {!isDownloaded && !navigator.onLine && <p className="small warn-text">You are offline: the first download needs a connection. Open local files instead.</p>}
                </div>
                <button type="button" className="primary" disabled={!fitted.choice} onClick={() => fitted.choice && onPickHub(fitted.choice)}>
                  Load {entry.label}
                </button>
              </li>
            );
          })}
        <li className="hub-repo">
          <form onSubmit={check}>
            <label htmlFor="hub-repo-id">
              <strong>Another model from the hub</strong>
            </label>
            <p>An ONNX export with GroupQueryAttention or plain MatMul/Softmax attention, such as onnx-community/SmolLM2-135M-Instruct-ONNX-GQA.</p>
            <div className="model-actions">
              <input id="hub-repo-id" type="text" placeholder="owner/name" value={repo} spellCheck={false} onChange={(e) => { setRepo(e.target.value); setTyped(null); }} />
              <button type="submit" disabled={!caps || typed?.state === 'checking'}>
                Check
              </button>
            </div>
            {typed?.state === 'checking' && <p className="small muted">Reading the repository's file list and config.json…</p>}
            {typedFit && caps && <CapabilityLine fitted={typedFit} caps={caps} testId="capability-typed" />}
            {typedFit?.choice && (
              <button type="button" className="primary" onClick={() => onPickHub(typedFit.choice)}>
                Download and load {typedFit.choice.label}
              </button>
            )}
          </form>
        </li>
        <li>
          <div>
            <strong>A model on this computer</strong>
            <p>A llama2.c checkpoint and its tokenizer, picked together (for example stories260K.bin and tok512.bin).</p>
          </div>
          <button type="button" onClick={() => files.current?.click()}>
            <Icon name="upload" /> Open local files…
          </button>
          <input
            ref={files}
            type="file"
            multiple
            accept=".bin"
            className="visually-hidden"
            tabIndex={-1}
            aria-label="Model files"
            onChange={(e) => {
              openFiles(e.target.files);
              e.target.value = '';
            }}
          />
        </li>
      </ul>
      <section aria-labelledby="cached-title" className="cached-models">
        <h3 id="cached-title">Downloaded models</h3>
        {cached.length === 0 ? (
          <p className="small muted">None yet: models you download are kept in this browser until you delete them here.</p>
        ) : (
          <ul className="model-options">
            {cached.map((row) => (
              <li key={row.id} data-testid="cached-model">
                <div>
                  <strong>{row.label}</strong> <span className="muted">· {formatBytes(row.bytes)}{row.complete ? '' : ', download not finished'}</span>
                </div>
                <button type="button" className="icon-button" onClick={() => void remove(row.id)} aria-label={`Delete ${row.label}`} title="Delete from this browser">
                  <Icon name="trash" />
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
      {onCancel && (
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      )}
    </section>
  );
}
