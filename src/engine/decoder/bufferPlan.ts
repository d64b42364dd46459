// Which GPU buffer each boundary tensor of a split decoder lives in. The forward pass is a fixed
// sequence of stages (segment 0, attention 0, segment 1, ..., segment L, logits readback); a
// buffer is reused by a later tensor of the same width once its last reader has run, and never
// by a tensor produced in the stage that still reads it.

import type { SplitGraph } from '../split/splitGraph.ts';

export interface BufferPlan {
  /** Buffer slot of every boundary tensor except input_ids. */
  slotOf: Map<string, number>;
  /** Width (last dim) of each slot; a slot holds [n, width] for the chunk's n. */
  slotWidths: number[];
}

const segmentStage = (i: number) => 2 * i;
const attentionStage = (i: number) => 2 * i + 1;

export function planBuffers(split: SplitGraph): BufferPlan {
  const produced = new Map<string, number>();
  const lastRead = new Map<string, number>();
  const width = new Map<string, number>();
  const read = (name: string, stage: number) => lastRead.set(name, Math.max(lastRead.get(name) ?? -1, stage));

  split.segments.forEach((segment, i) => {
    for (const t of segment.outputs) {
      produced.set(t.name, segmentStage(i));
      width.set(t.name, t.width);
    }
    for (const t of segment.inputs) if (t.dtype !== 'int64') read(t.name, segmentStage(i));
  });
  split.sites.forEach((site, i) => {
    for (const t of [site.q, site.k, site.v]) read(t, attentionStage(i));
    produced.set(site.out, attentionStage(i));
    width.set(site.out, site.nHeads * site.headSize);
  });
  const last = split.segments.length - 1;
  for (const t of split.segments[last].outputs) read(t.name, segmentStage(last) + 1); // logits readback

  const slotOf = new Map<string, number>();
  const slotWidths: number[] = [];
  const freeAfter: number[] = []; // stage after which each slot's current tensor is dead
  const byBirth = [...produced.entries()].sort((a, b) => a[1] - b[1]);
  for (const [name, birth] of byBirth) {
    const w = width.get(name)!;
    let slot = slotWidths.findIndex((sw, s) => sw === w && freeAfter[s] < birth);
    if (slot < 0) {
      slot = slotWidths.length;
      slotWidths.push(w);
    }
    slotOf.set(name, slot);
    freeAfter[slot] = lastRead.get(name) ?? birth;
  }
  return { slotOf, slotWidths };
}
