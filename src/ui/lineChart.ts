// A small dependency-free SVG line chart, as a string: the app's Experiment view shows it (as an
// image, so nothing in it can run) and exports it, and `npm run eval` writes the charts committed
// in eval/results/ with it.

export interface Series {
  label: string;
  points: [number, number][];
  color: string;
}

/** A vertical line at x with its label, for positions that explain a curve (a cache size, a trained length). */
export interface Marker {
  x: number;
  label: string;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Log scale on y, for perplexities that explode. */
  logY?: boolean;
  /** The x axis spans at least this range, so a chart drawn as data arrives keeps its axis. */
  xRange?: [number, number];
  markers?: Marker[];
  width?: number;
  height?: number;
}

/** Colours distinct enough for the lines of one chart, in order. */
export const CHART_COLORS = ['#1d4ed8', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function lineChart(series: Series[], options: ChartOptions): string {
  const width = options.width ?? 760;
  const height = options.height ?? 420;
  const m = { left: 70, right: 180, top: 40, bottom: 50 };
  const all = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y) && (!options.logY || y > 0));
  const xs = [...all.map(([x]) => x), ...(options.xRange ?? [])];
  const ys = all.map(([, y]) => (options.logY ? Math.log10(y) : y));
  let [x0, x1] = xs.length > 0 ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  if (options.xRange) [x0, x1] = [Math.min(x0, options.xRange[0]), Math.max(x1, options.xRange[1])];
  // With nothing to draw yet, perplexity 1 to 10 (log) or 0 to 1.
  let [y0, y1] = ys.length > 0 ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (options.logY) [y0, y1] = [Math.floor(y0), Math.max(Math.ceil(y1), Math.floor(y0) + 1)];
  else [y0, y1] = [Math.min(0, y0), y1 * 1.05];
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0 || 1)) * (width - m.left - m.right);
  const py = (y: number) => height - m.bottom - (((options.logY ? Math.log10(y) : y) - y0) / (y1 - y0 || 1)) * (height - m.top - m.bottom);

  const yTicks = options.logY
    ? Array.from({ length: y1 - y0 + 1 }, (_, i) => 10 ** (y0 + i))
    : Array.from({ length: 6 }, (_, i) => y0 + ((y1 - y0) * i) / 5);
  const xTicks = Array.from({ length: 6 }, (_, i) => x0 + ((x1 - x0) * i) / 5);
  const fmt = (v: number) => (Math.abs(v) >= 1000 ? `${Math.round(v / 100) / 10}k` : `${Math.round(v * 100) / 100}`);

  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2 - m.right / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escape(options.title)}</text>`,
    ...yTicks.map((v) => `<line x1="${m.left}" x2="${width - m.right}" y1="${py(v)}" y2="${py(v)}" stroke="#ddd"/><text x="${m.left - 6}" y="${py(v) + 4}" text-anchor="end">${fmt(v)}</text>`),
    ...xTicks.map((v) => `<text x="${px(v)}" y="${height - m.bottom + 18}" text-anchor="middle">${fmt(v)}</text>`),
    `<text x="${(m.left + width - m.right) / 2}" y="${height - 12}" text-anchor="middle">${escape(options.xLabel)}</text>`,
    `<text transform="translate(18 ${(m.top + height - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${escape(options.yLabel)}</text>`,
    `<rect x="${m.left}" y="${m.top}" width="${width - m.left - m.right}" height="${height - m.top - m.bottom}" fill="none" stroke="#888"/>`,
  ];
  for (const [i, marker] of (options.markers ?? []).filter((k) => k.x >= x0 && k.x <= x1).entries()) {
    const x = px(marker.x).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.top}" y2="${height - m.bottom}" stroke="#555" stroke-dasharray="4 4"/>`);
    parts.push(`<text x="${Number(x) + 4}" y="${m.top + 14 + i * 14}" fill="#555">${escape(marker.label)}</text>`);
  }
  series.forEach((s, i) => {
    const pts = s.points.filter(([, y]) => Number.isFinite(y) && (!options.logY || y > 0));
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
    const ly = m.top + 16 + i * 20;
    parts.push(`<line x1="${width - m.right + 12}" x2="${width - m.right + 36}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="3"/>`);
    parts.push(`<text x="${width - m.right + 42}" y="${ly + 4}">${escape(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
