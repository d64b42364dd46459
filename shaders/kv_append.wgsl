// Appends the K and V of a chunk's new tokens to one layer's cache: keys are rotated by their
// stream index t (cos/sin from the CPU's float64 table) and stored in slot slotOf(t), overwriting
// the oldest ring entry in O(1). Runs before attention.wgsl in the same pass.
//
// Bindings (group 0):
//   0 params:  ChunkParams (uniform)
//   1 k_new:   (i, kv_head, dim) [nNew, N_KV_HEADS, HEAD_DIM] pre-RoPE keys, f32 or packed f16 (IO_F16)
//   2 v_new:   (i, kv_head, dim) same layout
//   3 k_cache: (slot, kv_head, dim) f32 bits or packed f16 (CACHE_F16), read_write
//   4 v_cache: (slot, kv_head, dim) same layout, read_write
//   5 rope:    (i, kind, pair) vec2<f32> (cos, sin); kind 0 = stream index
// Dispatch: one thread per (i, kv_head, dim pair), workgroup WORKGROUP, grid (x, y) flattened.
// Consts written in by the engine (kernelSizes.ts): WORKGROUP.
// Overrides: HEAD_DIM (even), N_KV_HEADS, ROT_HALF, INTERLEAVED, IO_F16, CACHE_F16.

override HEAD_DIM: u32;
override N_KV_HEADS: u32;
override ROT_HALF: u32;
override INTERLEAVED: bool;
override IO_F16: bool;
override CACHE_F16: bool;

@group(0) @binding(0) var<uniform> params: ChunkParams;
@group(0) @binding(1) var<storage, read> k_new: array<u32>;
@group(0) @binding(2) var<storage, read> v_new: array<u32>;
@group(0) @binding(3) var<storage, read_write> k_cache: array<u32>;
@group(0) @binding(4) var<storage, read_write> v_cache: array<u32>;
@group(0) @binding(5) var<storage, read> rope: array<vec2<f32>>;

fn loadK(e: u32) -> f32 { return unpackAt(k_new[wordOf(e, IO_F16)], e, IO_F16); }
fn loadV(e: u32) -> f32 { return unpackAt(v_new[wordOf(e, IO_F16)], e, IO_F16); }

// Key element (base + dim) of new token i, rotated by its stream index.
fn rotatedKey(base: u32, dim: u32, i: u32) -> f32 {
  let x = loadK(base + dim);
  if (dim >= 2u * ROT_HALF) { return x; }
  let cs = rope[(i * 2u) * ROT_HALF + ropePair(dim)];
  return rotate(x, loadK(base + ropePartner(dim)), cs, dim);
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let id = (wid.y * groups.x + wid.x) * WORKGROUP + lid;
  let pairsPerHead = HEAD_DIM / 2u;
  let pair = id % pairsPerHead;
  let kvHead = (id / pairsPerHead) % N_KV_HEADS;
  let i = id / (pairsPerHead * N_KV_HEADS);
  if (i >= params.nNew) { return; }

  let src = (i * N_KV_HEADS + kvHead) * HEAD_DIM;
  let dst = (slotOf(params.t0 + i) * N_KV_HEADS + kvHead) * HEAD_DIM;
  let d0 = 2u * pair;
  let k = vec2<f32>(rotatedKey(src, d0, i), rotatedKey(src, d0 + 1u, i));
  let v = vec2<f32>(loadV(src + d0), loadV(src + d0 + 1u));
  if (CACHE_F16) {
    k_cache[(dst + d0) / 2u] = pack2x16float(k);
    v_cache[(dst + d0) / 2u] = pack2x16float(v);
  } else {
    k_cache[dst + d0] = bitcast<u32>(k.x);
    k_cache[dst + d0 + 1u] = bitcast<u32>(k.y);
    v_cache[dst + d0] = bitcast<u32>(v.x);
    v_cache[dst + d0 + 1u] = bitcast<u32>(v.y);
  }
}
