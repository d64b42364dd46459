// The conversations on screen: the list, the open one, and the reply being generated. Every
// change is saved to IndexedDB, one save at a time per conversation; while a reply streams, saves
// are spaced out so a reload or a crash keeps most of it. Saves from the app's other tabs are read
// back in, so this tab never writes over them with an older copy.

import { Listeners } from '../../protocol/listeners.ts';
import type { CacheState } from '../../protocol/messages.ts';
import { onOtherTabChange } from '../../storage/changes.ts';
import { deleteConversation, loadConversation, loadConversations, saveConversation, saveNewConversations } from '../../storage/conversations.ts';
import type { StoredConversation, StoredMessage } from '../../storage/records.ts';
import { toEngineError } from '../../protocol/errors.ts';

export interface Generating {
  conversationId: string;
  messageId: string;
}

export interface ChatState {
  loaded: boolean;
  /** Most recently changed first. */
  conversations: StoredConversation[];
  activeId: string | null;
  generating: Generating | null;
  /** A sentence about saving or loading that failed. */
  storageError: string | null;
}

const ACTIVE_KEY = 'endless-chat:active-conversation';
const STREAMING_SAVE_MS = 500;
export const NEW_TITLE = 'New conversation';

export const newId = (): string => crypto.randomUUID();

/** Characters of the first message a title keeps: the list shows two lines, the hover all of it. */
const TITLE_LENGTH = 200;

/** The title a conversation gets from its first message, until the user names it. */
export function titleFromMessages(messages: readonly StoredMessage[]): string {
  const first = messages.find((m) => m.role === 'user')?.content.trim().replace(/\s+/g, ' ');
  return first ? (first.length > TITLE_LENGTH ? `${first.slice(0, TITLE_LENGTH - 1)}…` : first) : NEW_TITLE;
}

const titleOf = (conversation: StoredConversation): string => (conversation.renamed ? conversation.title : titleFromMessages(conversation.messages));

/** The list as shown: pinned conversations first, each part in the order it had. */
export const inListOrder = (conversations: readonly StoredConversation[]): StoredConversation[] => [
  ...conversations.filter((c) => c.pinned),
  ...conversations.filter((c) => !c.pinned),
];

/** Whether a conversation matches a search: every word of it, in any case, is somewhere in the
 *  title or the text of a message. An empty search matches all. */
export function matchesSearch(conversation: StoredConversation, search: string): boolean {
  const words = search.toLocaleLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const texts = [conversation.title, ...conversation.messages.map((m) => m.content)].map((t) => t.toLocaleLowerCase());
  return words.every((word) => texts.some((text) => text.includes(word)));
}

export class ConversationStore {
  private state: ChatState = { loaded: false, conversations: [], activeId: null, generating: null, storageError: null };
  private readonly changes = new Listeners();
  private readonly saveTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** The save in progress for each conversation; the next one waits for it (it needs its revision). */
  private readonly saving = new Map<string, Promise<void>>();
  private initialising: Promise<void> | null = null;

  readonly subscribe = this.changes.add;

  readonly getState = (): ChatState => this.state;

  init(): Promise<void> {
    this.initialising ??= this.load().then(() => {
      onOtherTabChange((id) => void this.readBack(id));
    });
    return this.initialising;
  }

  /** Takes in another tab's save or delete, unless this tab has changes of its own in flight there
   * (its save then finds the other revision and keeps that version as a copy). */
  private async readBack(id: string): Promise<void> {
    if (this.saveTimers.has(id) || this.saving.has(id) || this.state.generating?.conversationId === id) return;
    let stored: StoredConversation | undefined;
    try {
      stored = await loadConversation(id);
    } catch {
      return;
    }
    if (this.saveTimers.has(id) || this.saving.has(id) || this.state.generating?.conversationId === id) return;
    const current = this.get(id);
    if (!stored) {
      if (current) this.set({ conversations: this.state.conversations.filter((c) => c.id !== id), activeId: this.state.activeId === id ? null : this.state.activeId });
      return;
    }
    if (current && (current.revision ?? 0) >= (stored.revision ?? 0)) return;
    this.set({ conversations: current ? this.state.conversations.map((c) => (c.id === id ? stored : c)) : [stored, ...this.state.conversations] });
  }

  private async load(): Promise<void> {
    try {
      const conversations = await loadConversations();
      const remembered = localStorage.getItem(ACTIVE_KEY);
      const activeId = conversations.some((c) => c.id === remembered) ? remembered : (conversations[0]?.id ?? null);
      this.set({ loaded: true, conversations, activeId });
    } catch (e) {
      this.set({ loaded: true, storageError: toEngineError(e, 'loading the conversations').message });
    }
  }

  get(id: string): StoredConversation | undefined {
    return this.state.conversations.find((c) => c.id === id);
  }

  /** `defaultSystemPrompt`: the system prompt new conversations start with, read at each create(). */
  constructor(private readonly defaultSystemPrompt: () => string = () => '') {}

  /** A new conversation with the default system prompt; an empty one already in the list is opened
   *  instead of adding another. */
  create(): StoredConversation {
    const empty = this.state.conversations.find((c) => c.messages.length === 0 && !c.renamed && !c.importedAt);
    if (empty) {
      this.select(empty.id);
      // One left empty from before the default prompt was set starts with it, as a new one would.
      const prompt = this.defaultSystemPrompt();
      if (empty.systemPrompt === '' && prompt !== '') this.setSystemPrompt(empty.id, prompt);
      return this.get(empty.id)!;
    }
    const now = Date.now();
    const conversation: StoredConversation = { id: newId(), title: NEW_TITLE, systemPrompt: this.defaultSystemPrompt(), messages: [], createdAt: now, updatedAt: now };
    return this.add(conversation);
  }

  /** Adds a conversation; one whose id is taken (a crafted import) gets a new id, never replaces. */
  add(conversation: StoredConversation): StoredConversation {
    const { revision: _, ...fresh } = this.get(conversation.id) ? { ...conversation, id: newId() } : conversation;
    this.set({ conversations: [fresh, ...this.state.conversations] });
    this.select(fresh.id);
    this.persist(fresh.id, 'now');
    return fresh;
  }

  /** Adds imported conversations together, saved in one transaction: a failed save stores none of
   *  them (they stay on screen, as a single import's does, with the storage error shown). */
  addAll(conversations: readonly StoredConversation[]): void {
    if (conversations.length === 0) return;
    const fresh = conversations.map(({ revision: _, ...c }) => (this.get(c.id) ? { ...c, id: newId() } : c));
    this.set({ conversations: [...fresh, ...this.state.conversations] });
    this.select(fresh[0].id);
    const ids = new Set(fresh.map((c) => c.id));
    const batch = this.guard(async () => {
      await saveNewConversations(fresh);
      this.set({ conversations: this.state.conversations.map((c) => (ids.has(c.id) ? { ...c, revision: 1 } : c)) });
    });
    // A change made meanwhile waits for this save, as it would for its own.
    for (const id of ids) {
      this.saving.set(id, batch);
      void batch.finally(() => {
        if (this.saving.get(id) === batch) this.saving.delete(id);
      });
    }
  }

  select(id: string): void {
    localStorage.setItem(ACTIVE_KEY, id);
    this.set({ activeId: id });
  }

  async remove(id: string): Promise<void> {
    const rest = this.state.conversations.filter((c) => c.id !== id);
    this.set({ conversations: rest, activeId: this.state.activeId === id ? (rest[0]?.id ?? null) : this.state.activeId });
    clearTimeout(this.saveTimers.get(id));
    this.saveTimers.delete(id);
    await this.guard(() => deleteConversation(id));
  }

  /** Names the conversation; an empty name gives it back the title of its first message. */
  rename(id: string, title: string): void {
    const named = title.trim().replace(/\s+/g, ' ').slice(0, 200);
    this.update(id, (c) => ({ ...c, title: named, renamed: named !== '' }), 'now');
  }

  setPinned(id: string, pinned: boolean): void {
    this.update(id, (c) => ({ ...c, pinned }), 'now');
  }

  setSystemPrompt(id: string, systemPrompt: string): void {
    this.update(id, (c) => ({ ...c, systemPrompt }), 'now');
  }

  setMessages(id: string, messages: StoredMessage[]): void {
    this.update(id, (c) => ({ ...c, messages, updatedAt: Date.now() }), 'now', true);
  }

  patchMessage(id: string, messageId: string, patch: Partial<StoredMessage>, save: 'now' | 'soon'): void {
    this.update(id, (c) => ({ ...c, messages: c.messages.map((m) => (m.id === messageId ? { ...m, ...patch } : m)) }), save);
  }

  setLastCache(id: string, lastCache: CacheState): void {
    this.update(id, (c) => ({ ...c, lastCache }), 'now');
  }

  reportStorageError(message: string): void {
    this.set({ storageError: message });
  }

  setGenerating(generating: Generating | null): void {
    this.set({ generating });
  }

  private update(id: string, change: (c: StoredConversation) => StoredConversation, save: 'now' | 'soon', toFront = false): void {
    const current = this.get(id);
    if (!current) return;
    const next = change(current);
    const changed = { ...next, title: titleOf(next) };
    const others = this.state.conversations.filter((c) => c.id !== id);
    this.set({ conversations: toFront ? [changed, ...others] : this.state.conversations.map((c) => (c.id === id ? changed : c)) });
    this.persist(id, save);
  }

  private persist(id: string, when: 'now' | 'soon'): void {
    if (when === 'soon' && this.saveTimers.has(id)) return;
    clearTimeout(this.saveTimers.get(id));
    const write = () => {
      this.saveTimers.delete(id);
      const previous = this.saving.get(id) ?? Promise.resolve();
      const next = previous.then(() => this.save(id));
      this.saving.set(id, next);
      void next.finally(() => {
        if (this.saving.get(id) === next) this.saving.delete(id);
      });
    };
    if (when === 'now') write();
    else this.saveTimers.set(id, setTimeout(write, STREAMING_SAVE_MS));
  }

  /** Saves the conversation as it is now and records the revision it was stored under. */
  private async save(id: string): Promise<void> {
    const conversation = this.get(id);
    if (!conversation) return;
    await this.guard(async () => {
      const { revision, keptCopy } = await saveConversation(conversation);
      const conversations = this.state.conversations.map((c) => (c.id === id ? { ...c, revision } : c));
      this.set({ conversations: keptCopy ? [...conversations, keptCopy] : conversations });
    });
  }

  private async guard(write: () => Promise<void>): Promise<void> {
    try {
      await write();
      if (this.state.storageError) this.set({ storageError: null });
    } catch (e) {
      this.set({ storageError: toEngineError(e, 'saving the conversations').message });
    }
  }

  private set(patch: Partial<ChatState>): void {
    this.state = { ...this.state, ...patch };
    this.changes.emit();
  }
}
