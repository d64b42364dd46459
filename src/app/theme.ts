// Light, dark, or the system's choice: kept in localStorage and set on <html> before the app
// renders (themeBoot.ts, loaded first by index.html), so a reload never flashes the other theme.

import { useEffect, useState } from 'react';

export type Theme = 'system' | 'light' | 'dark';

const THEME_KEY = 'endless-chat:theme';
const ORDER: Theme[] = ['system', 'light', 'dark'];

function stored(): Theme {
  const value = localStorage.getItem(THEME_KEY);
  return value === 'light' || value === 'dark' ? value : 'system';
}

/** Sets the saved theme on <html>; storage that cannot be read leaves the system's choice. */
export function applySavedTheme(): void {
  try {
    const theme = stored();
    if (theme !== 'system') document.documentElement.dataset.theme = theme;
  } catch {
    // Storage blocked (some privacy settings): the system's theme it is.
  }
}

export function useTheme(): [Theme, () => void] {
  const [theme, setTheme] = useState<Theme>(stored);
  useEffect(() => {
    const root = document.documentElement;
    if (theme === 'system') {
      delete root.dataset.theme;
      localStorage.removeItem(THEME_KEY);
    } else {
      root.dataset.theme = theme;
      localStorage.setItem(THEME_KEY, theme);
    }
  }, [theme]);
  return [theme, () => setTheme((t) => ORDER[(ORDER.indexOf(t) + 1) % ORDER.length])];
}
