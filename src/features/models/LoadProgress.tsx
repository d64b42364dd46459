// What loading a model is doing: downloading and reading (with bytes), converting, compiling for the GPU.

import type { LoadPhase } from '../../app/engineSession.ts';
import { formatBytes } from '../memory/windowMath.ts';

const PHASES: Record<LoadPhase, string> = {
  download: 'Downloading from the Hugging Face hub (once: it is kept in this browser)',
  fetch: 'Reading the model files',
  convert: 'Converting the checkpoint',
  compile: 'Preparing the model on your GPU',
};

export function LoadProgress({ label, phase, done, total }: { label: string; phase: LoadPhase; done: number; total: number }) {
  const known = (phase === 'download' || phase === 'fetch') && total > 0;
  return (
    <section className="load-progress card" aria-live="polite">
      <h2>Loading {label}</h2>
      <p>
        {PHASES[phase]}
        {known ? `: ${formatBytes(done)} of ${formatBytes(total)}` : '…'}
      </p>
      <progress aria-label={`Loading ${label}`} max={known ? total : undefined} value={known ? done : undefined} />
    </section>
  );
}
