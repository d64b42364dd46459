// The settings dialog: sampling, reply length and the cache's sinks, window and precision, refused
// with a sentence beside each invalid field. A new window, sink count or precision reloads the model.

import './settings.css';
import { useId, useLayoutEffect, useRef, useState, type ReactNode } from 'react';
import { formatBytes, formatCount } from '../../protocol/format.ts';
import { bytesPerTokenOf, effectiveWindow, validateSettings, type CacheShape, type ChatSettings, type SettingsErrors } from './settings.ts';

type NumberField = Exclude<keyof ChatSettings, 'windowMode' | 'cacheDtype'>;
type Draft = Record<NumberField, string> & Pick<ChatSettings, 'windowMode' | 'cacheDtype'>;

/** The model whose settings are edited: the loaded one, or the one to load. */
export interface SettingsTarget {
  key: string;
  label: string;
  defaults: ChatSettings;
  cache: CacheShape;
}

interface Props {
  open: boolean;
  model: SettingsTarget;
  /** The model is loaded; otherwise these are the settings it will start with. */
  loaded: boolean;
  settings: ChatSettings;
  /** The model's K and V elements per token, once it has been loaded. */
  elementsPerToken: number | undefined;
  /** Why applying is impossible right now (a reply is being written), if it is. */
  blocked: string | null;
  onApply(settings: ChatSettings): void;
  onChangeModel(): void;
  onClose(): void;
}

const toDraft = (s: ChatSettings): Draft => ({
  windowMode: s.windowMode,
  cacheDtype: s.cacheDtype,
  nSinks: String(s.nSinks),
  windowSize: String(s.windowSize),
  memoryBudgetMiB: String(s.memoryBudgetMiB),
  temperature: String(s.temperature),
  topP: String(s.topP),
  topK: String(s.topK),
  repetitionPenalty: String(s.repetitionPenalty),
  maxTokens: String(s.maxTokens),
});

/** Empty or non-numeric text becomes NaN, which validation refuses. */
const num = (text: string) => (text.trim() === '' ? NaN : Number(text));

const fromDraft = (d: Draft): ChatSettings => ({
  windowMode: d.windowMode,
  cacheDtype: d.cacheDtype,
  nSinks: num(d.nSinks),
  windowSize: num(d.windowSize),
  memoryBudgetMiB: num(d.memoryBudgetMiB),
  temperature: num(d.temperature),
  topP: num(d.topP),
  topK: num(d.topK),
  repetitionPenalty: num(d.repetitionPenalty),
  maxTokens: num(d.maxTokens),
});

interface FieldProps {
  name: NumberField;
  label: string;
  hint?: ReactNode;
  step?: string;
  draft: Draft;
  errors: SettingsErrors;
  disabled?: boolean;
  onChange(name: NumberField, value: string): void;
}

function Field({ name, label, hint, step = '1', draft, errors, disabled, onChange }: FieldProps) {
  const id = useId();
  const error = errors[name];
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={name}
        type="number"
        step={step}
        inputMode="decimal"
        value={draft[name]}
        disabled={disabled}
        aria-invalid={error ? true : undefined}
        aria-describedby={`${id}-note`}
        onChange={(e) => onChange(name, e.target.value)}
      />
      <p id={`${id}-note`} className={error ? 'field-error' : 'field-hint'} role={error ? 'alert' : undefined}>
        {error ?? hint}
      </p>
    </div>
  );
}

export function SettingsDialog({ open, model, loaded, settings, elementsPerToken, blocked, onApply, onChangeModel, onClose }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [draft, setDraft] = useState(() => toDraft(settings));
  const [errors, setErrors] = useState<SettingsErrors>({});
  // A layout effect: the draft is reset before the dialog can be seen or typed in. From a passive
  // effect, showModal() ran at once and the reset one task later, so for that moment the dialog
  // showed the last draft (another model's), and a value typed then was overwritten.
  useLayoutEffect(() => {
    const el = dialog.current;
    if (!el) return;
    if (open && !el.open) {
      setDraft(toDraft(settings));
      setErrors({});
      el.showModal();
    } else if (!open && el.open) el.close();
  }, [open, settings]);

  const change = (name: NumberField, value: string) => setDraft((d) => ({ ...d, [name]: value }));
  const parsed = fromDraft(draft);
  const bytesPerToken = bytesPerTokenOf(parsed, elementsPerToken);
  const autoWindow = bytesPerToken ? effectiveWindow({ ...parsed, windowMode: 'budget' }, model.cache, elementsPerToken) : undefined;
  const apply = () => {
    const found = validateSettings(parsed);
    setErrors(found);
    if (Object.keys(found).length > 0 || blocked) return;
    onApply(parsed);
    onClose();
  };
  const fieldProps = { draft, errors, onChange: change };
  return (
    <dialog ref={dialog} className="settings-dialog" aria-labelledby="settings-title" onClose={onClose}>
      <form
        method="dialog"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          apply();
        }}
      >
        <h2 id="settings-title">Settings</h2>
        <div className="field model-field">
          <span className="label">Model</span>
          <span>
            {loaded ? <strong>{model.label}</strong> : <span data-testid="settings-no-model">None loaded; these settings are for {model.label}, used last or built in.</span>}{' '}
            <button type="button" onClick={onChangeModel} disabled={blocked !== null}>
              Change model…
            </button>
          </span>
        </div>
        <fieldset>
          <legend>Memory (changing these reloads the model)</legend>
          <Field name="nSinks" label="Attention sinks" hint="The first tokens of the stream, kept forever." {...fieldProps} />
          <div className="field">
            <span className="label" id="window-mode">Window</span>
            <div role="radiogroup" aria-labelledby="window-mode" className="choices">
              <label>
                <input type="radio" name="windowMode" checked={draft.windowMode === 'tokens'} onChange={() => setDraft((d) => ({ ...d, windowMode: 'tokens' }))} /> in tokens
              </label>
              <label>
                <input type="radio" name="windowMode" checked={draft.windowMode === 'budget'} onChange={() => setDraft((d) => ({ ...d, windowMode: 'budget' }))} /> from a memory budget
              </label>
            </div>
          </div>
          {draft.windowMode === 'tokens' ? (
            <Field
              name="windowSize"
              label="Window (tokens)"
              hint={bytesPerToken ? `The most recent tokens the model sees: ${formatBytes(num(draft.windowSize) * bytesPerToken || 0)} of cache.` : 'The most recent tokens the model sees.'}
              {...fieldProps}
            />
          ) : (
            <Field
              name="memoryBudgetMiB"
              label="Memory budget (MiB)"
              step="any"
              hint={autoWindow ? `A window of ${formatCount(autoWindow)} tokens fits.` : 'The window is sized once the model has loaded.'}
              {...fieldProps}
            />
          )}
          <div className="field">
            <span className="label" id="cache-dtype">Memory precision</span>
            <div role="radiogroup" aria-labelledby="cache-dtype" aria-describedby="cache-dtype-note" aria-invalid={errors.cacheDtype ? true : undefined} className="choices">
              <label>
                <input type="radio" name="cacheDtype" checked={draft.cacheDtype === 'f16'} onChange={() => setDraft((d) => ({ ...d, cacheDtype: 'f16' }))} /> 16-bit (remembers twice as much)
              </label>
              <label>
                <input type="radio" name="cacheDtype" checked={draft.cacheDtype === 'f32'} onChange={() => setDraft((d) => ({ ...d, cacheDtype: 'f32' }))} /> 32-bit (exact)
              </label>
            </div>
            <p id="cache-dtype-note" className={errors.cacheDtype ? 'field-error' : 'field-hint'} role={errors.cacheDtype ? 'alert' : undefined}>
              {errors.cacheDtype ?? 'How finely each remembered token is stored; 16-bit changes replies very little.'}
            </p>
          </div>
        </fieldset>
        <fieldset>
          <legend>Replies</legend>
          <Field name="temperature" label="Temperature" step="any" hint="0 always picks the most likely token." {...fieldProps} />
          <Field name="topP" label="Top-p" step="any" hint="Above 0, at most 1 (1 turns it off)." {...fieldProps} />
          <Field name="topK" label="Top-k" hint="0 turns it off." {...fieldProps} />
          <Field name="repetitionPenalty" label="Repetition penalty" step="any" hint="1 turns it off." {...fieldProps} />
          <Field name="maxTokens" label="Max tokens per reply" {...fieldProps} />
        </fieldset>
        {blocked && <p className="field-error">{blocked}</p>}
        <div className="dialog-actions">
          <button type="submit" className="primary">
            Apply
          </button>
          <button type="button" onClick={() => setDraft(toDraft(model.defaults))}>
            Model defaults
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}
