// The open conversation: its system prompt and its messages, marked where they left the model's
// window. The composer or engine dock below it belongs to the app, so it outlives a switch of
// conversation (a file being picked, a repo id being typed).

import './chat.css';
import { useCallback, useLayoutEffect, useMemo, useRef, useSyncExternalStore, type ReactNode } from 'react';
import type { CacheState } from '../../protocol/messages.ts';
import type { StoredConversation } from '../../storage/conversations.ts';
import { placesOf } from '../memory/windowMath.ts';
import type { ChatController } from './chatController.ts';
import { MessageView, type MessageActions } from './MessageView.tsx';
import { SystemPrompt } from './SystemPrompt.tsx';

interface Props {
  conversation: StoredConversation;
  liveCache: CacheState | null;
  canAct: boolean;
  generating: boolean;
  controller: ChatController;
  onSystemPrompt(text: string): void;
  /** Shown in an empty conversation. */
  intro: ReactNode;
}

/** Scrolls to the newest text while the reader is at the bottom, and leaves them be otherwise. */
function useStickToBottom(dependency: unknown) {
  const ref = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [dependency]);
  const onScroll = () => {
    const el = ref.current;
    if (el) atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
  };
  return { ref, onScroll };
}

export function ChatView({ conversation, liveCache, canAct, generating, controller, onSystemPrompt, intro }: Props) {
  const { id, messages } = conversation;
  const cache = liveCache?.conversationId === id ? liveCache : conversation.lastCache;
  const places = useMemo(() => placesOf(cache), [cache]);
  const edit = useCallback((messageId: string, text: string) => controller.edit(id, messageId, text), [controller, id]);
  const regenerate = useCallback(() => controller.regenerate(id), [controller, id]);
  const actions = useMemo<MessageActions>(() => ({ edit, regenerate }), [edit, regenerate]);
  const scroll = useStickToBottom(messages);
  const prefill = useSyncExternalStore(controller.subscribePrefill, controller.getPrefill);
  return (
    <section className="chat-view" aria-label="Conversation">
      <div className="messages" ref={scroll.ref} onScroll={scroll.onScroll} role="log" aria-busy={generating}>
        <SystemPrompt value={conversation.systemPrompt} disabled={generating} onChange={onSystemPrompt} />
        {messages.length === 0 && intro}
        {messages.map((message, i) => (
          <MessageView
            key={message.id}
            message={message}
            place={places.get(message.id)}
            last={i === messages.length - 1}
            canAct={canAct}
            actions={actions}
            prefill={prefill?.messageId === message.id ? prefill : undefined}
          />
        ))}
      </div>
    </section>
  );
}
