// The k best logits of one row by repeated argmax (k = 1 is greedy decoding's argmax), so that a
// token's sampling reads back k ids and values instead of the whole vocabulary.
//
// Order: a higher logit first, the lower id first among equal logits (the CPU sampler's order).
// Logits are compared as order-preserving u32 keys built from their bits, never as floats, so
// subnormals, -0 and the GPU's float rules cannot change the order: -0 counts as +0, -Infinity is
// never picked, and NaN or +Infinity are counted in result.bad (the caller then reads the full row).
//
// The ids under a repetition penalty (params.penalized, at most MAX_PENALIZED) are left out of the
// pick and their raw values gathered instead: the penalty reorders only them, so the k best of the
// penalized row are among the k best of the rest and these (the CPU merges them). They are still
// counted in result.bad. The row itself is only read.
//
// Two entry points, dispatched in this order in one pass:
//   block_top  workgroup b picks the k best of logits [b * BLOCK, (b + 1) * BLOCK) of the row, the
//              penalized ids left out, into candidates[b * k, (b + 1) * k); slots past the finite
//              logits hold NONE.
//   merge_top  one workgroup picks the k best of all candidates into result, and gathers the
//              penalized ids' values into result.penalized.
//
// Bindings (group 0):
//   0 uniform                params: TopParams
//   1 read-only storage      logits: array<u32>, the row's values as f32 bits, or two f16 per u32
//                            (low half first) when F16; the row starts at element params.offset
//   2 read_write storage     candidates: array<vec2<u32>> [n_blocks * k] (key, id)
//   3 read_write storage     result: TopResult; result.bad must be zeroed before block_top
//
// Overrides: F16 (0 or 1). The number of picks k (1..MAX_K) is a uniform, so one pipeline serves
// every sampling setting. BLOCK = WG * ITEMS logits per block workgroup.
// Consts written in by the engine (kernelSizes.ts): WG, ITEMS, MAX_K, MAX_PENALIZED.

override F16: u32 = 0u;

const BLOCK: u32 = WG * ITEMS;
const NONE_ID: u32 = 0xffffffffu;

struct TopParams {
  vocab: u32,
  offset: u32,
  n_blocks: u32,
  n_penalized: u32,
  /** Picks wanted, 1..MAX_K. */
  k: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  /** Row ids under the penalty, four per vec4 (a uniform array's stride is 16 bytes); below vocab. */
  penalized: array<vec4<u32>, MAX_PENALIZED / 4u>,
}

struct TopResult {
  bad: atomic<u32>,
  count: u32,
  ids: array<u32, MAX_K>,
  /** f32 bits of each picked logit. */
  values: array<u32, MAX_K>,
  /** f32 bits of the raw logit of each penalized id, in params' order. */
  penalized: array<u32, MAX_PENALIZED>,
}

@group(0) @binding(0) var<uniform> params: TopParams;
@group(0) @binding(1) var<storage, read> logits: array<u32>;
@group(0) @binding(2) var<storage, read_write> candidates: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> result: TopResult;

var<workgroup> best_key: array<u32, WG>;
var<workgroup> best_id: array<u32, WG>;
/** Bit i: logit base + i of this block is penalized, so not picked here. */
var<workgroup> excluded: array<atomic<u32>, BLOCK / 32u>;

/** a comes before b in the sampler's order; NONE (key 0) comes after everything. */
fn before(ka: u32, ia: u32, kb: u32, ib: u32) -> bool {
  return ka > kb || (ka == kb && ia < ib);
}

fn penalized_id(i: u32) -> u32 {
  return params.penalized[i / 4u][i % 4u];
}

/** Raw bits of logit i of the row: f32 bits, or f16 bits in the low 16 bits. */
fn raw_bits(i: u32) -> u32 {
  let e = params.offset + i;
  if (F16 == 1u) {
    return (logits[e >> 1u] >> ((e & 1u) * 16u)) & 0xffffu;
  }
  return logits[e];
}

/** Order-preserving key of a finite logit or -Infinity; 0 for -Infinity (never picked). */
fn key_of(bits_in: u32) -> u32 {
  if (F16 == 1u) {
    var bits = bits_in;
    if (bits == 0x8000u) { bits = 0u; }
    if (bits == 0xfc00u) { return 0u; }
    if ((bits & 0x8000u) != 0u) { return (~bits) & 0xffffu; }
    return bits | 0x8000u;
  }
  var bits = bits_in;
  if (bits == 0x80000000u) { bits = 0u; }
  if (bits == 0xff800000u) { return 0u; }
  if ((bits & 0x80000000u) != 0u) { return ~bits; }
  return bits | 0x80000000u;
}

fn is_bad(bits: u32) -> bool {
  if (F16 == 1u) {
    return (bits & 0x7c00u) == 0x7c00u && bits != 0xfc00u; // NaN or +Infinity
  }
  return (bits & 0x7f800000u) == 0x7f800000u && bits != 0xff800000u;
}

/** Workgroup-wide best of (best_key, best_id); every invocation returns it. */
fn reduce_best(lid: u32, key: u32, id: u32) -> vec2<u32> {
  best_key[lid] = key;
  best_id[lid] = id;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride && before(best_key[lid + stride], best_id[lid + stride], best_key[lid], best_id[lid])) {
      best_key[lid] = best_key[lid + stride];
      best_id[lid] = best_id[lid + stride];
    }
    workgroupBarrier();
  }
  let out = vec2<u32>(best_key[0], best_id[0]);
  workgroupBarrier();
  return out;
}

@compute @workgroup_size(WG)
fn block_top(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let base = wid.x * BLOCK;
  // A bitmask of this block's penalized ids: duplicates set the same bit, and the row is never written.
  for (var w = lid; w < BLOCK / 32u; w += WG) { atomicStore(&excluded[w], 0u); }
  workgroupBarrier();
  if (lid < params.n_penalized) {
    let id = penalized_id(lid);
    if (id >= base && id < base + BLOCK) { atomicOr(&excluded[(id - base) / 32u], 1u << ((id - base) % 32u)); }
  }
  workgroupBarrier();
  var keys: array<u32, ITEMS>;
  var bad = 0u;
  for (var j = 0u; j < ITEMS; j++) {
    let local = j * WG + lid;
    let i = base + local;
    keys[j] = 0u;
    if (i < params.vocab) {
      let bits = raw_bits(i);
      if (is_bad(bits)) {
        bad++;
      } else if ((atomicLoad(&excluded[local / 32u]) & (1u << (local % 32u))) == 0u) {
        keys[j] = key_of(bits);
      }
    }
  }
  if (bad > 0u) { atomicAdd(&result.bad, bad); }
  // Each round picks the best pair strictly after the previous pick, so nothing needs marking.
  var prev_key = 0xffffffffu;
  var prev_id = 0u;
  var first = true;
  for (var r = 0u; r < params.k; r++) {
    var key = 0u;
    var id = NONE_ID;
    for (var j = 0u; j < ITEMS; j++) {
      let i = base + j * WG + lid;
      let k = keys[j];
      if (k != 0u && (first || before(prev_key, prev_id, k, i)) && before(k, i, key, id)) {
        key = k;
        id = i;
      }
    }
    let best = reduce_best(lid, key, id);
    if (lid == 0u) { candidates[wid.x * params.k + r] = best; }
    prev_key = best.x;
    prev_id = best.y;
    first = false;
  }
}

/** f32 bits of a picked logit. */
fn value_bits(id: u32) -> u32 {
  let bits = raw_bits(id);
  if (F16 == 1u) {
    return bitcast<u32>(unpack2x16float(bits).x);
  }
  return bits;
}

@compute @workgroup_size(WG)
fn merge_top(@builtin(local_invocation_index) lid: u32) {
  let n = params.n_blocks * params.k;
  var prev_key = 0xffffffffu;
  var prev_id = 0u;
  var first = true;
  var count = 0u;
  for (var r = 0u; r < params.k; r++) {
    var key = 0u;
    var id = NONE_ID;
    for (var c = lid; c < n; c += WG) {
      let cand = candidates[c];
      if (cand.x != 0u && (first || before(prev_key, prev_id, cand.x, cand.y)) && before(cand.x, cand.y, key, id)) {
        key = cand.x;
        id = cand.y;
      }
    }
    // Once the candidates run out every later round finds NONE too; the loop still runs them all
    // because a barrier may not sit behind a break on a value read from workgroup memory.
    let best = reduce_best(lid, key, id);
    if (best.x != 0u) {
      if (lid == 0u) {
        result.ids[r] = best.y;
        result.values[r] = value_bits(best.y);
      }
      count++;
    }
    prev_key = best.x;
    prev_id = best.y;
    first = false;
  }
  if (lid == 0u) { result.count = count; }
  if (lid < params.n_penalized) { result.penalized[lid] = value_bits(penalized_id(lid)); }
}
