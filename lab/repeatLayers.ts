// A llama2.c checkpoint made deeper by repeating its layers (layer i is the checkpoint's layer
// i mod nLayers), so that the benchmark can count the work of a token of stories260K at a real
// model's depth, say Qwen2.5-0.5B's 24 layers. The result is a legacy checkpoint like the input.

import { headDimOf, readLlama2cCheckpoint } from '../src/engine/model/llama2c.ts';

export function repeatLayers(checkpoint: Uint8Array, nLayers: number): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(nLayers) || nLayers < 1) throw new Error(`a checkpoint needs a whole number of layers, not ${nLayers}`);
  const w = readLlama2cCheckpoint(checkpoint);
  const { config } = w;
  const from = config.nLayers;
  /** A (from, ...) tensor as (nLayers, ...), layer i copied from layer i mod from. */
  const deeper = (t: Float32Array) => {
    const per = t.length / from;
    const out = new Float32Array(nLayers * per);
    for (let layer = 0; layer < nLayers; layer++) out.set(t.subarray((layer % from) * per, (layer % from + 1) * per), layer * per);
    return out;
  };
  const ropeTables = new Float32Array(2 * config.seqLen * (headDimOf(config) / 2));
  const tensors = [
    w.tokenEmbedding,
    ...[w.rmsAtt, w.wq, w.wk, w.wv, w.wo, w.rmsFfn, w.w1, w.w2, w.w3].map(deeper),
    w.rmsFinal,
    ropeTables,
    ...(config.sharedClassifier ? [] : [w.wcls]),
  ];
  const header = [config.dim, config.hiddenDim, nLayers, config.nHeads, config.nKvHeads, config.sharedClassifier ? config.vocabSize : -config.vocabSize, config.seqLen];
  const out = new Uint8Array(4 * (header.length + tensors.reduce((n, t) => n + t.length, 0)));
  const view = new DataView(out.buffer);
  header.forEach((v, i) => view.setInt32(4 * i, v, true));
  let offset = 4 * header.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength), offset);
    offset += t.byteLength;
  }
  return out;
}
