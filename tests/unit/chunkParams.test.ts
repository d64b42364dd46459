import { describe, expect, it } from 'vitest';
import { CHUNK_PARAMS_BYTES, CHUNK_PARAMS_WGSL, packChunkParams } from '../../src/engine/kernels/chunkParams.ts';
import { EngineError } from '../../src/protocol/errors.ts';

describe('ChunkParams', () => {
  it('packs fields in the order and types of the generated WGSL struct', () => {
    const fields = [...CHUNK_PARAMS_WGSL.matchAll(/^\s+(\w+): (u32|f32),$/gm)].map((m) => [m[1], m[2]]);
    expect(fields.length * 4).toBe(CHUNK_PARAMS_BYTES);
    expect(CHUNK_PARAMS_BYTES % 16).toBe(0);
    const values = { t0: 123456789, nNew: 7, nSinks: 4, windowSize: 4096, ringSize: 4607, nSplits: 32, scale: 0.125 };
    const view = new DataView(packChunkParams(values));
    fields.forEach(([name, type], i) => {
      const expected = name.startsWith('pad') ? 0 : values[name as keyof typeof values];
      const got = type === 'f32' ? view.getFloat32(i * 4, true) : view.getUint32(i * 4, true);
      expect(got, name).toBe(expected);
    });
  });
});

describe('EngineError', () => {
  it('keeps its code and detail across a structured clone', () => {
    const error = new EngineError('DEVICE_LIMIT', 'Too big; choose a smaller window.', 'maxBufferSize');
    const copy = EngineError.fromJSON(structuredClone(error.toJSON()));
    expect(copy).toBeInstanceOf(EngineError);
    expect(copy.code).toBe('DEVICE_LIMIT');
    expect(copy.message).toBe(error.message);
    expect(copy.detail).toBe('maxBufferSize');
  });
});
