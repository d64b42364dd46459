// Where the user writes: Enter sends, Shift+Enter adds a line; while a reply is written the send
// button becomes Stop (Esc works too, anywhere on the page). While no model is ready the box still
// takes text, and Enter keeps the message to send once one is. A message that may be longer than
// the window asks, above the box, how to read it before it goes.

import { useEffect, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import { Icon } from '../../ui/icons.tsx';
import type { LongMessageRule } from '../../protocol/messages.ts';
import { formatCount } from '../../protocol/format.ts';
import { mayExceedWindow } from './longMessages.ts';

interface Props {
  /** The message box's id, for the skip link and the focus after a model loads. */
  id: string;
  generating: boolean;
  /** Why a message cannot go yet (no model ready), if it cannot; Enter then keeps it until one is. */
  waitNote: ReactNode | null;
  placeholder: string;
  /** The text written so far in this conversation, kept by the app across loads and switches. */
  draft: string;
  onDraft(text: string): void;
  /** `long`: the rule chosen for this message when it may be longer than the window, else null. */
  onSend(text: string, long: LongMessageRule | null): void;
  onStop(): void;
  /** The loaded model's cache, which a long message may overflow; null without a model. */
  cache: { nSinks: number; windowSize: number } | null;
  /** The rule the user chose for long messages, null until they choose one. */
  longRule: LongMessageRule | null;
  onLongRule(rule: LongMessageRule): void;
}

/** Asked before a message that may be longer than the window is sent: how to read it. Nothing is
 *  chosen for the user; a choice made once is remembered. */
function LongRuleChoice({ cache, rule, onRule, asking }: { cache: { nSinks: number; windowSize: number }; rule: LongMessageRule | null; onRule(rule: LongMessageRule): void; asking: boolean }) {
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (asking) first.current?.focus();
  }, [asking]);
  return (
    <fieldset className={`long-rule${asking ? ' asking' : ''}`} data-testid="long-rule">
      <legend>This message may be longer than the {formatCount(cache.windowSize)} tokens the model remembers. How should it read it?</legend>
      <label>
        <input ref={first} type="radio" name="long-rule" checked={rule === 'all'} onChange={() => onRule('all')} /> All of it, every word in order (exact; slow
        for a long text, the time left is shown)
      </label>
      <label>
        <input type="radio" name="long-rule" checked={rule === 'kept'} onChange={() => onRule('kept')} /> Only what it will remember: the conversation's first{' '}
        {formatCount(cache.nSinks)} and last {formatCount(cache.windowSize)} tokens (fast)
      </label>
    </fieldset>
  );
}

/** Lines to show, 2 to 8, counted without splitting a pasted megabyte on every keystroke. */
function rowsFor(text: string): number {
  let lines = 1;
  for (let at = text.indexOf('\n'); at >= 0 && lines < 8; at = text.indexOf('\n', at + 1)) lines++;
  return Math.max(2, lines);
}

export function Composer({ id, generating, waitNote, placeholder, draft, onDraft, onSend, onStop, cache, longRule, onLongRule }: Props) {
  const [text, setTextState] = useState(draft);
  /** Enter was pressed while no model was ready: the message goes once one is. */
  const [queued, setQueued] = useState(false);
  /** Send was asked for a long message before a rule was chosen. */
  const [asking, setAsking] = useState(false);
  const setText = (value: string) => {
    setTextState(value);
    onDraft(value);
  };
  const long = cache !== null && mayExceedWindow(text, cache.windowSize);
  const ready = waitNote === null && !generating;

  const send = () => {
    if (text.trim() === '') return;
    if (!ready) {
      if (waitNote !== null) setQueued(true);
      return;
    }
    if (long && longRule === null) {
      setAsking(true);
      return;
    }
    onSend(text, long ? longRule : null);
    setText('');
    setQueued(false);
    setAsking(false);
  };
  // The message kept while the model loaded goes as soon as the model is ready.
  const sendRef = useRef(send);
  sendRef.current = send;
  useEffect(() => {
    if (queued && ready) sendRef.current();
  }, [queued, ready]);

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    }
  };
  const hint = queued && !ready
    ? 'Your message will be sent once the model is ready.'
    : asking && long && longRule === null
      ? 'Choose how to read this long message first.'
      : waitNote;
  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      {cache && !generating && long && (
        <LongRuleChoice
          cache={cache}
          rule={longRule}
          asking={asking}
          onRule={(rule) => {
            onLongRule(rule);
            setAsking(false);
          }}
        />
      )}
      <textarea
        id={id}
        aria-label="Message"
        placeholder={placeholder}
        value={text}
        rows={rowsFor(text)}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
      />
      {generating ? (
        <button type="button" className="primary stop" onClick={onStop} aria-label="Stop (Esc)">
          <Icon name="stop" /> Stop
        </button>
      ) : (
        <button type="submit" className="primary" disabled={text.trim() === ''} aria-label="Send">
          <Icon name="send" /> Send
        </button>
      )}
      <p className={`composer-hint${hint ? ' said' : ''}`} role={hint ? 'status' : undefined}>
        {hint ?? <span className="keys-hint">Enter sends · Shift+Enter adds a line · Esc stops a reply</span>}
      </p>
    </form>
  );
}
