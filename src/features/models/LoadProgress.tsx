// What loading a model is doing, in plain words: downloading from the hub (bytes, rate and time left
// overall, a bar per file, what an earlier attempt left, whether the browser keeps the files;
// cancellable), then reading, converting and preparing it on the GPU, with the seconds it has taken.

import './models.css';
import { useEffect, useState } from 'react';
import type { DownloadProgress } from '../../models/index.ts';
import { formatBytes } from '../../protocol/format.ts';
import type { LoadPhase } from '../../protocol/messages.ts';

/** 'download' is the hub into the model cache, with its full progress (null until the file list is read); then the engine reads, converts, compiles. */
export type LoadStage =
  | { phase: 'download'; progress: DownloadProgress | null }
  | { phase: LoadPhase; done: number; total: number };

const PHASES: Record<LoadStage['phase'], string> = {
  download: 'Downloading from the Hugging Face hub (once: it is kept in this browser)',
  fetch: 'Reading the model files',
  convert: 'Converting the model for this app',
  compile: 'Preparing the model on your GPU',
};

/** What each step is for, where it takes long enough to wonder. */
const WHY: Partial<Record<LoadStage['phase'], string>> = {
  compile: 'It sets up everything a reply runs on your GPU, once per load, so that replies start at once. This can take a few seconds.',
};

/** Seconds since the phase began, ticking: a long step shows that it is still at work. */
function useSeconds(phase: string): number {
  const [seconds, setSeconds] = useState(0);
  useEffect(() => {
    setSeconds(0);
    const started = performance.now();
    const timer = setInterval(() => setSeconds(Math.floor((performance.now() - started) / 1000)), 1000);
    return () => clearInterval(timer);
  }, [phase]);
  return seconds;
}

function timeLeft(seconds: number): string {
  if (seconds < 1) return 'finishing';
  if (seconds < 60) return `about ${Math.ceil(seconds)} s left`;
  if (seconds < 3600) return `about ${Math.round(seconds / 60)} min left`;
  return `about ${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min left`;
}

/** "840 KiB of 1.4 MiB · 96 KiB/s · about 6 s left"; the rate needs a first measured interval. */
function overallLine(p: DownloadProgress): string {
  const bytes = `${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}`;
  if (p.bytesDone >= p.bytesTotal) return bytes;
  if (p.bytesPerSecond === null || p.secondsLeft === null) return `${bytes} · measuring the speed…`;
  return `${bytes} · ${formatBytes(p.bytesPerSecond)}/s · ${timeLeft(p.secondsLeft)}`;
}

function Download({ label, progress, onCancel }: { label: string; progress: DownloadProgress | null; onCancel(): void }) {
  return (
    <>
      {progress ? (
        <>
          <p data-testid="download-overall">{overallLine(progress)}</p>
          <progress aria-label={`Downloading ${label}`} max={progress.bytesTotal} value={progress.bytesDone} />
          {progress.bytesResumed > 0 && (
            <p className="small" data-testid="download-resumed">
              Resumed: {formatBytes(progress.bytesResumed)} kept from an earlier attempt, so only the rest is downloaded.
            </p>
          )}
          {!progress.persisted && (
            <p className="small warn-text" data-testid="download-not-persisted">
              This browser did not promise to keep the files: under storage pressure it may delete them, and the model then downloads again.
            </p>
          )}
          <ul className="download-files">
            {progress.files.map((file) => (
              <li key={file.path} data-testid="download-file" data-state={file.state}>
                <span className="download-file-path">{file.path}</span>
                <span className="muted">
                  {file.state} · {formatBytes(file.bytesDone)} of {formatBytes(file.bytesTotal)}
                </span>
                <progress aria-label={file.path} max={file.bytesTotal} value={file.bytesDone} />
              </li>
            ))}
          </ul>
        </>
      ) : (
        <>
          <p>Reading the repository's file list…</p>
          <progress aria-label={`Downloading ${label}`} />
        </>
      )}
      <button type="button" onClick={onCancel}>
        Cancel download
      </button>
    </>
  );
}

export function LoadProgress({ label, stage, onCancel, background = false }: { label: string; stage: LoadStage; onCancel(): void; background?: boolean }) {
  const seconds = useSeconds(stage.phase);
  const why = WHY[stage.phase];
  return (
    <section className="load-progress card">
      <h2>{background ? `Downloading ${label}` : `Loading ${label}`}</h2>
      {background && <p className="small">The model loaded now keeps answering; {label} takes its place once its files are all here.</p>}
      {/* Only the phase is announced: the byte counts change ten times a second. */}
      <p aria-live="polite">
        {PHASES[stage.phase]}
        {stage.phase === 'download' ? '' : '…'}
        {stage.phase !== 'download' && seconds >= 2 && <span className="muted"> {seconds} s</span>}
      </p>
      {why && <p className="small muted">{why}</p>}
      {stage.phase === 'download' ? (
        <Download label={label} progress={stage.progress} onCancel={onCancel} />
      ) : stage.phase === 'fetch' && stage.total > 0 ? (
        <>
          <p>
            {formatBytes(stage.done)} of {formatBytes(stage.total)}
          </p>
          <progress aria-label={`Loading ${label}`} max={stage.total} value={stage.done} />
        </>
      ) : (
        <progress aria-label={`Loading ${label}`} />
      )}
    </section>
  );
}
