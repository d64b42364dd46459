// One engine per browser: a Web Lock that the tab running the engine holds. Another tab finds it
// taken (and can wait for it, or steal it); the tab it is stolen from is told, and must stop.

const LOCK_NAME = 'endless-chat:engine';

export interface EngineLock {
  release(): void;
}

/** 'if-available' answers null at once when another tab holds the lock; 'wait' queues until it is
 *  free (null if `signal` cancels the wait); 'steal' takes it from the other tab. */
export type LockMode = 'if-available' | 'wait' | 'steal';

export function takeEngineLock(mode: LockMode, onLost: () => void, signal?: AbortSignal): Promise<EngineLock | null> {
  const locks = globalThis.navigator?.locks;
  // Without Web Locks (an insecure context) tabs cannot coordinate: each runs its own engine.
  if (!locks) return Promise.resolve({ release() {} });
  return new Promise((resolve, reject) => {
    let granted = false;
    let release = () => {};
    const held = new Promise<void>((done) => (release = done));
    const options: LockOptions = mode === 'steal' ? { steal: true } : mode === 'if-available' ? { ifAvailable: true } : { signal };
    locks
      .request(LOCK_NAME, options, async (lock) => {
        if (!lock) return resolve(null);
        granted = true;
        resolve({ release });
        await held;
      })
      .catch((error: unknown) => {
        // A held lock's request rejects with AbortError when another tab steals it.
        if (granted) onLost();
        else if (signal?.aborted) resolve(null);
        else reject(error instanceof Error ? error : new Error(String(error)));
      });
  });
}
