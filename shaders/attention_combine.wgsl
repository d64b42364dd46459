// Merges the per-split softmax states written by attention.wgsl into the attention output:
// out = sum_s exp(m_s - M) acc_s / sum_s exp(m_s - M) l_s, with M the largest split max.
//
// Bindings (group 0):
//   0 params:  ChunkParams (uniform)
//   1 partial: (split, i, head, HEAD_DIM + 2) f32
//   2 out:     (i, head, dim) [nNew, N_HEADS, HEAD_DIM], f32 or packed f16 (IO_F16), ready for o_proj
// Dispatch: (nNew, N_HEADS), workgroup WORKGROUP; a thread writes two adjacent dims (one packed f16 word).
// Consts written in by the engine (kernelSizes.ts): WORKGROUP.
// Overrides: HEAD_DIM (even), N_HEADS, IO_F16.

override HEAD_DIM: u32;
override N_HEADS: u32;
override IO_F16: bool;

@group(0) @binding(0) var<uniform> params: ChunkParams;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x;
  let head = wid.y;
  let stride = HEAD_DIM + 2u;
  let split_stride = params.nNew * N_HEADS * stride;
  let base = (i * N_HEADS + head) * stride;

  var m = -3.0e38;
  for (var s = 0u; s < params.nSplits; s++) { m = max(m, partial[s * split_stride + base + HEAD_DIM]); }
  var l = 0.0;
  for (var s = 0u; s < params.nSplits; s++) {
    let at = s * split_stride + base;
    l += exp(partial[at + HEAD_DIM] - m) * partial[at + HEAD_DIM + 1u];
  }

  let out_base = (i * N_HEADS + head) * HEAD_DIM;
  for (var d0 = 2u * lid; d0 < HEAD_DIM; d0 += 2u * WORKGROUP) {
    var o = vec2<f32>(0.0, 0.0);
    for (var s = 0u; s < params.nSplits; s++) {
      let at = s * split_stride + base;
      o += exp(partial[at + HEAD_DIM] - m) * vec2<f32>(partial[at + d0], partial[at + d0 + 1u]);
    }
    o /= l;
    if (IO_F16) {
      out[(out_base + d0) / 2u] = pack2x16float(o);
    } else {
      out[out_base + d0] = bitcast<u32>(o.x);
      out[out_base + d0 + 1u] = bitcast<u32>(o.y);
    }
  }
}
