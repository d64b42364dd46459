// The top bar: the app's name, the model switcher (which model is loaded; it opens the model list),
// and the buttons for the panels, the experiment, settings, theme and installing the app.

import type { EngineStatus } from '../features/session/engineConnection.ts';
import { Icon } from '../ui/icons.tsx';
import type { Theme } from './theme.ts';
import type { View } from './view.ts';

interface Props {
  status: EngineStatus;
  /** This browser cannot run a model (no WebGPU). */
  noGpu?: boolean;
  /** Opens (or closes) the model list, to switch or unload the model. */
  onModels(): void;
  view: View;
  theme: Theme;
  onTheme(): void;
  onSettings(): void;
  onConversations(): void;
  onMemory(): void;
  install: (() => void) | null;
}

function modelSummary(status: EngineStatus): string {
  switch (status.kind) {
    case 'ready':
      return `${status.model.choice.label} · ready`;
    case 'loading':
      return `Loading ${status.label}…`;
    case 'elsewhere':
      return 'Running in another tab';
    case 'taken-over':
      return 'Taken over by another tab';
    case 'lost':
      return 'Engine stopped';
    default:
      return 'No model loaded';
  }
}

const THEME_NAMES: Record<Theme, string> = { system: 'system', light: 'light', dark: 'dark' };

export function Header({ status, noGpu = false, onModels, view, theme, onTheme, onSettings, onConversations, onMemory, install }: Props) {
  return (
    <header className="top-bar">
      <button type="button" className="icon-button menu-toggle" onClick={onConversations} aria-label="Conversations">
        <Icon name="menu" />
      </button>
      <h1 className="app-name">Endless Chat</h1>
      <button
        type="button"
        className={`model-status status-${status.kind}`}
        data-testid="model-status"
        onClick={onModels}
        disabled={status.kind !== 'ready'}
        title="Switch or unload the model"
        aria-haspopup="true"
      >
        <span className="model-name">{noGpu ? 'No model can run here' : modelSummary(status)}</span>
        {status.kind === 'ready' && <Icon name="chevron" />}
      </button>
      <span className="spacer" />
      {install && (
        <button type="button" onClick={install}>
          <Icon name="install" /> Install
        </button>
      )}
      <a className="header-link" href={view === 'experiment' ? '#' : '#experiment'} aria-current={view === 'experiment' ? 'page' : undefined} title="The StreamingLLM experiment on this model">
        <Icon name="chart" /> <span className="header-link-text">{view === 'experiment' ? 'Back to the chat' : 'Experiment'}</span>
      </a>
      <button type="button" className="icon-button memory-toggle" onClick={onMemory} aria-label="Memory">
        <Icon name="memory" />
      </button>
      <button type="button" className="icon-button" onClick={onSettings} aria-label="Settings" title="Settings">
        <Icon name="settings" />
      </button>
      <button type="button" className="icon-button" onClick={onTheme} aria-label={`Theme: ${THEME_NAMES[theme]} (change)`} title={`Theme: ${THEME_NAMES[theme]}`}>
        <Icon name="theme" />
      </button>
    </header>
  );
}
