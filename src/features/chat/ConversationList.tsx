// The sidebar: every saved conversation (pinned ones first), a search over their titles and text, a
// new one, import and export of one or all, and per conversation rename, pin, export and delete.

import { useRef, useState } from 'react';
import { Icon } from '../../ui/icons.tsx';
import { download } from '../../ui/download.ts';
import type { StoredConversation } from '../../storage/records.ts';
import { toEngineError } from '../../protocol/errors.ts';
import { conversationFileName, conversationsFileName, conversationsFromFile, conversationsToJson, conversationToJson, conversationToMarkdown } from './conversationFile.ts';
import { inListOrder, matchesSearch, type ConversationStore } from './conversationStore.ts';

interface Props {
  store: ConversationStore;
  conversations: StoredConversation[];
  activeId: string | null;
  generatingId: string | null;
  onPicked(): void;
}

/** "4 Dec, 21:34", or "4 Dec 2025" for another year: titles repeat, dates tell them apart. */
function dateOf(ms: number): string {
  const date = new Date(ms);
  if (date.getFullYear() !== new Date().getFullYear()) return date.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
  return `${date.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })}, ${date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}`;
}

/** The title as a text box: Enter keeps the new name, Esc the old one; leaving the box keeps it too,
 *  as a click elsewhere should not lose what was typed. An empty name gives back the first message's. */
function RenameBox({ title, onDone }: { title: string; onDone(name: string | null): void }) {
  const done = useRef(false);
  const finish = (name: string | null) => {
    if (done.current) return;
    done.current = true;
    onDone(name);
  };
  return (
    <input
      className="rename-box"
      aria-label="Name of the conversation"
      defaultValue={title}
      // Focused as it opens, from the Rename button the user just pressed.
      autoFocus
      onFocus={(e) => e.target.select()}
      onKeyDown={(e) => {
        if (e.key === 'Enter') finish(e.currentTarget.value);
        else if (e.key === 'Escape') finish(null);
        else return;
        e.preventDefault();
        e.stopPropagation();
        // The keyboard goes on from the row's actions button, not from the top of the page.
        e.currentTarget.parentElement?.querySelector<HTMLElement>('.row-toggle')?.focus();
      }}
      onBlur={(e) => finish(e.target.value)}
    />
  );
}

export function ConversationList({ store, conversations, activeId, generatingId, onPicked }: Props) {
  const importInput = useRef<HTMLInputElement>(null);
  const [importError, setImportError] = useState<string | null>(null);
  const importFile = async (file: File | undefined) => {
    if (!file) return;
    try {
      store.addAll(await conversationsFromFile(file));
      setImportError(null);
      setDeleted(null);
      setSearch('');
      onPicked();
    } catch (e) {
      setImportError(toEngineError(e, 'importing conversations').message);
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
  const [search, setSearch] = useState('');
  /** The conversation whose actions (rename, pin, export) are open, and the one being renamed. */
  const [actionsOf, setActionsOf] = useState<string | null>(null);
  const [renaming, setRenaming] = useState<string | null>(null);
  const shown = inListOrder(conversations).filter((c) => matchesSearch(c, search));
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
        <button type="button" onClick={() => importInput.current?.click()} title="Import one conversation, or all of them, from a file exported here">
          <Icon name="upload" /> Import…
        </button>
        {conversations.length > 0 && (
          <button
            type="button"
            onClick={() => download(conversationsFileName(), conversationsToJson(conversations), 'application/json')}
            title="Save every conversation in one file, to keep or to import in another browser"
          >
            <Icon name="download" /> Export all
          </button>
        )}
        <input
          ref={importInput}
          type="file"
          accept="application/json,.json"
          className="visually-hidden"
          aria-label="Import a conversation (JSON), or all of them"
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
      {(conversations.length > 1 || search) && (
        <label className="conversation-search">
          <Icon name="search" />
          <input type="search" aria-label="Search conversations" placeholder="Search conversations" value={search} onChange={(e) => setSearch(e.target.value)} />
        </label>
      )}
      <ul>
        {shown.map((c) => (
          <li key={c.id} className={c.id === activeId ? 'active' : undefined} data-pinned={c.pinned ? 'true' : undefined}>
            {renaming === c.id ? (
              <RenameBox
                title={c.title}
                onDone={(name) => {
                  if (name !== null && name !== c.title) store.rename(c.id, name);
                  setRenaming(null);
                }}
              />
            ) : (
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
                  {c.pinned && (
                    <span className="pin-mark" role="img" aria-label="Pinned" title="Pinned">
                      <Icon name="pin" />
                    </span>
                  )}
                  {c.title}
                  {c.id === generatingId && <span className="writing"> · writing…</span>}
                </span>
                {/* Under the title, where two lines of a long title cannot hide it. */}
                <span className="conversation-meta">
                  <span className="conversation-date">{dateOf(c.createdAt)}</span>
                  {c.importedAt !== undefined && <span className="imported">imported</span>}
                </span>
              </button>
            )}
            <button
              type="button"
              className="icon-button row-toggle"
              onClick={() => setActionsOf(actionsOf === c.id ? null : c.id)}
              aria-expanded={actionsOf === c.id}
              aria-label={`More for "${c.title}"`}
              title="Rename, pin, export"
            >
              <Icon name="chevron" />
            </button>
            <button type="button" className="icon-button" onClick={() => remove(c)} disabled={c.id === generatingId} aria-label={`Delete "${c.title}"`} title="Delete">
              <Icon name="trash" />
            </button>
            {actionsOf === c.id && (
              <div
                className="row-actions"
                role="group"
                aria-label={`Actions for "${c.title}"`}
                onClick={(e) => {
                  // Closed after an action, as a menu is, with the keyboard back on its button.
                  e.currentTarget.parentElement?.querySelector<HTMLElement>('.row-toggle')?.focus();
                  setActionsOf(null);
                }}
              >
                <button type="button" onClick={() => setRenaming(c.id)}>
                  <Icon name="rename" /> Rename
                </button>
                <button type="button" onClick={() => store.setPinned(c.id, !c.pinned)}>
                  <Icon name="pin" /> {c.pinned ? 'Unpin' : 'Pin'}
                </button>
                <button type="button" onClick={() => download(conversationFileName(c, 'md'), conversationToMarkdown(c), 'text/markdown')} aria-label="Export as Markdown" title="Export as Markdown, to read">
                  <Icon name="download" /> Markdown
                </button>
                <button type="button" onClick={() => download(conversationFileName(c), conversationToJson(c), 'application/json')} aria-label="Export as JSON" title="Export as JSON, to import again">
                  <Icon name="download" /> JSON
                </button>
              </div>
            )}
          </li>
        ))}
      </ul>
      {shown.length === 0 && search && (
        <p className="muted small" role="status">
          No conversation matches "{search.trim()}".
        </p>
      )}
      <p className="muted small">Conversations are saved in this browser only.</p>
    </nav>
  );
}
