// WGSL sources of the kernels, composed from shaders/: the generated ChunkParams struct,
// the shared stream-layout helpers where a kernel needs them, then the kernel itself.

import streamLayout from '../../../shaders/stream_layout.wgsl?raw';
import kvAppend from '../../../shaders/kv_append.wgsl?raw';
import attention from '../../../shaders/attention.wgsl?raw';
import attentionCombine from '../../../shaders/attention_combine.wgsl?raw';
import argmax from '../../../shaders/argmax.wgsl?raw';
import { CHUNK_PARAMS_WGSL } from './chunkParams.ts';

/** A kernel that reads the ChunkParams uniform and the stream-layout helpers, ready to compile. */
export const withLayout = (kernel: string): string => CHUNK_PARAMS_WGSL + streamLayout + kernel;

export const SHADERS = {
  kvAppend: withLayout(kvAppend),
  attention: withLayout(attention),
  attentionCombine: CHUNK_PARAMS_WGSL + attentionCombine,
  argmax,
} as const;
