// The evaluation stream: stories sampled from stories260K itself (seeded, temperature 1, each from
// BOS until EOS), concatenated, so the model can read every part of it. Sampled with the float64
// CPU model of lab/reference, and cached in .cache/eval/. Stories are joined either by BOS, as
// llama2.c trains, or by a newline after a single BOS at the start, like the concatenated books of
// the paper, where only the stream's first token can serve as an attention sink.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from './browser.ts';
import { STORIES260K_CHECKPOINT } from './fixtures.ts';
import { readCheckpoint, ReferenceLlama } from './reference/llama.ts';
import { mulberry32 } from './random.ts';

const BOS = 1;
const EOS = 2;
const NEWLINE = 13; // byte-fallback token <0x0A>

export type StorySeparator = 'bos' | 'newline';


/** At least `tokens` ids: BOS story BOS story ..., or BOS story \n story ... (EOS never appears). */
export function storyStream(tokens: number, separator: StorySeparator = 'bos', seed = 20240101): number[] {
  const stories = sampledStories(tokens, seed);
  if (separator === 'bos') return stories;
  return stories.map((id, i) => (id === BOS && i > 0 ? NEWLINE : id));
}

function sampledStories(tokens: number, seed: number): number[] {
  const path = join(REPO_ROOT, '.cache/eval', `stories-${tokens}-${seed}.json`);
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as number[];
  const weights = readCheckpoint(new Uint8Array(readFileSync(STORIES260K_CHECKPOINT)));
  const rng = mulberry32(seed);
  const ids: number[] = [];
  while (ids.length < tokens) {
    const model = new ReferenceLlama(weights, { mode: 'dense', nSinks: 0, windowSize: 1 });
    let token = BOS;
    ids.push(token);
    for (let i = 0; i < 500; i++) {
      const logits = model.step(token);
      let max = -Infinity;
      for (const v of logits) max = Math.max(max, v);
      const weightsOf = Array.from(logits, (v) => Math.exp(v - max));
      let u = rng() * weightsOf.reduce((a, b) => a + b, 0);
      token = 0;
      while (token < weightsOf.length - 1 && (u -= weightsOf[token]) > 0) token++;
      if (token === EOS) break;
      ids.push(token);
    }
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(ids));
  return ids;
}
