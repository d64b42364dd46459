// Tells the app's other tabs which conversation was just saved or deleted, so each keeps its copy
// current instead of later writing back an old one (BroadcastChannel; absent, tabs rely on the
// revision check in conversations.ts alone).

const CHANNEL = 'endless-chat:conversations';

interface Change {
  conversationId: string;
}

const channel: BroadcastChannel | null = typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL) : null;

export function announceChange(conversationId: string): void {
  channel?.postMessage({ conversationId } satisfies Change);
}

/** Calls `listener` with the id of each conversation another tab saved or deleted. */
export function onOtherTabChange(listener: (conversationId: string) => void): () => void {
  if (!channel) return () => {};
  const handle = (event: MessageEvent<Change>) => listener(event.data.conversationId);
  channel.addEventListener('message', handle);
  return () => channel.removeEventListener('message', handle);
}
