// Editing a sent message in place: Enter resends, Shift+Enter adds a line, Esc cancels.

import { useEffect, useRef, useState, type KeyboardEvent } from 'react';

interface Props {
  initial: string;
  onSubmit(text: string): void;
  onCancel(): void;
}

export function EditBox({ initial, onSubmit, onCancel }: Props) {
  const [text, setText] = useState(initial);
  const area = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    area.current?.focus();
    area.current?.select();
  }, []);
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      // Esc here cancels the edit; it must not reach the page's stop-the-reply shortcut.
      e.preventDefault();
      e.stopPropagation();
      onCancel();
    } else if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      if (text.trim()) onSubmit(text);
    }
  };
  return (
    <form
      className="edit-box"
      onSubmit={(e) => {
        e.preventDefault();
        if (text.trim()) onSubmit(text);
      }}
    >
      <textarea ref={area} aria-label="Edit message" value={text} rows={Math.min(8, text.split('\n').length + 1)} onChange={(e) => setText(e.target.value)} onKeyDown={onKeyDown} />
      <div className="edit-actions">
        <button type="submit" className="primary" disabled={!text.trim()}>
          Save and resend
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
