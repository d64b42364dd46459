// The sidebar: every saved conversation, a new one, and import / export / delete.

import { useRef, useState } from 'react';
import { Icon } from '../../ui/icons.tsx';
import type { StoredConversation } from '../../storage/records.ts';
import { toEngineError } from '../../protocol/errors.ts';
import { conversationFileName, conversationFromFile, conversationToJson } from './conversationFile.ts';
import type { ConversationStore } from './conversationStore.ts';

interface Props {
  store: ConversationStore;
  conversations: StoredConversation[];
  activeId: string | null;
  generatingId: string | null;
  onPicked(): void;
}

function download(conversation: StoredConversation) {
  const url = URL.createObjectURL(new Blob([conversationToJson(conversation)], { type: 'application/json' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = conversationFileName(conversation);
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** "4 Dec, 21:34", or "4 Dec 2025" for another year: titles repeat, dates tell them apart. */
function dateOf(ms: number): string {
  const date = new Date(ms);
  if (date.getFullYear() !== new Date().getFullYear()) return date.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
  return `${date.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })}, ${date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}`;
}

export function ConversationList({ store, conversations, activeId, generatingId, onPicked }: Props) {
  const importInput = useRef<HTMLInputElement>(null);
  const [importError, setImportError] = useState<string | null>(null);
  const importFile = async (file: File | undefined) => {
    if (!file) return;
    try {
      store.add(await conversationFromFile(file));
      setImportError(null);
      setDeleted(null);
      onPicked();
    } catch (e) {
      setImportError(toEngineError(e, 'importing a conversation').message);
    }
  };
  // Deleting asks nothing: it says what went, with an undo, until the next delete or import.
  const [deleted, setDeleted] = useState<StoredConversation | null>(null);
  const remove = (c: StoredConversation) => {
    setDeleted(c);
    void store.remove(c.id);
  };
  const undo = () => {
    if (deleted) store.add(deleted);
    setDeleted(null);
    onPicked();
  };
  return (
    <nav className="conversation-list" aria-label="Conversations">
      <div className="list-actions">
        <button
          type="button"
          className="primary"
          onClick={() => {
            store.create();
            onPicked();
          }}
        >
          <Icon name="plus" /> New conversation
        </button>
        <button type="button" onClick={() => importInput.current?.click()}>
          <Icon name="upload" /> Import…
        </button>
        <input
          ref={importInput}
          type="file"
          accept="application/json,.json"
          className="visually-hidden"
          aria-label="Import a conversation (JSON)"
          tabIndex={-1}
          onChange={(e) => {
            void importFile(e.target.files?.[0]);
            e.target.value = '';
          }}
        />
      </div>
      {deleted && (
        <p className="undo-line" role="status" data-testid="deleted">
          Deleted "{deleted.title}".{' '}
          <button type="button" onClick={undo}>
            Undo
          </button>
        </p>
      )}
      {importError && (
        <p className="error-text" role="alert">
          {importError}
        </p>
      )}
      <ul>
        {conversations.map((c) => (
          <li key={c.id} className={c.id === activeId ? 'active' : undefined}>
            <button
              type="button"
              className="conversation-title"
              title={c.title}
              aria-current={c.id === activeId ? 'true' : undefined}
              onClick={() => {
                store.select(c.id);
                onPicked();
              }}
            >
              <span className="title-text">
                {c.title}
                {c.importedAt !== undefined && <span className="imported">imported</span>}
                {c.id === generatingId && <span className="writing"> · writing…</span>}
              </span>
              <span className="conversation-date">{dateOf(c.createdAt)}</span>
            </button>
            <button type="button" className="icon-button" onClick={() => download(c)} aria-label={`Export "${c.title}" as JSON`} title="Export as JSON">
              <Icon name="download" />
            </button>
            <button type="button" className="icon-button" onClick={() => remove(c)} disabled={c.id === generatingId} aria-label={`Delete "${c.title}"`} title="Delete">
              <Icon name="trash" />
            </button>
          </li>
        ))}
      </ul>
      <p className="muted small">Conversations are saved in this browser only.</p>
    </nav>
  );
}
