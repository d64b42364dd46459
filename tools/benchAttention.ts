// Decode attention benchmark: per-layer decode time against window size for the split
// (flash-decoding) kernel and the naive one-workgroup kernel, measured in one run in headless
// Chromium. On SwiftShader both run on the CPU, so only the ratio means anything.
//
//   npm run bench:attention -- [--heads 32] [--kv-heads 8] [--head-dim 128] [--sinks 4]
//                              [--windows 256,512,...] [--iterations 5] [--hardware-gpu]

import { parseArgs } from 'node:util';
import { openPage } from '../lab/browser.ts';
import type { BenchSpec } from '../lab/attention/attentionLab.ts';

const { values } = parseArgs({
  options: {
    heads: { type: 'string', default: '32' },
    'kv-heads': { type: 'string', default: '8' },
    'head-dim': { type: 'string', default: '128' },
    sinks: { type: 'string', default: '4' },
    windows: { type: 'string', default: '256,512,1024,2048,4096,8192' },
    iterations: { type: 'string', default: '5' },
    'hardware-gpu': { type: 'boolean', default: false },
  },
});

const spec: BenchSpec = {
  nHeads: Number(values.heads),
  nKvHeads: Number(values['kv-heads']),
  headDim: Number(values['head-dim']),
  nSinks: Number(values.sinks),
  windows: values.windows.split(',').map(Number),
  iterations: Number(values.iterations),
};

const browser = await openPage('lab/attention/index.html', { hardwareGpu: values['hardware-gpu'] });
try {
  await browser.page.waitForFunction(() => window.attentionLab !== undefined, null, { timeout: 60_000 });
  const adapter = await browser.page.evaluate(() => window.attentionLab!.adapter());
  console.log(`adapter: ${[adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' / ')}`);
  console.log(`shape: ${spec.nHeads} heads, ${spec.nKvHeads} KV heads, head dim ${spec.headDim}, ${spec.nSinks} sinks, f32, median of ${spec.iterations}`);
  const rows = await browser.page.evaluate((s) => window.attentionLab!.benchDecode(s), spec);
  console.log('window | split ms/layer | naive ms/layer | speed-up | rel. L2 split vs naive');
  for (const r of rows) {
    console.log(`${String(r.window).padStart(6)} | ${r.splitMs.toFixed(3).padStart(14)} | ${r.naiveMs.toFixed(3).padStart(14)} | ${r.speedup.toFixed(1).padStart(7)}x | ${r.agreement.toExponential(1)}`);
  }
  console.log(JSON.stringify({ adapter, spec, rows }));
} finally {
  await browser.close();
}
