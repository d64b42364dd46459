// Benchmark baseline only (tools/benchAttention.ts): decode attention with no splitting at all.
// One workgroup for the whole layer; thread h walks every visible key of query head h in order
// with an online softmax. Same semantics and bindings as attention.wgsl + attention_combine.wgsl,
// so its output can be compared with theirs.
//
// Bindings (group 0):
//   0 params:  ChunkParams (uniform); nNew must be 1
//   1 q:       (head, dim) [N_KV_HEADS * GROUP, HEAD_DIM] pre-RoPE f32
//   2 k_cache: (slot, kv_head, dim) rotated keys, f32 bits
//   3 v_cache: (slot, kv_head, dim) f32 bits
//   4 rope:    (kind, pair) vec2<f32> (cos, sin)
//   5 out:     (head, dim) f32
// Dispatch: (1, 1, 1), workgroup 64. Overrides: HEAD_DIM (<= 256), N_KV_HEADS, GROUP, ROT_HALF, INTERLEAVED.

override HEAD_DIM: u32;
override N_KV_HEADS: u32;
override GROUP: u32;
override ROT_HALF: u32;
override INTERLEAVED: bool;

const MAX_HEAD_DIM: u32 = 256u;

@group(0) @binding(0) var<uniform> params: ChunkParams;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k_cache: array<f32>;
@group(0) @binding(3) var<storage, read> v_cache: array<f32>;
@group(0) @binding(4) var<storage, read> rope: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

fn rotatedQuery(base: u32, dim: u32, kind: u32) -> f32 {
  let x = q[base + dim];
  if (dim >= 2u * ROT_HALF) { return x; }
  return rotate(x, q[base + ropePartner(dim)], rope[kind * ROT_HALF + ropePair(dim)], dim);
}

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32) {
  let t = params.t0;
  let n_heads = N_KV_HEADS * GROUP;
  for (var head = lid; head < n_heads; head += 64u) {
    let kv_head = head / GROUP;
    let base = head * HEAD_DIM;
    var acc: array<f32, MAX_HEAD_DIM>;
    var q_win: array<f32, MAX_HEAD_DIM>;
    var q_sink: array<f32, MAX_HEAD_DIM>;
    for (var dim = 0u; dim < HEAD_DIM; dim++) {
      q_win[dim] = rotatedQuery(base, dim, 0u) * params.scale;
      q_sink[dim] = rotatedQuery(base, dim, 1u) * params.scale;
    }
    var m = -3.0e38;
    var l = 0.0;
    let n_sinks = min(params.nSinks, t + 1u);
    let win_lo = windowStart(t);
    let n_keys = n_sinks + select(0u, t + 1u - win_lo, t + 1u > win_lo);
    for (var u = 0u; u < n_keys; u++) {
      let j = select(win_lo + (u - n_sinks), u, u < n_sinks);
      let k_base = (slotOf(j) * N_KV_HEADS + kv_head) * HEAD_DIM;
      var s = 0.0;
      for (var dim = 0u; dim < HEAD_DIM; dim++) {
        s += select(q_win[dim], q_sink[dim], j < params.nSinks) * k_cache[k_base + dim];
      }
      let m_new = max(m, s);
      let rescale = exp(m - m_new);
      let p = exp(s - m_new);
      l = l * rescale + p;
      for (var dim = 0u; dim < HEAD_DIM; dim++) {
        acc[dim] = acc[dim] * rescale + p * v_cache[k_base + dim];
      }
      m = m_new;
    }
    for (var dim = 0u; dim < HEAD_DIM; dim++) { out[base + dim] = acc[dim] / l; }
  }
}
