// The benchmark's random-weight models at the catalog's shapes (lab/shapeModels.ts) and the
// deeper stories260K (lab/repeatLayers.ts): the engine's splitter reads back the catalog's
// shapes from the graphs, and a repeated checkpoint holds the original's layers in turn.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MODEL_CATALOG } from '../../../src/models/catalog.ts';
import { readLlama2cCheckpoint } from '../../../src/engine/model/llama2c.ts';
import { modelRotary } from '../../../src/engine/model/rotary.ts';
import { splitDecoder } from '../../../src/engine/model/split/splitDecoder.ts';
import { STORIES260K_CHECKPOINT } from '../../../lab/fixtures.ts';
import { repeatLayers } from '../../../lab/repeatLayers.ts';
import { CATALOG_SHAPES, NARROW_WIDTHS, shapeModelFiles } from '../../../lab/shapeModels.ts';

describe('shape models', () => {
  it('cover every ONNX chat model of the catalog', () => {
    expect(CATALOG_SHAPES.map((s) => s.id)).toEqual(MODEL_CATALOG.filter((e) => e.format === 'onnx').map((e) => e.id));
  });

  for (const shape of CATALOG_SHAPES) {
    it(`split into ${shape.label}'s layers and attention shape, with its RoPE base`, () => {
      const entry = MODEL_CATALOG.find((e) => e.id === shape.id)!;
      const files = shapeModelFiles({ ...shape, nLayers: 3 }, { ...NARROW_WIDTHS, positions: 300 });
      const split = splitDecoder(files.model, files.externalData);
      expect(split.sites).toHaveLength(3);
      for (const site of split.sites) {
        expect([site.nHeads, site.nKvHeads, site.headSize]).toEqual([shape.nHeads, entry.nKvHeads, entry.headDim]);
        expect(site.rotaryPairs).toBe(entry.headDim / 2);
      }
      expect(split.vocabSize).toBe(NARROW_WIDTHS.vocab);
      expect(modelRotary(files.config, split).theta).toBe(shape.ropeTheta);
      expect(shape.nHeads * shape.headDim).toBeGreaterThanOrEqual(entry.hiddenSize);
    });
  }

  it('are the same model for the same seed and another for another seed', () => {
    const shape = { ...CATALOG_SHAPES.find((s) => s.id === 'smollm2-135m-instruct')!, nLayers: 1 };
    const model = (seed: number) => Buffer.from(shapeModelFiles(shape, { ...NARROW_WIDTHS, positions: 16 }, seed).model);
    expect(model(5).equals(model(5))).toBe(true);
    expect(model(6).equals(model(5))).toBe(false);
  });
});

/** Float arrays compared as bytes: element-wise matchers take seconds on weight tensors. */
const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

describe('repeatLayers', () => {
  it("makes stories260K 12 layers deep, layer i holding the original's layer i mod 5", () => {
    const original = readLlama2cCheckpoint(readFileSync(STORIES260K_CHECKPOINT));
    const deeper = readLlama2cCheckpoint(repeatLayers(readFileSync(STORIES260K_CHECKPOINT), 12));
    expect(deeper.config).toEqual({ ...original.config, nLayers: 12 });
    for (const name of ['rmsAtt', 'wq', 'wk', 'wv', 'wo', 'rmsFfn', 'w1', 'w2', 'w3'] as const) {
      const per = original[name].length / 5;
      for (let layer = 0; layer < 12; layer++) {
        expect(bytes(deeper[name].subarray(layer * per, (layer + 1) * per)).equals(bytes(original[name].subarray((layer % 5) * per, (layer % 5 + 1) * per)))).toBe(true);
      }
    }
    for (const name of ['tokenEmbedding', 'rmsFinal', 'wcls'] as const) expect(bytes(deeper[name]).equals(bytes(original[name]))).toBe(true);
  });
});
