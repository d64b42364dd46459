// The last line of defence: a render error shows a screen with a way out instead of a blank page.

import { Component, type ErrorInfo, type ReactNode } from 'react';
import { toEngineError } from '../protocol/errors.ts';

interface State {
  error: Error | null;
}

export class ErrorBoundary extends Component<{ children: ReactNode }, State> {
  state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error(error, info.componentStack);
  }

  render() {
    if (!this.state.error) return this.props.children;
    return (
      <main className="screen" role="alert">
        <div className="card screen-card">
          <h1>Something went wrong</h1>
          <p>{toEngineError(this.state.error, 'drawing the page').message}</p>
          <p>Your conversations are saved in this browser; reloading brings them back.</p>
          <button type="button" className="primary" onClick={() => location.reload()}>
            Reload
          </button>
        </div>
      </main>
    );
  }
}
