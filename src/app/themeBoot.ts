// Runs first, from index.html's head: puts the saved theme on <html> before the app renders.
// A module file rather than an inline script, which the Content-Security-Policy refuses.

import { applySavedTheme } from './theme.ts';

applySavedTheme();
