// How the app writes sizes and counts in every sentence it shows, the engine's errors included:
// bytes in binary units (KiB, MiB, GiB), as the GPU limits and the cache are sized.

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export const formatCount = (n: number): string => n.toLocaleString('en-US');
