// Choosing a model: the catalog (downloaded from the Hugging Face hub) or files from this
// computer (a llama2.c checkpoint with its tokenizer).

import './models.css';
import { useRef, useState } from 'react';
import { Icon } from '../../app/icons.tsx';
import { toEngineError } from '../../app/engineSession.ts';
import { CATALOG } from './catalog.ts';
import { hubModel, localModel, type PickedModel } from './modelSource.ts';

interface Props {
  onPick(model: PickedModel): void;
  /** The sentence of the last load that failed. */
  error?: string;
  onCancel?(): void;
}

export function ModelPicker({ onPick, error, onCancel }: Props) {
  const files = useRef<HTMLInputElement>(null);
  const [pickError, setPickError] = useState<string | null>(null);
  const openFiles = (list: FileList | null) => {
    if (!list || list.length === 0) return;
    try {
      const picked = localModel(Array.from(list));
      setPickError(null);
      onPick(picked);
    } catch (e) {
      setPickError(toEngineError(e).message);
    }
  };
  const shown = pickError ?? error;
  return (
    <section className="model-picker card" aria-labelledby="picker-title">
      <h2 id="picker-title">Choose a model</h2>
      <p className="muted">It runs on your GPU, in this tab. Nothing you write leaves this computer.</p>
      {shown && (
        <p className="error-text" role="alert">
          {shown}
        </p>
      )}
      <ul className="model-options">
        {CATALOG.map((model) => (
          <li key={model.key}>
            <div>
              <strong>{model.label}</strong> <span className="muted">· {model.size} from the Hugging Face hub</span>
              <p>{model.description}</p>
            </div>
            <button type="button" className="primary" onClick={() => onPick(hubModel(model))}>
              Load {model.label}
            </button>
          </li>
        ))}
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
