// Below the conversation: the composer, and above it what the engine is doing (a model loading or
// downloading), or in its place the screen for where the engine stands (running in another tab,
// taken over, device lost). The composer keeps its place in the tree while a model loads, so what
// is typed then stays. The model picker is not here: it opens beside the conversation (ChatApp),
// so the conversation stays readable while choosing.

import type { ReactNode } from 'react';
import { LoadProgress } from '../features/models/LoadProgress.tsx';
import type { BackgroundDownload, EngineConnection, EngineStatus } from '../features/session/engineConnection.ts';

interface Props {
  status: EngineStatus;
  download: BackgroundDownload | null;
  session: EngineConnection;
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

/** What sits above the composer: a load or a download under way. */
function Progress({ status, download, session }: Omit<Props, 'composer'>) {
  if (status.kind === 'loading') return <LoadProgress label={status.label} stage={status.stage} onCancel={() => session.cancelDownload()} />;
  if (download) return <LoadProgress label={download.label} stage={{ phase: 'download', progress: download.progress }} onCancel={() => session.cancelDownload()} background />;
  return null;
}

export function EngineDock({ status, download, session, composer }: Props) {
  switch (status.kind) {
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
    case 'locking':
    case 'loading':
    case 'idle':
    case 'ready':
      return (
        <>
          <Progress status={status} download={download} session={session} />
          {composer}
        </>
      );
  }
}
