// Settings per model in localStorage (small, read before anything else renders), plus each
// model's KV bytes per token once it has been loaded, which the memory-budget window needs.

import type { ChatSettings } from './settings.ts';

const settingsKey = (modelKey: string) => `endless-chat:settings:${modelKey}`;
const bytesKey = (modelKey: string) => `endless-chat:bytes-per-token:${modelKey}`;

function read(key: string): unknown {
  try {
    return JSON.parse(localStorage.getItem(key) ?? 'null');
  } catch {
    return null;
  }
}

export function loadSettings(modelKey: string, defaults: ChatSettings): ChatSettings {
  const saved = read(settingsKey(modelKey));
  return saved && typeof saved === 'object' ? { ...defaults, ...(saved as Partial<ChatSettings>) } : { ...defaults };
}

export function saveSettings(modelKey: string, settings: ChatSettings): void {
  localStorage.setItem(settingsKey(modelKey), JSON.stringify(settings));
}

export function loadBytesPerToken(modelKey: string): number | undefined {
  const value = read(bytesKey(modelKey));
  return typeof value === 'number' && value > 0 ? value : undefined;
}

export function saveBytesPerToken(modelKey: string, bytes: number): void {
  localStorage.setItem(bytesKey(modelKey), JSON.stringify(bytes));
}
