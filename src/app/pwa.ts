// The service worker (vite-plugin-pwa): registered once, and a new version waits for the user's
// reload instead of swapping the app under a reply being written. Also Chrome's install prompt.

/// <reference types="vite-plugin-pwa/client" />

import { useSyncExternalStore } from 'react';
import { registerSW } from 'virtual:pwa-register';
import { Listeners } from '../protocol/listeners.ts';

let updateWaiting = false;
let applyUpdate: ((reload?: boolean) => Promise<void>) | null = null;
const updateNews = new Listeners();

/** Registers the service worker and starts listening for the install prompt; called once at startup. */
export function setUpPwa(): void {
  listenForInstallPrompt();
  if (!('serviceWorker' in navigator)) return;
  applyUpdate = registerSW({
    immediate: true,
    onNeedRefresh() {
      updateWaiting = true;
      updateNews.emit();
    },
  });
}

/** A function that reloads into the new version, once one is waiting. */
export function useWaitingUpdate(): (() => void) | null {
  const waiting = useSyncExternalStore(updateNews.add, () => updateWaiting);
  return waiting && applyUpdate ? () => void applyUpdate?.(true) : null;
}

interface InstallPromptEvent extends Event {
  prompt(): Promise<void>;
}

let installPrompt: InstallPromptEvent | null = null;
const installNews = new Listeners();
const setInstallPrompt = (event: InstallPromptEvent | null) => {
  installPrompt = event;
  installNews.emit();
};

/** Chrome offers the install prompt once, possibly before React has mounted: keep it from the start. */
function listenForInstallPrompt(): void {
  window.addEventListener('beforeinstallprompt', (e) => {
    e.preventDefault();
    setInstallPrompt(e as InstallPromptEvent);
  });
  window.addEventListener('appinstalled', () => setInstallPrompt(null));
}

/** Shows Chrome's install prompt, when it offers one; null otherwise or once installed. */
export function useInstallPrompt(): (() => void) | null {
  const event = useSyncExternalStore(installNews.add, () => installPrompt);
  return event
    ? () => {
        void event.prompt();
        setInstallPrompt(null);
      }
    : null;
}
