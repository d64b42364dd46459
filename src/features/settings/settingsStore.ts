// Settings per model in localStorage (small, read before anything else renders), plus each
// model's K and V elements per token once it has been loaded, which the memory-budget window needs,
// and the system prompt new conversations start with (one for all models).
// Settings saved before a field existed load with that field's default.

import type { ChatSettings } from './settings.ts';

const settingsKey = (modelKey: string) => `endless-chat:settings:${modelKey}`;
const elementsKey = (modelKey: string) => `endless-chat:kv-elements-per-token:${modelKey}`;
/** Written before the cache had a choice of dtype: bytes per token of the f32 cache. */
const f32BytesKey = (modelKey: string) => `endless-chat:bytes-per-token:${modelKey}`;

function read(key: string): unknown {
  try {
    return JSON.parse(localStorage.getItem(key) ?? 'null');
  } catch {
    return null;
  }
}

const positive = (value: unknown): value is number => typeof value === 'number' && value > 0;

export function loadSettings(modelKey: string, defaults: ChatSettings): ChatSettings {
  const saved = read(settingsKey(modelKey));
  return saved && typeof saved === 'object' ? { ...defaults, ...(saved as Partial<ChatSettings>) } : { ...defaults };
}

export function saveSettings(modelKey: string, settings: ChatSettings): void {
  localStorage.setItem(settingsKey(modelKey), JSON.stringify(settings));
}

/** K and V elements of one token over every layer, whatever the cache's dtype. */
export function loadElementsPerToken(modelKey: string): number | undefined {
  const elements = read(elementsKey(modelKey));
  if (positive(elements)) return elements;
  const f32Bytes = read(f32BytesKey(modelKey));
  return positive(f32Bytes) ? f32Bytes / 4 : undefined;
}

export function saveElementsPerToken(modelKey: string, elements: number): void {
  localStorage.setItem(elementsKey(modelKey), JSON.stringify(elements));
}

const DEFAULT_PROMPT_KEY = 'endless-chat:default-system-prompt';

export function loadDefaultSystemPrompt(): string {
  try {
    return localStorage.getItem(DEFAULT_PROMPT_KEY) ?? '';
  } catch {
    return '';
  }
}

export function saveDefaultSystemPrompt(text: string): void {
  localStorage.setItem(DEFAULT_PROMPT_KEY, text);
}
