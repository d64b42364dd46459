// Sizes that a kernel's TypeScript (dispatch counts, buffer layouts, memory checks) and its WGSL
// both depend on. shaderSources.ts writes them into the shader sources as WGSL consts, so the two
// cannot drift apart.

/** Threads per workgroup of kv_append, attention (one key of a tile each) and attention_combine. */
export const ATTENTION_WORKGROUP = 64;

/** Threads per top-k workgroup, and logits each thread scans per block. */
export const PICK_WORKGROUP = 256;
export const PICK_ITEMS = 16;
/** Most picks per call (the shader's MAX_K) and most penalized ids per call. */
export const MAX_TOP_K = 64;
export const MAX_PENALIZED = 64;

/** WGSL `const` declarations of unsigned sizes. */
export function wgslConsts(sizes: Record<string, number>): string {
  return Object.entries(sizes)
    .map(([name, value]) => `const ${name}: u32 = ${value}u;\n`)
    .join('');
}
