// Below the conversation: the composer, or the screen for where the engine stands (starting,
// running in another tab, taken over, loading, device lost). The model picker is not here: it
// opens beside the conversation (ChatApp), so the conversation stays readable while choosing.

import type { ReactNode } from 'react';
import { LoadProgress } from '../features/models/LoadProgress.tsx';
import type { EngineSession, EngineStatus } from '../features/session/engineSession.ts';

interface Props {
  status: EngineStatus;
  session: EngineSession;
  composer: ReactNode;
}

function Notice({ title, children, action }: { title: string; children: ReactNode; action?: ReactNode }) {
  return (
    <section className="card notice" role="status">
      <h2>{title}</h2>
      {children}
      {action}
    </section>
  );
}

export function EngineDock({ status, session, composer }: Props) {
  switch (status.kind) {
    case 'locking':
      return <Notice title="Starting the engine…">{null}</Notice>;
    case 'elsewhere':
      return (
        <Notice
          title="The model is running in another tab"
          action={
            <button type="button" className="primary" onClick={() => session.takeOver()}>
              Use it here
            </button>
          }
        >
          <p>Only one tab of this browser runs the model, so it is not loaded twice onto your GPU. Close the other tab, or take the model over: the other tab then stops.</p>
        </Notice>
      );
    case 'taken-over':
      return (
        <Notice
          title="Another tab took over the model"
          action={
            <button type="button" className="primary" onClick={() => session.takeOver()}>
              Take it back
            </button>
          }
        >
          <p>This tab stopped its engine. Your conversations are saved; take the model back to go on here.</p>
        </Notice>
      );
    case 'loading':
      return <LoadProgress label={status.label} stage={status.stage} onCancel={() => session.cancelDownload()} />;
    case 'lost':
      return (
        <Notice
          title="The engine stopped"
          action={
            <button type="button" className="primary" onClick={() => void session.restart()}>
              Reload the model
            </button>
          }
        >
          <p>{status.error.message}</p>
          <p>Reloading starts the engine again; the next reply restores this conversation's cache from its snapshot or rebuilds it from the transcript.</p>
        </Notice>
      );
    case 'idle':
    case 'ready':
      return composer;
  }
}
