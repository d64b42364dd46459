// Which screen the app shows, from the URL's hash: the chat, or the Experiment view at
// #experiment (so it can be linked and survives a reload). Any other hash is the chat's own
// (the skip link's #message-box).

import { useSyncExternalStore } from 'react';

export type View = 'chat' | 'experiment';

const viewOf = (): View => (location.hash === '#experiment' ? 'experiment' : 'chat');

const subscribe = (listener: () => void) => {
  window.addEventListener('hashchange', listener);
  return () => window.removeEventListener('hashchange', listener);
};

export function useView(): View {
  return useSyncExternalStore(subscribe, viewOf);
}
