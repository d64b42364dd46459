// Shared helpers, prepended to attention shaders after the generated ChunkParams struct.
// They state docs/architecture.md sections 1 and 2 in WGSL; src/engine/kv/ringLayout.ts states the same on the CPU.
// Requires: `params: ChunkParams` and the overrides ROT_HALF (rotating pairs per head) and
// INTERLEAVED (pairs (2p, 2p+1) when true, (p, p + ROT_HALF) when false).

// Cache slot of stream token t: sinks at the head, then the ring.
fn slotOf(t: u32) -> u32 {
  if (t < params.nSinks) { return t; }
  return params.nSinks + (t - params.nSinks) % params.ringSize;
}

// First stream index of the window part of V(t): max(nSinks, t - windowSize + 1), without underflow.
fn windowStart(t: u32) -> u32 {
  return select(params.nSinks, t + 1u - params.windowSize, t + 1u > params.windowSize + params.nSinks);
}

// Whether key j belongs to V(t).
fn isVisible(j: u32, t: u32) -> bool {
  if (j < params.nSinks) { return j <= t; }
  return j >= windowStart(t) && j <= t;
}

// RoPE pair index of a rotating dim (dim < 2 * ROT_HALF).
fn ropePair(dim: u32) -> u32 {
  if (INTERLEAVED) { return dim / 2u; }
  return dim % ROT_HALF;
}

// The other dim of the pair.
fn ropePartner(dim: u32) -> u32 {
  if (INTERLEAVED) { return dim ^ 1u; }
  return select(dim - ROT_HALF, dim + ROT_HALF, dim < ROT_HALF);
}

// Rotated value of x whose pair partner is y, by the angle whose (cos, sin) is cs:
// first of pair: x cos - y sin; second: y sin + x cos.
fn rotate(x: f32, y: f32, cs: vec2<f32>, dim: u32) -> f32 {
  let first = select(dim < ROT_HALF, (dim & 1u) == 0u, INTERLEAVED);
  return select(y * cs.y + x * cs.x, x * cs.x - y * cs.y, first);
}

// Element e of a tensor stored as f32 bits (isF16 false) or as f16 pairs packed in u32 words.
fn unpackAt(word: u32, e: u32, isF16: bool) -> f32 {
  if (isF16) { return unpack2x16float(word)[e & 1u]; }
  return bitcast<f32>(word);
}

fn wordOf(e: u32, isF16: bool) -> u32 {
  return select(e, e >> 1u, isF16);
}
