// One message: its text as Markdown, how the cache was brought in step before a reply, whether
// the model still sees it, the reply's speed, and its actions (copy, edit, regenerate). A very
// long user message (a pasted document) shows as plain text, folded, since Markdown over a
// megabyte would freeze the page.

import { memo, useState } from 'react';
import { Icon } from '../../ui/icons.tsx';
import type { StoredMessage, SyncNote } from '../../storage/records.ts';
import type { PrefillProgress } from './chatController.ts';
import { formatCount } from '../../protocol/format.ts';
import { statsLine, type WindowPlace } from '../memory/windowMath.ts';
import { CopyButton } from './CopyButton.tsx';
import { EditBox } from './EditBox.tsx';
import { Markdown } from './Markdown.tsx';

export interface MessageActions {
  edit(messageId: string, text: string): void;
  regenerate(): void;
}

interface Props {
  message: StoredMessage;
  place: WindowPlace | undefined;
  /** The last message of the conversation: it can be regenerated (or answered). */
  last: boolean;
  /** A model is loaded and no reply is being written. */
  canAct: boolean;
  actions: MessageActions;
  /** How far the engine has read the prompt, while this reply waits for it. */
  prefill?: PrefillProgress;
}

/** User messages longer than this (in characters) show as folded plain text. */
const LONG_MESSAGE = 4000;
/** Characters a folded message shows. */
const FOLDED_PREVIEW = 1200;

/** Continuing and starting are the quiet cases; these three are worth telling. */
const SYNC_LABELS: Partial<Record<SyncNote['how'], string>> = {
  'rolled-back': 'rolled back',
  'restored-snapshot': 'restored',
  rebuilt: 'rebuilt',
};

const PLACE_NOTES: Record<Exclude<WindowPlace, 'in'>, string> = {
  out: 'Out of the window: the model no longer sees this message.',
  'partly-out': 'Partly out of the window: the model sees only the end of this message.',
  'sinks-only': 'Out of the window, except its first tokens, which the model keeps as attention sinks.',
};

function SyncNotice({ sync }: { sync: SyncNote }) {
  const label = SYNC_LABELS[sync.how];
  if (!label) return null;
  return (
    <p className={`sync-notice sync-${sync.how}`} role="status">
      <span className="sync-label">Cache {label}</span> {sync.reason} ({formatCount(sync.prefillTokens)} tokens read)
    </p>
  );
}

function StatusNote({ message }: { message: StoredMessage }) {
  switch (message.status) {
    case 'stopped':
      return <p className="status-note">Stopped.</p>;
    case 'interrupted':
      return <p className="status-note warn">Interrupted: this reply was cut off (the page was closed, reloaded or taken over) and is kept as it was.</p>;
    case 'failed':
      return (
        <p className="status-note error" role="alert">
          {message.error ?? 'This reply failed; regenerate it to try again.'}
        </p>
      );
    default:
      return null;
  }
}

function LongMessage({ text }: { text: string }) {
  const [open, setOpen] = useState(false);
  return (
    <div className="long-message">
      <p className="plain-text">{open ? text : `${text.slice(0, FOLDED_PREVIEW)}…`}</p>
      <button type="button" className="link-button" onClick={() => setOpen(!open)} aria-expanded={open}>
        {open ? 'Show less' : `Show all (${formatCount(text.length)} characters)`}
      </button>
    </div>
  );
}

function PrefillLine({ prefill }: { prefill?: PrefillProgress }) {
  if (!prefill) return <p className="muted">Reading the conversation…</p>;
  return (
    <p className="muted prefill" role="status">
      Reading your message: {formatCount(prefill.done)} / {formatCount(prefill.total)} tokens{' '}
      <progress value={prefill.done} max={prefill.total} />
    </p>
  );
}

function StatsLine({ message }: { message: StoredMessage }) {
  return message.stats ? <p className="stats-line">{statsLine(message.stats)}</p> : null;
}

function Body({ message, prefill }: { message: StoredMessage; prefill?: PrefillProgress }) {
  if (message.role === 'user' && message.content.length > LONG_MESSAGE) return <LongMessage text={message.content} />;
  if (message.content) return <Markdown text={message.content} />;
  return message.status === 'streaming' ? <PrefillLine prefill={prefill} /> : null;
}

export const MessageView = memo(function MessageView({ message, place, last, canAct, actions, prefill }: Props) {
  const [editing, setEditing] = useState(false);
  const mine = message.role === 'user';
  const streaming = message.status === 'streaming';
  const outside = place && place !== 'in' ? place : null;
  return (
    <article className={`message ${message.role}`} data-message-id={message.id} data-window={place ?? 'unknown'} data-status={message.status ?? ''} aria-label={mine ? 'Your message' : 'Reply'}>
      {message.sync && <SyncNotice sync={message.sync} />}
      <header className="message-head">
        <span className="author">{mine ? 'You' : (message.modelLabel ?? 'Model')}</span>
        {outside && (
          <span className="window-badge" title={PLACE_NOTES[outside]}>
            {outside === 'partly-out' ? 'partly out of window' : 'out of window'}
          </span>
        )}
      </header>
      {editing ? (
        <EditBox
          initial={message.content}
          onCancel={() => setEditing(false)}
          onSubmit={(text) => {
            setEditing(false);
            actions.edit(message.id, text);
          }}
        />
      ) : (
        <>
          <Body message={message} prefill={prefill} />
          {streaming && <span className="caret" aria-hidden="true" />}
        </>
      )}
      {outside && <p className="window-note">{PLACE_NOTES[outside]}</p>}
      <StatusNote message={message} />
      <StatsLine message={message} />
      {!editing && !streaming && (
        <footer className="message-actions">
          {message.content && <CopyButton text={message.content} label="Copy message" />}
          {mine && (
            <button type="button" className="icon-button" onClick={() => setEditing(true)} disabled={!canAct} aria-label="Edit and resend" title="Edit and resend">
              <Icon name="edit" />
            </button>
          )}
          {last && (
            <button type="button" className="icon-button" onClick={actions.regenerate} disabled={!canAct} aria-label={mine ? 'Reply' : 'Regenerate'} title={mine ? 'Reply' : 'Regenerate'}>
              <Icon name="regenerate" />
            </button>
          )}
        </footer>
      )}
    </article>
  );
});
