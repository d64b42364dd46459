// The service worker (vite-plugin-pwa): registered once, and a new version waits for the user's
// reload instead of swapping the app under a reply being written. Also Chrome's install prompt.

/// <reference types="vite-plugin-pwa/client" />

import { useEffect, useState, useSyncExternalStore } from 'react';
import { registerSW } from 'virtual:pwa-register';

let updateWaiting = false;
let applyUpdate: ((reload?: boolean) => Promise<void>) | null = null;
const listeners = new Set<() => void>();

export function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator)) return;
  applyUpdate = registerSW({
    immediate: true,
    onNeedRefresh() {
      updateWaiting = true;
      for (const listener of listeners) listener();
    },
  });
}

/** A function that reloads into the new version, once one is waiting. */
export function useWaitingUpdate(): (() => void) | null {
  const waiting = useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => updateWaiting,
  );
  return waiting && applyUpdate ? () => void applyUpdate?.(true) : null;
}

interface InstallPromptEvent extends Event {
  prompt(): Promise<void>;
}

/** Chrome's install prompt, when it offers one; null otherwise or once installed. */
export function useInstallPrompt(): (() => void) | null {
  const [event, setEvent] = useState<InstallPromptEvent | null>(null);
  useEffect(() => {
    const offered = (e: Event) => {
      e.preventDefault();
      setEvent(e as InstallPromptEvent);
    };
    const installed = () => setEvent(null);
    window.addEventListener('beforeinstallprompt', offered);
    window.addEventListener('appinstalled', installed);
    return () => {
      window.removeEventListener('beforeinstallprompt', offered);
      window.removeEventListener('appinstalled', installed);
    };
  }, []);
  return event
    ? () => {
        void event.prompt();
        setEvent(null);
      }
    : null;
}
