// One engine per browser: a Web Lock that the tab running the engine holds until it closes.
// Another tab finds it taken (and can wait for it, or steal it); the tab it is stolen from is
// told, and must stop its engine.

const LOCK_NAME = 'endless-chat:engine';

/** 'if-available' answers false at once when another tab holds the lock; 'wait' queues until it
 *  is free (false if `signal` cancels the wait); 'steal' takes it from the other tab. */
export type LockMode = 'if-available' | 'wait' | 'steal';

/** Resolves true once this tab holds the lock; `onLost` runs if another tab steals it later. */
export function takeEngineLock(mode: LockMode, onLost: () => void, signal?: AbortSignal): Promise<boolean> {
  const locks = globalThis.navigator?.locks;
  // Without Web Locks (an insecure context) tabs cannot coordinate: each runs its own engine.
  if (!locks) return Promise.resolve(true);
  return new Promise((resolve, reject) => {
    let granted = false;
    const options: LockOptions = mode === 'steal' ? { steal: true } : mode === 'if-available' ? { ifAvailable: true } : { signal };
    locks
      .request(LOCK_NAME, options, (lock) => {
        if (!lock) return resolve(false);
        granted = true;
        resolve(true);
        // Held for as long as the page lives; the browser releases it when the tab closes.
        return new Promise<never>(() => {});
      })
      .catch((error: unknown) => {
        // A held lock's request rejects with AbortError when another tab steals it.
        if (granted) onLost();
        else if (signal?.aborted) resolve(false);
        else reject(error instanceof Error ? error : new Error(String(error)));
      });
  });
}
