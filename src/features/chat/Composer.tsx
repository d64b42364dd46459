// Where the user writes: Enter sends, Shift+Enter adds a line; while a reply is written the send
// button becomes Stop (Esc works too, anywhere on the page).

import { useState, type KeyboardEvent } from 'react';
import { Icon } from '../../ui/icons.tsx';
import type { LongMessageRule } from '../../protocol/messages.ts';
import { formatCount } from '../../protocol/format.ts';
import { mayExceedWindow } from './longMessages.ts';

interface Props {
  /** The message box's id, for the skip link and the focus after a model loads. */
  id: string;
  generating: boolean;
  /** Why sending is impossible right now, if it is. */
  blocked: string | null;
  placeholder: string;
  onSend(text: string): void;
  onStop(): void;
  /** The loaded model's cache, which a long message may overflow; null without a model. */
  cache: { nSinks: number; windowSize: number } | null;
  longRule: LongMessageRule;
  onLongRule(rule: LongMessageRule): void;
}

/** Asked before a message that may be longer than the window is sent: how to read it. */
function LongRuleChoice({ cache, rule, onRule }: { cache: { nSinks: number; windowSize: number }; rule: LongMessageRule; onRule(rule: LongMessageRule): void }) {
  return (
    <fieldset className="long-rule" data-testid="long-rule">
      <legend>This message may be longer than the {formatCount(cache.windowSize)} tokens the model keeps. Read:</legend>
      <label>
        <input type="radio" name="long-rule" checked={rule === 'all'} onChange={() => onRule('all')} /> all of it, every token in order (exact; slow for a
        long text, the time left is shown)
      </label>
      <label>
        <input type="radio" name="long-rule" checked={rule === 'kept'} onChange={() => onRule('kept')} /> only what the model keeps: the conversation's first{' '}
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

export function Composer({ id, generating, blocked, placeholder, onSend, onStop, cache, longRule, onLongRule }: Props) {
  const [text, setText] = useState('');
  const canSend = !generating && !blocked && text.trim() !== '';
  const send = () => {
    if (!canSend) return;
    onSend(text);
    setText('');
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    }
  };
  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
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
        <button type="submit" className="primary" disabled={!canSend} aria-label="Send">
          <Icon name="send" /> Send
        </button>
      )}
      {cache && !generating && mayExceedWindow(text, cache.windowSize) && <LongRuleChoice cache={cache} rule={longRule} onRule={onLongRule} />}
      <p className="composer-hint">{blocked ?? 'Enter sends · Shift+Enter adds a line · Esc stops a reply'}</p>
    </form>
  );
}
