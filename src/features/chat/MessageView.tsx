// One message: its text as Markdown, how the cache was brought in step before a reply, whether
// the model still sees it, the reply's speed, and its actions (copy, edit, regenerate, and the
// arrows between the versions Regenerate kept of the last reply). A very
// long user message (a pasted document) shows as plain text, folded, since Markdown over a
// megabyte would freeze the page.

import { memo, useEffect, useState } from 'react';
import { Icon } from '../../ui/icons.tsx';
import type { StoredMessage, SyncNote } from '../../storage/records.ts';
import type { PrefillProgress } from './chatController.ts';
import { formatCount } from '../../protocol/format.ts';
import { replyLine, statsLine, type WindowPlace } from '../memory/windowMath.ts';
import { CopyButton } from './CopyButton.tsx';
import { EditBox } from './EditBox.tsx';
import { Markdown } from './Markdown.tsx';
import { splitThinking } from './thinking.ts';
import { versionPlace } from './replyVersions.ts';

export interface MessageActions {
  edit(messageId: string, text: string): void;
  regenerate(): void;
  /** Shows version `index` of the last reply. */
  showVersion(index: number): void;
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

/** Continuing and starting are the quiet cases; these three are worth telling: the engineering
 *  label for Details, and what it means to the user. */
const SYNC_LABELS: Partial<Record<SyncNote['how'], { label: string; plain: string }>> = {
  'rolled-back': { label: 'rolled back', plain: 'Went back to where the conversation changed, and read on from there.' },
  'restored-snapshot': { label: 'restored', plain: 'Picked this conversation up where it was saved.' },
  rebuilt: { label: 'rebuilt', plain: 'Read the conversation again: only what the model will remember of it.' },
};

const PLACE_NOTES: Record<Exclude<WindowPlace, 'in'>, string> = {
  out: 'Out of the window: the model no longer sees this message.',
  'partly-out': 'Partly out of the window: the model sees only the end of this message.',
  'sinks-only': 'Out of the window, except its first tokens, which the model keeps as attention sinks.',
};

/** How the model's memory was brought in step with the conversation, in plain words; the
 *  engineering under Details. */
function SyncNotice({ sync }: { sync: SyncNote }) {
  const said = SYNC_LABELS[sync.how];
  if (!said) return null;
  return (
    <details className={`sync-notice sync-${sync.how}`} data-sync={sync.how}>
      <summary role="status">{said.plain}</summary>
      <p className="sync-detail small">
        <span className="sync-label">Cache {said.label}</span> {sync.reason} ({formatCount(sync.prefillTokens)} tokens read)
      </p>
    </details>
  );
}

function StatusNote({ message }: { message: StoredMessage }) {
  switch (message.status) {
    case 'stopped':
      return <p className="status-note">{message.content ? 'Stopped.' : 'Stopped before the reply began. Regenerate to start it again.'}</p>;
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

/** Seconds since the reply began waiting, ticking, so a long first read shows it is at work. */
function useWaited(): number {
  const [seconds, setSeconds] = useState(0);
  useEffect(() => {
    const started = performance.now();
    const timer = setInterval(() => setSeconds(Math.floor((performance.now() - started) / 1000)), 1000);
    return () => clearInterval(timer);
  }, []);
  return seconds;
}

/** Before the first word: what the model is doing, with the number of tokens it reads once known. */
function PrefillLine({ prefill, sync }: { prefill?: PrefillProgress; sync?: SyncNote }) {
  const waited = useWaited();
  if (!prefill) {
    return (
      <p className="muted waiting" role="status">
        {sync ? `Reading the conversation (${formatCount(sync.prefillTokens)} token${sync.prefillTokens === 1 ? '' : 's'})…` : 'Getting the conversation ready…'}
        {waited >= 2 && <span className="small"> {waited} s</span>}
      </p>
    );
  }
  return (
    <p className="muted prefill" role="status">
      Reading your message: {formatCount(prefill.done)} / {formatCount(prefill.total)} tokens{' '}
      <progress value={prefill.done} max={prefill.total} />
    </p>
  );
}

/** Under a reply: how long and how fast, in plain words; the engineering figures on hover. */
function StatsLine({ message }: { message: StoredMessage }) {
  return message.stats ? (
    <p className="stats-line" title={statsLine(message.stats)}>
      {replyLine(message.stats)}
    </p>
  ) : null;
}

/** A reply's reasoning, folded: open it to read how the model got to its answer. */
function Thinking({ text, thought }: { text: string; thought: boolean }) {
  return (
    <details className="thinking" data-testid="thinking">
      <summary>{thought ? 'Thinking' : 'Thinking…'}</summary>
      <Markdown text={text} />
    </details>
  );
}

function Body({ message, prefill }: { message: StoredMessage; prefill?: PrefillProgress }) {
  if (message.role === 'user' && message.content.length > LONG_MESSAGE) return <LongMessage text={message.content} />;
  if (message.role === 'assistant' && message.content) {
    const { thinking, thought, answer } = splitThinking(message.content);
    return (
      <>
        {thinking !== null && <Thinking text={thinking} thought={thought} />}
        {answer && <Markdown text={answer} />}
      </>
    );
  }
  if (message.content) return <Markdown text={message.content} />;
  return message.status === 'streaming' ? <PrefillLine prefill={prefill} sync={message.sync} /> : null;
}

/** ‹ 2/3 ›: which of the reply's versions is shown, and the way to the others. */
function VersionArrows({ message, canAct, show }: { message: StoredMessage; canAct: boolean; show(index: number): void }) {
  const { at, count } = versionPlace(message);
  return (
    <span className="reply-versions" role="group" aria-label="Versions of this reply">
      <button type="button" className="icon-button" onClick={() => show(at - 1)} disabled={!canAct || at === 0} aria-label="Previous version" title="Previous version">
        <Icon name="left" />
      </button>
      <span className="reply-version" data-testid="reply-version">
        {at + 1}/{count}
      </span>
      <button type="button" className="icon-button" onClick={() => show(at + 1)} disabled={!canAct || at === count - 1} aria-label="Next version" title="Next version">
        <Icon name="right" />
      </button>
    </span>
  );
}

export const MessageView = memo(function MessageView({ message, place, last, canAct, actions, prefill }: Props) {
  const [editing, setEditing] = useState(false);
  const mine = message.role === 'user';
  const streaming = message.status === 'streaming';
  const outside = place && place !== 'in' ? place : null;
  return (
    <article className={`message ${message.role}${editing ? ' editing' : ''}`} data-message-id={message.id} data-window={place ?? 'unknown'} data-status={message.status ?? ''} aria-label={mine ? 'Your message' : 'Reply'}>
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
          {last && message.alternatives?.length ? <VersionArrows message={message} canAct={canAct} show={actions.showVersion} /> : null}
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
