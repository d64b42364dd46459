// The conversation's system prompt, edited in place and saved when the field loses focus.

import { useEffect, useState } from 'react';

interface Props {
  value: string;
  disabled: boolean;
  onChange(value: string): void;
}

export function SystemPrompt({ value, disabled, onChange }: Props) {
  const [draft, setDraft] = useState(value);
  useEffect(() => setDraft(value), [value]);
  return (
    <details className="system-prompt">
      <summary>System prompt{value ? `: ${value.length > 60 ? `${value.slice(0, 59)}…` : value}` : ' (none)'}</summary>
      <p id="system-prompt-note">Read by the model before the first message. Changing it rebuilds the cache on the next reply.</p>
      <textarea aria-label="System prompt" aria-describedby="system-prompt-note" value={draft} disabled={disabled} rows={3} onChange={(e) => setDraft(e.target.value)} onBlur={() => draft !== value && onChange(draft)} />
    </details>
  );
}
