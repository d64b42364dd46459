// WGSL sources of the kernels, composed from shaders/: the generated ChunkParams struct and size
// consts (kernelSizes.ts), the shared stream-layout helpers where a kernel needs them, then the
// kernel itself.

import streamLayout from '../../../shaders/stream_layout.wgsl?raw';
import kvAppend from '../../../shaders/kv_append.wgsl?raw';
import attention from '../../../shaders/attention.wgsl?raw';
import attentionCombine from '../../../shaders/attention_combine.wgsl?raw';
import argmax from '../../../shaders/argmax.wgsl?raw';
import { CHUNK_PARAMS_WGSL } from './chunkParams.ts';
import { ATTENTION_WORKGROUP, MAX_PENALIZED, MAX_TOP_K, PICK_ITEMS, PICK_WORKGROUP, wgslConsts } from './kernelSizes.ts';

const ATTENTION_SIZES = wgslConsts({ WORKGROUP: ATTENTION_WORKGROUP });

/** A kernel that reads the ChunkParams uniform and the stream-layout helpers, ready to compile. */
export const withLayout = (kernel: string): string => CHUNK_PARAMS_WGSL + ATTENTION_SIZES + streamLayout + kernel;

export const SHADERS = {
  kvAppend: withLayout(kvAppend),
  attention: withLayout(attention),
  attentionCombine: CHUNK_PARAMS_WGSL + ATTENTION_SIZES + attentionCombine,
  argmax: wgslConsts({ WG: PICK_WORKGROUP, ITEMS: PICK_ITEMS, MAX_K: MAX_TOP_K, MAX_PENALIZED }) + argmax,
} as const;
