// Choosing a model: the catalog (downloaded from the Hugging Face hub once, then kept in this
// browser) or files from this computer (a llama2.c checkpoint with its tokenizer).

import './models.css';
import { useEffect, useRef, useState } from 'react';
import { Icon } from '../../app/icons.tsx';
import { toEngineError } from '../../app/engineSession.ts';
import type { EngineError } from '../../protocol/errors.ts';
import { CATALOG, type CatalogModel } from './catalog.ts';
import { deleteDownload, downloadedModels, localModel, type PickedModel } from './modelSource.ts';

interface Props {
  onPick(model: PickedModel): void;
  onPickHub(model: CatalogModel): void;
  /** Why the last load failed. */
  error?: EngineError;
  /** The model this tab loaded last (picked files stay readable until the page closes). */
  again?: PickedModel | null;
  onCancel?(): void;
}

export function ModelPicker({ onPick, onPickHub, error, again, onCancel }: Props) {
  const files = useRef<HTMLInputElement>(null);
  const [pickError, setPickError] = useState<EngineError | null>(null);
  const [downloaded, setDownloaded] = useState<Set<string>>(new Set());
  const refresh = () => void downloadedModels().then(setDownloaded);
  useEffect(refresh, []);
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
  const remove = (model: CatalogModel) =>
    deleteDownload(model).then(refresh, (e: unknown) => setPickError(toEngineError(e)));
  const shown = pickError ?? error;
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
      <ul className="model-options">
        {again && (
          <li>
            <div>
              <strong>{again.choice.label}</strong> <span className="muted">· loaded last in this tab</span>
            </div>
            <button type="button" className="primary" onClick={() => onPick(again)}>
              Load {again.choice.label} again
            </button>
          </li>
        )}
        {CATALOG.map((model) => {
          const isDownloaded = downloaded.has(model.key);
          return (
            <li key={model.key}>
              <div>
                <strong>{model.label}</strong>{' '}
                <span className="muted">· {isDownloaded ? 'downloaded, works offline' : `${model.size} from the Hugging Face hub`}</span>
                <p>{model.description}</p>
                {!isDownloaded && !navigator.onLine && <p className="small warn-text">You are offline: the first download needs a connection. Open local files instead.</p>}
              </div>
              <div className="model-actions">
                <button type="button" className="primary" onClick={() => onPickHub(model)}>
                  Load {model.label}
                </button>
                {isDownloaded && (
                  <button type="button" className="icon-button" onClick={() => void remove(model)} aria-label={`Delete the download of ${model.label}`} title="Delete the download">
                    <Icon name="trash" />
                  </button>
                )}
              </div>
            </li>
          );
        })}
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
      {onCancel && (
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      )}
    </section>
  );
}
