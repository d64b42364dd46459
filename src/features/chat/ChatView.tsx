// The open conversation: its system prompt and its messages, marked where they left the model's
// window. The composer or engine dock below it belongs to the app, so it outlives a switch of
// conversation (a file being picked, a repo id being typed).

import './chat.css';
import { useCallback, useLayoutEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import type { CacheState } from '../../protocol/messages.ts';
import type { StoredConversation, StoredMessage } from '../../storage/records.ts';
import { formatCount } from '../../protocol/format.ts';
import { Icon } from '../../ui/icons.tsx';
import { placesOf } from '../memory/windowMath.ts';
import type { ChatController, PrefillProgress } from './chatController.ts';
import { MessageView, type MessageActions } from './MessageView.tsx';
import { SystemPrompt } from './SystemPrompt.tsx';
import { firstVersionId } from './replyVersions.ts';

interface Props {
  conversation: StoredConversation;
  liveCache: CacheState | null;
  canAct: boolean;
  generating: boolean;
  controller: ChatController;
  onSystemPrompt(text: string): void;
  /** Shown in an empty conversation. */
  intro: ReactNode;
  /** Opens the settings, where the length limit is. */
  onSettings(): void;
}

/** While a prompt is read: which rule applies, and how long the rest takes. */
function ReadingNote({ prefill, cache }: { prefill: PrefillProgress; cache: CacheState | null }) {
  const kept = cache ? `the first ${formatCount(cache.nSinks)} and the last ${formatCount(cache.windowSize)} tokens` : 'what it will remember';
  const left = prefill.secondsLeft !== null ? ` · ${timeLeft(prefill.secondsLeft)}` : '';
  let text: string;
  if (prefill.how === 'rebuilt') text = `Reading this conversation again from its text: ${kept}.`;
  else if (prefill.rule === 'kept' && cache && prefill.total <= cache.nSinks + cache.windowSize) text = `Reading only what the model will remember, ${kept}, as you chose for this long message.`;
  else if (prefill.rule === 'all') text = `Reading all ${formatCount(prefill.total)} tokens in order, as you chose for this long message${left}.`;
  else text = `Reading ${formatCount(prefill.total)} tokens${left}.`;
  return (
    <p className="reading-note small muted" data-testid="reading-note">
      {text}
    </p>
  );
}

function timeLeft(seconds: number): string {
  if (seconds < 60) return `about ${Math.max(1, Math.round(seconds))} s left`;
  if (seconds < 3600) return `about ${Math.round(seconds / 60)} min left`;
  return `about ${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min left`;
}

/** Under a reply that the length limit cut off: says so, and offers to write on. */
function LengthLimit({ message, canAct, onContinue, onSettings }: { message: StoredMessage; canAct: boolean; onContinue(): void; onSettings(): void }) {
  const tokens = message.stats?.decodeTokens;
  return (
    <div className="length-limit" role="status" data-testid="length-limit">
      <p>
        This reply stopped at the length limit{tokens ? ` (${formatCount(tokens)} tokens)` : ''}, perhaps mid-sentence.
      </p>
      <button type="button" className="primary" onClick={onContinue} disabled={!canAct}>
        Continue
      </button>
      <button type="button" onClick={onSettings}>
        Change the limit
      </button>
    </div>
  );
}

/** Scrolls to the newest text while the reader is at the bottom, and leaves them be otherwise; a
 *  message just sent always brings the view down to its reply (and the reading progress under it).
 *  `away`: the reader scrolled up, so a button offers the way back down. */
function useStickToBottom(messages: readonly StoredMessage[], reading: boolean) {
  const ref = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const [away, setAway] = useState(false);
  const count = useRef(messages.length);
  useLayoutEffect(() => {
    const el = ref.current;
    if (messages.length > count.current && messages.at(-1)?.status === 'streaming') atBottom.current = true;
    count.current = messages.length;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [messages, reading]);
  const onScroll = () => {
    const el = ref.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
    setAway(!atBottom.current);
  };
  const toBottom = () => {
    const el = ref.current;
    if (!el) return;
    atBottom.current = true;
    el.scrollTop = el.scrollHeight;
    setAway(false);
  };
  return { ref, onScroll, away, toBottom };
}

export function ChatView({ conversation, liveCache, canAct, generating, controller, onSystemPrompt, intro, onSettings }: Props) {
  const { id, messages } = conversation;
  const cache = liveCache?.conversationId === id ? liveCache : conversation.lastCache;
  const places = useMemo(() => placesOf(cache), [cache]);
  const edit = useCallback((messageId: string, text: string) => controller.edit(id, messageId, text), [controller, id]);
  const regenerate = useCallback(() => controller.regenerate(id), [controller, id]);
  const showVersion = useCallback((index: number) => controller.showReplyVersion(id, index), [controller, id]);
  const actions = useMemo<MessageActions>(() => ({ edit, regenerate, showVersion }), [edit, regenerate, showVersion]);
  const prefill = useSyncExternalStore(controller.subscribePrefill, controller.getPrefill);
  const scroll = useStickToBottom(messages, prefill !== null);
  const last = messages.at(-1);
  const cutOff = last?.role === 'assistant' && last.status === 'done' && last.finishReason === 'max_tokens' ? last : null;
  return (
    <section className="chat-view" aria-label="Conversation">
      <div className="messages" ref={scroll.ref} onScroll={scroll.onScroll} role="log" aria-busy={generating}>
        <SystemPrompt value={conversation.systemPrompt} disabled={generating} onChange={onSystemPrompt} />
        {messages.length === 0 && intro}
        {messages.map((message, i) => (
          <MessageView
            key={firstVersionId(message)}
            message={message}
            place={places.get(message.id)}
            last={i === messages.length - 1}
            canAct={canAct}
            actions={actions}
            prefill={prefill?.messageId === message.id ? prefill : undefined}
          />
        ))}
        {prefill && <ReadingNote prefill={prefill} cache={liveCache} />}
        {cutOff && <LengthLimit message={cutOff} canAct={canAct} onContinue={() => controller.continueReply(id)} onSettings={onSettings} />}
      </div>
      {scroll.away && (
        <button type="button" className="to-latest" onClick={scroll.toBottom}>
          <Icon name="down" /> Scroll to latest
        </button>
      )}
    </section>
  );
}
