// Download progress as the UI shows it: bytes per file and overall, a smoothed rate and the time
// left, and whether the browser promised to keep the files.

export interface FileProgress {
  path: string;
  bytesDone: number;
  bytesTotal: number;
  state: 'queued' | 'downloading' | 'done';
}

export interface DownloadProgress {
  modelId: string;
  bytesDone: number;
  bytesTotal: number;
  /** Bytes kept from an earlier, interrupted attempt (part of bytesDone). */
  bytesResumed: number;
  /** Network bytes per second, smoothed; null until a first interval is measured. */
  bytesPerSecond: number | null;
  secondsLeft: number | null;
  /** Whether navigator.storage.persist() was granted: if not, the browser may evict the model under storage pressure. */
  persisted: boolean;
  files: FileProgress[];
}

/** Below this the rate of one interval is mostly timer and chunking noise. */
const MIN_INTERVAL_MS = 250;
/** Smoothing time constant: a stall shows within seconds, one slow chunk does not swing the estimate. */
const TAU_MS = 3000;

/** Exponentially weighted network rate; the weight follows elapsed time, since chunks arrive irregularly. */
export class RateMeter {
  private lastTime: number;
  private lastBytes = 0;
  private bytes = 0;
  private rate: number | null = null;

  constructor(now: number) {
    this.lastTime = now;
  }

  add(bytes: number, now: number): void {
    this.bytes += bytes;
    const dt = now - this.lastTime;
    if (dt < MIN_INTERVAL_MS) return;
    const instant = ((this.bytes - this.lastBytes) * 1000) / dt;
    this.rate = this.rate === null ? instant : this.rate + (1 - Math.exp(-dt / TAU_MS)) * (instant - this.rate);
    this.lastTime = now;
    this.lastBytes = this.bytes;
  }

  get bytesPerSecond(): number | null {
    return this.rate;
  }
}
