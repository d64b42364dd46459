// The WebGPU work a page issues, as counts (lab/harness/gpuCounts.ts takes them by wrapping the
// prototypes): the arithmetic on them and the tables the benchmark reports. Counts are the same on
// every machine, so unlike times they compare across runs and runtimes.

/** WebGPU calls and bytes, summed over some stretch of work. */
export interface WorkCounts {
  /** GPUQueue.submit */
  submits: number;
  /** dispatchWorkgroups and dispatchWorkgroupsIndirect */
  dispatches: number;
  /** GPUDevice.createBindGroup */
  bindGroups: number;
  /** GPUQueue.writeBuffer, and the bytes they wrote */
  writeBuffers: number;
  writeBytes: number;
  /** GPUDevice.createBuffer */
  buffers: number;
  /** GPUDevice.createCommandEncoder */
  encoders: number;
  /** GPUBuffer.mapAsync for reading, and the bytes those maps expose */
  mapAsyncs: number;
  readBytes: number;
}

/** Who issued the calls: our code, or onnxruntime inside one of its session runs. */
export interface OwnedCounts {
  ours: WorkCounts;
  onnxruntime: WorkCounts;
}

export const COUNT_FIELDS = ['submits', 'dispatches', 'bindGroups', 'writeBuffers', 'writeBytes', 'buffers', 'encoders', 'mapAsyncs', 'readBytes'] as const satisfies readonly (keyof WorkCounts)[];

/** Column headings of the counts tables, in COUNT_FIELDS order. */
export const COUNT_HEADINGS = ['queue submits', 'dispatches', 'bind groups created', 'writeBuffer', 'bytes written', 'buffers created', 'command encoders', 'mapAsync', 'bytes read back'];

export function zeroCounts(): WorkCounts {
  return { submits: 0, dispatches: 0, bindGroups: 0, writeBuffers: 0, writeBytes: 0, buffers: 0, encoders: 0, mapAsyncs: 0, readBytes: 0 };
}

function combine(a: WorkCounts, b: WorkCounts, f: (x: number, y: number) => number): WorkCounts {
  const out = zeroCounts();
  for (const k of COUNT_FIELDS) out[k] = f(a[k], b[k]);
  return out;
}

export const addCounts = (a: WorkCounts, b: WorkCounts): WorkCounts => combine(a, b, (x, y) => x + y);

export const zeroOwned = (): OwnedCounts => ({ ours: zeroCounts(), onnxruntime: zeroCounts() });

export const addOwned = (a: OwnedCounts, b: OwnedCounts): OwnedCounts => ({ ours: addCounts(a.ours, b.ours), onnxruntime: addCounts(a.onnxruntime, b.onnxruntime) });

/** The work done between two readings of the counters. */
export function countsBetween(before: OwnedCounts, after: OwnedCounts): OwnedCounts {
  return { ours: combine(after.ours, before.ours, (x, y) => x - y), onnxruntime: combine(after.onnxruntime, before.onnxruntime, (x, y) => x - y) };
}

/** Counts divided by the tokens they were spent on. */
export function perToken(counts: OwnedCounts, tokens: number): OwnedCounts {
  if (!(tokens > 0)) throw new Error(`counts per token need at least one token, got ${tokens}`);
  const scale = (c: WorkCounts) => combine(c, c, (x) => x / tokens);
  return { ours: scale(counts.ours), onnxruntime: scale(counts.onnxruntime) };
}

export const totalCounts = (c: OwnedCounts): WorkCounts => addCounts(c.ours, c.onnxruntime);

/** A count as the tables print it: whole numbers with thousands separators, fractions to three
 *  significant digits (a count per prompt token can be a small fraction), at most one decimal. */
export function formatCount(x: number): string {
  if (Number.isInteger(x)) return x.toLocaleString('en-US');
  return Math.abs(x) < 100 ? String(Number(x.toPrecision(3))) : x.toLocaleString('en-US', { maximumFractionDigits: 1 });
}

export interface CountsRow {
  label: string;
  counts: WorkCounts;
}

/** A Markdown table, one row per entry, one column per count. */
export function countsTable(rows: CountsRow[], firstHeading = 'what'): string[] {
  return [
    `| ${firstHeading} | ${COUNT_HEADINGS.join(' | ')} |`,
    `|---|${COUNT_HEADINGS.map(() => '---').join('|')}|`,
    ...rows.map(({ label, counts }) => `| ${label} | ${COUNT_FIELDS.map((k) => formatCount(counts[k])).join(' | ')} |`),
  ];
}

/** The three rows of one run of the engine: our code, onnxruntime's runs inside it, and both. */
export function ownedRows(label: string, counts: OwnedCounts): CountsRow[] {
  return [
    { label: `${label}: all`, counts: totalCounts(counts) },
    { label: `${label}: our code`, counts: counts.ours },
    { label: `${label}: onnxruntime's runs`, counts: counts.onnxruntime },
  ];
}
