// Where the user writes: Enter sends, Shift+Enter adds a line; while a reply is written the send
// button becomes Stop (Esc works too, anywhere on the page). While no model is ready the box still
// takes text, and Enter keeps the message to send once one is. A message that may be longer than
// the window asks, above the box, how to read it before it goes. Under the box, the draft's length in
// the loaded model's tokens, against what the model remembers.

import { useEffect, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import { Icon } from '../../ui/icons.tsx';
import type { LongMessageRule } from '../../protocol/messages.ts';
import { formatCount } from '../../protocol/format.ts';
import { draftLengthLine, mayExceedWindow } from './longMessages.ts';

interface Props {
  /** The message box's id, for the skip link and the focus after a model loads. */
  id: string;
  generating: boolean;
  /** No model can run in this browser: the box takes no text, and `waitNote` says why. */
  disabled?: boolean;
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
  /** Counts a text's tokens with the loaded model's tokenizer; null while no model is ready. */
  countTokens: ((text: string) => Promise<number>) | null;
  /** Whether the model thinks before it answers, for a model that can be told; null for others. */
  thinking: { on: boolean; onChange(on: boolean): void } | null;
}

/** The draft's token count, asked a moment after typing pauses; a later answer replaces an earlier one. */
function useTokenCount(text: string, countTokens: ((text: string) => Promise<number>) | null): number | null {
  const [counted, setCounted] = useState<{ text: string; tokens: number } | null>(null);
  useEffect(() => {
    if (!countTokens || text === '') return;
    let live = true;
    const timer = setTimeout(() => {
      countTokens(text).then(
        (tokens) => live && setCounted({ text, tokens }),
        () => live && setCounted(null),
      );
    }, 250);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [text, countTokens]);
  // Kept while the next count is on its way, so the line does not blink at every key.
  return countTokens && text !== '' && counted ? counted.tokens : null;
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

export function Composer({ id, generating, disabled = false, waitNote, placeholder, draft, onDraft, onSend, onStop, cache, longRule, onLongRule, countTokens, thinking }: Props) {
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
  const tokens = useTokenCount(text, countTokens);
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
        disabled={disabled}
        rows={rowsFor(text)}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
      />
      {generating ? (
        <button type="button" className="primary stop" onClick={onStop} aria-label="Stop (Esc)">
          <Icon name="stop" /> Stop
        </button>
      ) : (
        <button type="submit" className="primary" disabled={disabled || text.trim() === ''} aria-label="Send">
          <Icon name="send" /> Send
        </button>
      )}
      <p className={`composer-hint${hint ? ' said' : ''}`}>
        {hint ? <span role="status">{hint}</span> : <span className="keys-hint">Enter sends · Shift+Enter adds a line · Esc stops a reply</span>}
        {tokens !== null && cache && (
          <span className="token-count" data-testid="token-count">
            {draftLengthLine(tokens, cache)}
          </span>
        )}
        {thinking && (
          <label className="thinking-choice" title="Off, the model answers at once, without writing out its reasoning first.">
            <input type="checkbox" checked={thinking.on} onChange={(e) => thinking.onChange(e.target.checked)} /> Think before answering
          </label>
        )}
      </p>
    </form>
  );
}
