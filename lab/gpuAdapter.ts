// The WebGPU adapter in words, for the reports of the benchmark and the soak. Self-contained, so a
// page can evaluate it as it is.

export async function adapterName(): Promise<string> {
  const a = await navigator.gpu?.requestAdapter();
  return a ? [a.info.vendor, a.info.architecture, a.info.description].filter(Boolean).join(' ') : 'none';
}
