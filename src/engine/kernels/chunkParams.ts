// The per-chunk uniform shared by every attention shader. Its fields are listed once, here: the
// WGSL struct declaration and the byte packing are both generated from CHUNK_PARAMS, so they
// cannot drift apart. Everything that changes per token lives here, never in the pipeline key.

const CHUNK_PARAMS = [
  ['t0', 'u32'], // stream index of the chunk's first token
  ['nNew', 'u32'], // tokens in the chunk
  ['nSinks', 'u32'],
  ['windowSize', 'u32'],
  ['ringSize', 'u32'],
  ['nSplits', 'u32'], // workgroups sharing one row group's keys (flash-decoding)
  ['scale', 'f32'], // softmax scale, 1/sqrt(headDim) unless the model says otherwise
  ['pad0', 'u32'],
] as const;

export type ChunkParams = { [K in (typeof CHUNK_PARAMS)[number][0] as K extends `pad${string}` ? never : K]: number };

export const CHUNK_PARAMS_BYTES = CHUNK_PARAMS.length * 4;

/** `struct ChunkParams { ... }`, prepended to every shader that binds the uniform. */
export const CHUNK_PARAMS_WGSL =
  'struct ChunkParams {\n' + CHUNK_PARAMS.map(([name, type]) => `  ${name}: ${type},\n`).join('') + '}\n';

/** Packs `values` into `buffer` (CHUNK_PARAMS_BYTES long; a new one when absent) and returns it:
 *  the decoder passes its own, so a chunk allocates nothing. */
export function packChunkParams(values: ChunkParams, buffer = new ArrayBuffer(CHUNK_PARAMS_BYTES)): ArrayBuffer {
  const view = new DataView(buffer);
  CHUNK_PARAMS.forEach(([name, type], i) => {
    const value = name.startsWith('pad') ? 0 : values[name as keyof ChunkParams];
    if (type === 'f32') view.setFloat32(i * 4, value, true);
    else view.setUint32(i * 4, value, true);
  });
  return buffer;
}
