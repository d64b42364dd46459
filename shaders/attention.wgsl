// Streaming attention over the sink + ring KV cache (docs/architecture.md sections 1-4), flash-decoding style.
// A workgroup takes ROWS query rows (row = (new token i, query head g within one KV head's group)),
// one KV head, and one split of the keys that any of its rows can see; it walks them in tiles of
// TILE keys with an online softmax and writes the unnormalised state (acc, max, sum) per row.
// attention_combine.wgsl merges the splits. Decode (nNew = 1) spreads a long window over many
// splits; prefill tiles queries by ROWS so each K/V element is read once per row group.
//
// Queries are rotated here twice: by t for window keys (stored rotated by their stream index j, so
// the score depends on t - j) and by |V(t)| - 1 for sinks (stored rotated by their index s).
//
// Bindings (group 0):
//   0 params:  ChunkParams (uniform)
//   1 q:       (i, head, dim) [nNew, N_KV_HEADS * GROUP, HEAD_DIM] pre-RoPE, f32 or packed f16 (IO_F16)
//   2 k_cache: (slot, kv_head, dim) rotated keys, f32 bits or packed f16 (CACHE_F16)
//   3 v_cache: (slot, kv_head, dim)
//   4 rope:    (i, kind, pair) vec2<f32> (cos, sin); kind 0 = stream index t, kind 1 = |V(t)| - 1
//   5 partial: (split, i, head, HEAD_DIM + 2) f32: acc[HEAD_DIM], running max, running sum
// Dispatch: (ceil(nNew * GROUP / ROWS), N_KV_HEADS, nSplits), workgroup WORKGROUP (= TILE).
// Consts written in by the engine (kernelSizes.ts): WORKGROUP.
// Overrides (pipeline key): HEAD_DIM, N_KV_HEADS, GROUP, ROT_HALF, INTERLEAVED, ROWS, IO_F16, CACHE_F16.
// Uniforms (per chunk): t0, nNew, nSinks, windowSize, ringSize, nSplits, scale.

override HEAD_DIM: u32;
override N_KV_HEADS: u32;
override GROUP: u32;
override ROT_HALF: u32;
override INTERLEAVED: bool;
override ROWS: u32;
override IO_F16: bool;
override CACHE_F16: bool;

// One key of a tile per thread.
const TILE: u32 = WORKGROUP;
// Score of a key the row cannot see; its probability is forced to exactly 0.
const MASKED: f32 = -3.0e38;

@group(0) @binding(0) var<uniform> params: ChunkParams;
@group(0) @binding(1) var<storage, read> q: array<u32>;
@group(0) @binding(2) var<storage, read> k_cache: array<u32>;
@group(0) @binding(3) var<storage, read> v_cache: array<u32>;
@group(0) @binding(4) var<storage, read> rope: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> partial: array<f32>;

var<workgroup> q_rot: array<f32, ROWS * 2u * HEAD_DIM>;   // (row, kind, dim), scaled
var<workgroup> scores: array<f32, ROWS * TILE>;           // (row, key in tile): score, then probability
var<workgroup> acc: array<f32, ROWS * HEAD_DIM>;          // (row, dim): sum of p * v
var<workgroup> row_max: array<f32, ROWS>;
var<workgroup> row_sum: array<f32, ROWS>;
var<workgroup> row_rescale: array<f32, ROWS>;
var<workgroup> tile_slot: array<u32, TILE>;

fn loadQ(e: u32) -> f32 { return unpackAt(q[wordOf(e, IO_F16)], e, IO_F16); }
fn loadK(e: u32) -> f32 { return unpackAt(k_cache[wordOf(e, CACHE_F16)], e, CACHE_F16); }
fn loadV(e: u32) -> f32 { return unpackAt(v_cache[wordOf(e, CACHE_F16)], e, CACHE_F16); }

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let kv_head = wid.y;
  let split = wid.z;
  let n_heads = N_KV_HEADS * GROUP;
  let row0 = wid.x * ROWS;
  let row_end = min(row0 + ROWS, params.nNew * GROUP);

  // Keys any row of this group can see: the sinks of its last token, then the window span from
  // its first token's window start to its last token, numbered u = 0 .. n_keys-1.
  let t_first = params.t0 + row0 / GROUP;
  let t_last = params.t0 + (row_end - 1u) / GROUP;
  let n_sink_keys = min(params.nSinks, t_last + 1u);
  let win_lo = windowStart(t_first);
  let n_win_keys = select(0u, t_last + 1u - win_lo, t_last + 1u > win_lo);
  let n_keys = n_sink_keys + n_win_keys;
  let n_tiles = (n_keys + TILE - 1u) / TILE;
  let tiles_per_split = (n_tiles + params.nSplits - 1u) / params.nSplits;
  let tile_begin = split * tiles_per_split;
  let tile_end = min(tile_begin + tiles_per_split, n_tiles);

  // 1. Rotate and scale this group's queries into workgroup memory.
  for (var e = lid; e < ROWS * HEAD_DIM; e += TILE) {
    let r = e / HEAD_DIM;
    let dim = e % HEAD_DIM;
    let row = row0 + r;
    acc[e] = 0.0;
    var rotated = vec2<f32>(0.0, 0.0);
    if (row < row_end) {
      let i = row / GROUP;
      let base = (i * n_heads + kv_head * GROUP + row % GROUP) * HEAD_DIM;
      let x = loadQ(base + dim);
      rotated = vec2<f32>(x, x);
      if (dim < 2u * ROT_HALF) {
        let y = loadQ(base + ropePartner(dim));
        let pair = ropePair(dim);
        rotated = vec2<f32>(rotate(x, y, rope[(i * 2u) * ROT_HALF + pair], dim),
                            rotate(x, y, rope[(i * 2u + 1u) * ROT_HALF + pair], dim));
      }
    }
    q_rot[(r * 2u) * HEAD_DIM + dim] = rotated.x * params.scale;
    q_rot[(r * 2u + 1u) * HEAD_DIM + dim] = rotated.y * params.scale;
  }
  if (lid < ROWS) {
    row_max[lid] = MASKED;
    row_sum[lid] = 0.0;
  }
  workgroupBarrier();

  for (var tile = tile_begin; tile < tile_end; tile++) {
    // 2. Thread lid scores key u = tile * TILE + lid against every row.
    let u = tile * TILE + lid;
    let key_valid = u < n_keys;
    let j = select(win_lo + (u - n_sink_keys), u, u < n_sink_keys); // stream index of key u
    let kind = select(0u, 1u, j < params.nSinks);
    let slot = slotOf(j);
    tile_slot[lid] = slot;
    let k_base = (slot * N_KV_HEADS + kv_head) * HEAD_DIM;
    for (var r = 0u; r < ROWS; r++) {
      let row = row0 + r;
      var s = MASKED;
      if (key_valid && row < row_end && isVisible(j, params.t0 + row / GROUP)) {
        let q_base = (r * 2u + kind) * HEAD_DIM;
        var dot = 0.0;
        for (var dim = 0u; dim < HEAD_DIM; dim++) {
          dot += q_rot[q_base + dim] * loadK(k_base + dim);
        }
        s = dot;
      }
      scores[r * TILE + lid] = s;
    }
    workgroupBarrier();

    // 3. New running max per row, and the factor that rescales what was summed so far.
    if (lid < ROWS) {
      var m = row_max[lid];
      for (var k = 0u; k < TILE; k++) { m = max(m, scores[lid * TILE + k]); }
      row_rescale[lid] = exp(row_max[lid] - m);
      row_max[lid] = m;
    }
    workgroupBarrier();

    // 4. p = exp(s - max), exactly 0 for keys the row cannot see.
    for (var r = 0u; r < ROWS; r++) {
      let s = scores[r * TILE + lid];
      scores[r * TILE + lid] = select(exp(s - row_max[r]), 0.0, s == MASKED);
    }
    workgroupBarrier();

    // 5. sum += p; acc = acc * rescale + p . V.
    if (lid < ROWS) {
      var l = 0.0;
      for (var k = 0u; k < TILE; k++) { l += scores[lid * TILE + k]; }
      row_sum[lid] = row_sum[lid] * row_rescale[lid] + l;
    }
    for (var e = lid; e < ROWS * HEAD_DIM; e += TILE) {
      let r = e / HEAD_DIM;
      let dim = e % HEAD_DIM;
      var a = acc[e] * row_rescale[r];
      for (var k = 0u; k < TILE; k++) {
        let p = scores[r * TILE + k];
        if (p != 0.0) {
          a += p * loadV((tile_slot[k] * N_KV_HEADS + kv_head) * HEAD_DIM + dim);
        }
      }
      acc[e] = a;
    }
    workgroupBarrier();
  }

  // 6. Unnormalised state of each row for this split.
  let stride = HEAD_DIM + 2u;
  for (var e = lid; e < ROWS * (HEAD_DIM + 2u); e += TILE) {
    let r = e / stride;
    let c = e % stride;
    let row = row0 + r;
    if (row < row_end) {
      let i = row / GROUP;
      let head = kv_head * GROUP + row % GROUP;
      var value = 0.0;
      if (c < HEAD_DIM) { value = acc[r * HEAD_DIM + c]; }
      else if (c == HEAD_DIM) { value = row_max[r]; }
      else { value = row_sum[r]; }
      partial[((split * params.nNew + i) * n_heads + head) * stride + c] = value;
    }
  }
}
