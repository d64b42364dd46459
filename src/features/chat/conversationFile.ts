// Export and import of one conversation as a JSON file. Imports are untrusted: every field is
// checked and only known fields are kept (text stays text; it is rendered, never executed).

import { EngineError } from '../../protocol/errors.ts';
import type { ReplyStats } from '../../protocol/messages.ts';
import type { ReplyStatus, StoredConversation, StoredMessage } from '../../storage/records.ts';
import { newId, titleFromMessages } from './conversationStore.ts';

const FORMAT = 'endless-chat/conversation';

interface ConversationFile {
  format: typeof FORMAT;
  version: 1;
  conversation: Pick<StoredConversation, 'title' | 'systemPrompt' | 'createdAt' | 'messages'>;
}

export function conversationToJson(conversation: StoredConversation): string {
  const { title, systemPrompt, createdAt, messages } = conversation;
  const file: ConversationFile = { format: FORMAT, version: 1, conversation: { title, systemPrompt, createdAt, messages } };
  return JSON.stringify(file, null, 2);
}

export function conversationFileName(conversation: StoredConversation): string {
  const slug = conversation.title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'conversation';
  return `${slug}.endless-chat.json`;
}

const refuse = (why: string): never => {
  throw new EngineError('IMPORT_INVALID', `This file is not a conversation exported from Endless Chat: ${why}`);
};
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const STATUSES: ReplyStatus[] = ['done', 'stopped', 'interrupted', 'failed'];

/** A new conversation (fresh id) from a file the user picked. */
export async function conversationFromFile(file: Blob): Promise<StoredConversation> {
  let text: string;
  try {
    text = await file.text();
  } catch (e) {
    throw new EngineError('IMPORT_INVALID', 'The file could not be read (it may have been moved or changed since it was picked); pick it again.', String(e));
  }
  return conversationFromJson(text);
}

/** A new conversation (fresh id) from an exported file's text. */
export function conversationFromJson(text: string): StoredConversation {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return refuse('it is not valid JSON.');
  }
  if (!isRecord(data) || data.format !== FORMAT || !isRecord(data.conversation)) return refuse(`it has no "format": "${FORMAT}".`);
  const c = data.conversation;
  if (!Array.isArray(c.messages)) return refuse('it has no list of messages.');
  const now = Date.now();
  const seen = new Set<string>();
  const messages = c.messages.map((m, i) => {
    const message = readMessage(m, i);
    if (seen.has(message.id)) message.id = newId();
    seen.add(message.id);
    return message;
  });
  const derived = titleFromMessages(messages);
  const title = typeof c.title === 'string' && c.title.trim() ? c.title.slice(0, 200) : derived;
  return {
    id: newId(),
    title,
    // A title the exporter gave it stays; one that only named its first message follows it, as here.
    renamed: title !== derived,
    systemPrompt: typeof c.systemPrompt === 'string' ? c.systemPrompt : '',
    messages,
    createdAt: isNumber(c.createdAt) ? c.createdAt : now,
    updatedAt: now,
    importedAt: now,
  };
}

function readMessage(m: unknown, i: number): StoredMessage {
  if (!isRecord(m)) return refuse(`message ${i + 1} is not an object.`);
  if (m.role !== 'user' && m.role !== 'assistant') return refuse(`message ${i + 1} has the role ${JSON.stringify(m.role)}; only "user" and "assistant" are allowed.`);
  if (typeof m.content !== 'string') return refuse(`message ${i + 1} has no text content.`);
  const message: StoredMessage = {
    id: typeof m.id === 'string' && m.id ? m.id.slice(0, 100) : newId(),
    role: m.role,
    content: m.content,
    createdAt: isNumber(m.createdAt) ? m.createdAt : Date.now(),
  };
  if (m.role === 'assistant') {
    // A reply exported mid-stream was cut off all the same.
    message.status = m.status === 'streaming' ? 'interrupted' : STATUSES.find((s) => s === m.status) ?? 'done';
    if (typeof m.error === 'string') message.error = m.error;
    if (typeof m.modelLabel === 'string') message.modelLabel = m.modelLabel;
    const stats = readStats(m.stats);
    if (stats) message.stats = stats;
    // The exporter's cache notes ("rebuilt", "restored") told of its cache, not of this browser's: dropped.
  }
  return message;
}

function readStats(s: unknown): ReplyStats | undefined {
  if (!isRecord(s)) return undefined;
  const { prefillTokens, prefillMs, decodeTokens, decodeMs, timeToFirstTokenMs, msPerToken } = s;
  if (![prefillTokens, prefillMs, decodeTokens, decodeMs, timeToFirstTokenMs].every(isNumber)) return undefined;
  if (!Array.isArray(msPerToken) || !msPerToken.every(isNumber)) return undefined;
  return { prefillTokens, prefillMs, decodeTokens, decodeMs, timeToFirstTokenMs, msPerToken } as ReplyStats;
}

