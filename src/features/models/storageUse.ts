// How much of the browser's storage the kept models take together, and what the browser allows this
// site, in one sentence for the "Kept in this browser" list.

import { formatBytes } from '../../protocol/format.ts';

/** What navigator.storage.estimate() answers; either number may be missing. */
export interface StorageEstimate {
  usage?: number;
  quota?: number;
}

/** Null when nothing is kept. The estimate covers the whole site (conversations too) and is rounded by the browser. */
export function storageLine(keptBytes: number[], estimate: StorageEstimate | null): string | null {
  if (keptBytes.length === 0) return null;
  const total = keptBytes.reduce((sum, bytes) => sum + bytes, 0);
  const models = keptBytes.length === 1 ? 'This model takes' : `These ${keptBytes.length} models take`;
  const allowed =
    estimate?.quota && estimate.usage !== undefined
      ? ` This browser lets Endless Chat keep about ${formatBytes(estimate.quota)}; ${formatBytes(estimate.usage)} is used now, conversations included.`
      : '';
  return `${models} ${formatBytes(total)} in all.${allowed}`;
}

/** The browser's estimate, or null where it gives none. */
export async function storageEstimate(): Promise<StorageEstimate | null> {
  try {
    return (await navigator.storage?.estimate?.()) ?? null;
  } catch {
    return null;
  }
}
