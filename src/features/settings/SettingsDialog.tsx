// The settings dialog, in plain words: how much the model remembers and how precisely, the style and
// length of replies, and the system prompt new conversations start with; the engineering (sinks, a
// memory budget, the four sampling numbers) under Details. Each invalid field is refused with a
// sentence beside it, and so is a window the model or the GPU cannot hold, before anything is
// reloaded. A new window, sink count or precision reloads the model.

import './settings.css';
import { useLayoutEffect, useRef, useState, type ReactNode } from 'react';
import { formatBytes, formatCount } from '../../protocol/format.ts';
import { NumberField } from '../../ui/NumberField.tsx';
import {
  bytesPerTokenOf, effectiveWindow, largestWindow, limitErrors, REPLY_STYLES, styleOf, styleSampling, validateSettings, type CacheLimits, type CacheShape, type ChatSettings,
  type ReplyStyle, type SettingsErrors,
} from './settings.ts';

type NumberName = Exclude<keyof ChatSettings, 'windowMode' | 'cacheDtype'>;
type Draft = Record<NumberName, string> & Pick<ChatSettings, 'windowMode' | 'cacheDtype'>;

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
  /** What bounds the window of the loaded model; null when none is loaded. */
  limits: CacheLimits | null;
  /** The system prompt new conversations start with. */
  defaultSystemPrompt: string;
  onDefaultSystemPrompt(text: string): void;
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
  name: NumberName;
  label: string;
  hint?: ReactNode;
  step?: string;
  draft: Draft;
  errors: SettingsErrors;
  disabled?: boolean;
  onChange(name: NumberName, value: string): void;
}

function Field({ name, label, hint, step, draft, errors, disabled, onChange }: FieldProps) {
  return <NumberField name={name} label={label} hint={hint} step={step} value={draft[name]} error={errors[name]} disabled={disabled} onChange={(value) => onChange(name, value)} />;
}

const STYLE_LABELS: Record<ReplyStyle, string> = { precise: 'Precise', balanced: 'Balanced', creative: 'Creative' };
const STYLE_NOTES: Record<ReplyStyle, string> = {
  precise: 'Picks the likeliest words: steady, factual, sometimes repetitive.',
  balanced: "The model's own defaults.",
  creative: 'Ranges wider: more surprising, more often off the point.',
};

export function SettingsDialog({ open, model, loaded, settings, elementsPerToken, limits, defaultSystemPrompt, onDefaultSystemPrompt, blocked, onApply, onChangeModel, onClose }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [draft, setDraft] = useState(() => toDraft(settings));
  const [prompt, setPrompt] = useState(defaultSystemPrompt);
  const [errors, setErrors] = useState<SettingsErrors>({});
  /** Counts the openings: the form is drawn afresh each time, its Details closed again. */
  const [openings, setOpenings] = useState(0);
  // A layout effect: the draft is reset before the dialog can be seen or typed in. From a passive
  // effect, showModal() ran at once and the reset one task later, so for that moment the dialog
  // showed the last draft (another model's), and a value typed then was overwritten.
  useLayoutEffect(() => {
    const el = dialog.current;
    if (!el) return;
    if (open && !el.open) {
      setDraft(toDraft(settings));
      setPrompt(defaultSystemPrompt);
      setErrors({});
      setOpenings((n) => n + 1);
      el.showModal();
    } else if (!open && el.open) el.close();
  }, [open, settings, defaultSystemPrompt]);

  const change = (name: NumberName, value: string) => setDraft((d) => ({ ...d, [name]: value }));
  const parsed = fromDraft(draft);
  const bytesPerToken = bytesPerTokenOf(parsed, elementsPerToken);
  const autoWindow = bytesPerToken ? effectiveWindow({ ...parsed, windowMode: 'budget' }, model.cache, elementsPerToken) : undefined;
  const valid = validateSettings(parsed);
  const largest = limits && !valid.nSinks && !valid.cacheDtype ? largestWindow(parsed, model.cache, limits).window : null;
  const style = styleOf(parsed, model.defaults);
  const apply = () => {
    const found = Object.keys(valid).length > 0 || !limits ? valid : limitErrors(parsed, model.cache, elementsPerToken, limits);
    setErrors(found);
    if (Object.keys(found).length > 0 || blocked) return;
    onApply(parsed);
    if (prompt !== defaultSystemPrompt) onDefaultSystemPrompt(prompt);
    onClose();
  };
  const setStyle = (chosen: ReplyStyle) => {
    const numbers = styleSampling(chosen, model.defaults);
    setDraft((d) => ({ ...d, temperature: String(numbers.temperature), topP: String(numbers.topP), topK: String(numbers.topK), repetitionPenalty: String(numbers.repetitionPenalty) }));
  };
  const fieldProps = { draft, errors, onChange: change };
  return (
    <dialog ref={dialog} className="settings-dialog" aria-labelledby="settings-title" onClose={onClose}>
      <form
        key={openings}
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
          <legend>Memory (changing it reloads the model)</legend>
          {draft.windowMode === 'tokens' ? (
            <Field
              name="windowSize"
              label="Window (tokens)"
              hint={`How many of the latest tokens (about ¾ of a word each) the model remembers${bytesPerToken ? `, in ${formatBytes(num(draft.windowSize) * bytesPerToken || 0)} of GPU memory` : ''}${largest !== null ? `; at most ${formatCount(Math.max(0, largest))} here` : ''}.`}
              {...fieldProps}
            />
          ) : (
            <p className="field-hint">The window is sized from a memory budget (under Details){autoWindow ? `: ${formatCount(autoWindow)} tokens` : ''}.</p>
          )}
          {errors.memoryBudgetMiB && draft.windowMode === 'budget' && (
            <p className="field-error" role="alert">
              {errors.memoryBudgetMiB}
            </p>
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
          <details className="settings-details" open={Boolean(errors.nSinks)}>
            <summary>Details</summary>
            <Field name="nSinks" label="Attention sinks" hint="Tokens from the very start of the conversation that the model always keeps; they steady it once the start is otherwise forgotten." {...fieldProps} />
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
            {draft.windowMode === 'budget' && (
              <Field
                name="memoryBudgetMiB"
                label="Memory budget (MiB)"
                step="any"
                hint={autoWindow ? `A window of ${formatCount(autoWindow)} tokens fits.` : 'The window is sized once the model has loaded.'}
                {...fieldProps}
              />
            )}
          </details>
        </fieldset>
        <fieldset>
          <legend>Replies</legend>
          <div className="field">
            <span className="label" id="reply-style">Style</span>
            <div role="radiogroup" aria-labelledby="reply-style" aria-describedby="reply-style-note" className="choices">
              {REPLY_STYLES.map((s) => (
                <label key={s}>
                  <input type="radio" name="replyStyle" checked={style === s} onChange={() => setStyle(s)} /> {STYLE_LABELS[s]}
                </label>
              ))}
            </div>
            <p id="reply-style-note" className="field-hint">
              {style ? STYLE_NOTES[style] : 'Your own numbers, under Details.'}
            </p>
          </div>
          <Field name="maxTokens" label="Max tokens per reply" hint="A reply that reaches it stops and offers to continue." {...fieldProps} />
          <details className="settings-details" open={Boolean(errors.temperature || errors.topP || errors.topK || errors.repetitionPenalty)}>
            <summary>Details</summary>
            <Field name="temperature" label="Temperature" step="any" hint="How freely words are picked: 0 always takes the likeliest, higher values range wider." {...fieldProps} />
            <Field name="topP" label="Top-p" step="any" hint="Picks only among the likeliest words that together make up this share of the chance, above 0 and at most 1 (1 turns it off)." {...fieldProps} />
            <Field name="topK" label="Top-k" hint="Picks only among this many likeliest words (0 turns it off)." {...fieldProps} />
            <Field name="repetitionPenalty" label="Repetition penalty" step="any" hint="Above 1, words already written are picked less often (1 turns it off)." {...fieldProps} />
          </details>
        </fieldset>
        <fieldset>
          <legend>New conversations</legend>
          <label className="stacked-label" htmlFor="default-system-prompt">
            System prompt they start with
          </label>
          <textarea id="default-system-prompt" rows={2} value={prompt} onChange={(e) => setPrompt(e.target.value)} placeholder="None: for example, You are a helpful assistant. Answer briefly." />
          <p className="field-hint">Each conversation can change its own; this one is copied into every new conversation.</p>
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
