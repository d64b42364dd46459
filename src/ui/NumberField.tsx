// A labelled number box with its hint, or its error, below it: how the settings and the experiment
// ask for numbers. The draft stays a string, so a half-typed value is the user's until they fix it.

import { useId, type ReactNode } from 'react';

interface Props {
  name: string;
  label: string;
  value: string;
  hint?: ReactNode;
  /** Shown instead of the hint, and marks the box invalid. */
  error?: string;
  /** '1' (the default) for whole numbers, 'any' for decimals. */
  step?: string;
  /** Shown while empty: the value used then. */
  placeholder?: string;
  disabled?: boolean;
  onChange(value: string): void;
}

export function NumberField({ name, label, value, hint, error, step = '1', placeholder, disabled, onChange }: Props) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={name}
        type="number"
        step={step}
        inputMode={step === '1' ? 'numeric' : 'decimal'}
        value={value}
        placeholder={placeholder}
        disabled={disabled}
        aria-invalid={error ? true : undefined}
        aria-describedby={`${id}-note`}
        onChange={(e) => onChange(e.target.value)}
      />
      <p id={`${id}-note`} className={error ? 'field-error' : 'field-hint'} role={error ? 'alert' : undefined}>
        {error ?? hint}
      </p>
    </div>
  );
}
