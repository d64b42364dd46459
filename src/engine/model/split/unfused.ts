// Unfused MatMul/Softmax attention (optimum/TorchScript exports): a Softmax over MatMul(q, k^T)
// (scaled, plus a causal mask) whose probabilities multiply v, with q and k traced back through
// RoPE (Mul/Slice/Neg/Concat), the KV-cache Concat, repeat-kv and the per-head Reshape/Transpose
// to the projections that produce them. Attention the kernel cannot compute is refused.

import type { onnx } from 'onnx-proto';
import { EngineError } from '../../../protocol/errors.ts';
import {
  attr, constantOf, describe, elementCount, ElemType, findBack, intsOf, isFloat, isLastAxis, scalarOf, soleConsumer, tryWidth, valuesOf, walkCone,
  type GraphView,
} from './graph.ts';
import type { FoundSite } from './sites.ts';

/** Ops that compute a projection from a weight: where tracing attention inputs back must stop. */
const PROJECTION_OPS = new Set(['MatMul', 'MatMulNBits', 'Gemm']);
/** Ops that move or broadcast data without computing on it, followed when tracing q, k and v. */
const DATA_MOVEMENT_OPS = new Set(['Reshape', 'Unsqueeze', 'Squeeze', 'Expand', 'Cast', 'Identity']);
const HEAD_TRANSPOSE = '0,2,1,3';
const KEY_TRANSPOSE = '0,1,3,2';

/** Where tracing one of q, k, v back from the attention core ended, and what it passed. */
interface TracedInput {
  /** The pre-RoPE tensor the kernel reads: a projection output (+ bias, norm) or a per-head norm. */
  tensor: string;
  /** True when `tensor` is (batch, seq, heads, headDim) rather than (batch, seq, heads * headDim). */
  perHead: boolean;
  heads: number;
  headDim: number;
  /** Half of the rotated dims (HF's rotate_half split point); 0 when no RoPE was passed. */
  ropeHalf: number;
  /** Product of the scalar factors passed. */
  scale: number;
  keyTransposes: number;
}


/**
 * An unfused attention: Softmax(MatMul(q, k^T) * scale + mask) feeding MatMul(probs, v), then
 * merged heads into o_proj. Returns undefined for a Softmax that is not attention over two
 * computed tensors (a router over a weight, say); refuses attention the kernel cannot compute.
 */
export function unfusedSite(softmax: onnx.INodeProto, layer: number, view: GraphView): FoundSite | undefined {
  const refuse = (why: string): never => {
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      `Attention layer ${layer} (${describe(softmax)}) ${why}. This app's attention kernel computes only softmax(scale · q·kᵀ) ` +
        'over RoPE-rotated q and k under a causal mask, so it cannot run this model; choose another export or model.',
    );
  };
  const scores = traceScores(softmax.input![0], view, refuse);
  if (!scores) return undefined;
  const axis = Number((softmax.attribute ?? []).find((a) => a.name === 'axis')?.i ?? -1);
  if (axis !== -1 && axis !== 3) refuse(`takes its softmax over axis ${axis} instead of the keys`);

  let probs = softmax.output![0];
  for (let next = soleConsumer(probs, view); next && (next.opType === 'Cast' || next.opType === 'Identity' || next.opType === 'Dropout'); next = soleConsumer(probs, view)) {
    probs = next.output![0];
  }
  const weighted = soleConsumer(probs, view);
  if (weighted?.opType !== 'MatMul' || weighted.input?.[0] !== probs) {
    return refuse(`feeds its probabilities to ${describe(weighted)} instead of a MatMul with the values`);
  }

  const q = traceInput(scores.qk.input![0], 'query', view, refuse);
  const k = traceInput(scores.qk.input![1], 'key', view, refuse);
  const v = traceInput(weighted.input![1], 'value', view, refuse);
  if (!q.ropeHalf || !k.ropeHalf) refuse('applies no rotary embedding to q and k that this runtime recognises (Hugging Face rotate_half)');
  if (v.ropeHalf) refuse('rotates its values');
  if (q.ropeHalf !== k.ropeHalf) refuse(`rotates ${2 * q.ropeHalf} dims of q but ${2 * k.ropeHalf} of k`);
  if (q.keyTransposes !== 0 || k.keyTransposes !== 1 || v.keyTransposes !== 0) refuse('multiplies q, k and v in an order other than q·k^T, probs·v');
  if (v.scale !== 1) refuse('scales its values');
  if (q.headDim !== k.headDim || k.headDim !== v.headDim) refuse(`has head sizes ${q.headDim}, ${k.headDim} and ${v.headDim} for q, k and v`);
  if (k.heads !== v.heads || q.heads % k.heads !== 0) refuse(`has ${q.heads} query heads but ${k.heads} key and ${v.heads} value heads`);
  if (2 * q.ropeHalf !== q.headDim) refuse(`rotates ${2 * q.ropeHalf} of its ${q.headDim} head dims (partial rotary in this form is not recognised)`);

  // The merged heads after probs·v feed o_proj: follow Transpose/Reshape forward to it.
  let out = weighted.output![0];
  let next = soleConsumer(out, view);
  while (next && ['Transpose', 'Reshape', 'Cast', 'Identity'].includes(next.opType ?? '')) {
    out = next.output![0];
    next = soleConsumer(out, view);
  }
  if (!next || !PROJECTION_OPS.has(next.opType ?? '') || next.input?.[0] !== out) {
    return refuse(`passes its output to ${describe(next)} instead of an output projection`);
  }

  const added: FoundSite['added'] = [];
  const kernelInput = (traced: TracedInput) => {
    const merged = traced.heads * traced.headDim;
    if (!traced.perHead) {
      view.knownWidths.set(traced.tensor, merged);
      return traced.tensor;
    }
    // A per-head norm's output (batch, seq, heads, headDim) has the kernel's memory layout; only
    // its shape changes, so the dense segment ends with a Reshape to (batch, seq, heads * headDim),
    // which the segmenter drops again (outputViews.ts) once the tensor is a segment output.
    const shape = `endless.split.merged_heads.${merged}`;
    const output = `${traced.tensor}/merged_heads`;
    added.push({
      node: { opType: 'Reshape', name: `${traced.tensor}/MergeHeads`, input: [traced.tensor, shape], output: [output] },
      initializers: [{ name: shape, dims: [3], dataType: ElemType.INT64, int64Data: [0, 0, merged] }],
    });
    view.knownWidths.set(output, merged);
    view.tokenShapes.set(traced.tensor, [1, 1, traced.heads, traced.headDim]);
    return output;
  };
  return {
    site: {
      layer,
      q: kernelInput(q),
      k: kernelInput(k),
      v: kernelInput(v),
      out,
      nHeads: q.heads,
      nKvHeads: k.heads,
      headSize: q.headDim,
      scale: scaleOf(scores.scaleTerms, q.headDim, view, refuse) * q.scale * k.scale,
      rotaryInterleaved: false,
      rotaryPairs: q.ropeHalf,
    },
    nodes: [view.producer.get(out)!.node],
    added,
  };
}

/**
 * Walks back from a Softmax input through scaling, masking and casts to MatMul(q, k^T).
 * Undefined when the walk ends anywhere else, or at a MatMul with a constant operand (not attention).
 */
function traceScores(
  start: string,
  view: GraphView,
  refuse: (why: string) => never,
): { qk: onnx.INodeProto; scaleTerms: ScaleTerm[] } | undefined {
  let t = start;
  const scaleTerms: ScaleTerm[] = [];
  for (;;) {
    const node = view.producer.get(t)?.node;
    if (!node) return undefined;
    const [a, b] = node.input ?? [];
    switch (node.opType) {
      case 'MatMul':
        return constantOf(a, view) || constantOf(b, view) ? undefined : { qk: node, scaleTerms };
      case 'Cast':
      case 'Identity':
        t = a;
        break;
      case 'Mul':
      case 'Div': {
        const scaling = scalarFactor(node, view);
        if (!scaling) return refuse(`multiplies its attention scores by a tensor (${describe(node)}) rather than a constant scale`);
        scaleTerms.push(scaling.term);
        t = scaling.input;
        break;
      }
      case 'Add': {
        // One operand carries the scores (it reaches the q·k^T MatMul), the other must be a mask.
        const [scoresSide, bias] = reachesMatMul(a, view) ? [a, b] : [b, a];
        const problem = biasProblem(bias, view);
        if (problem) return refuse(`adds ${problem} to its attention scores, as ALiBi or a learned position bias does`);
        t = scoresSide;
        break;
      }
      case 'Where': {
        // masked_fill: Where(condition, scores, min) or Where(condition, min, scores).
        const [condition, x, y] = node.input ?? [];
        const scoresSide = scalarOf(y, view) !== undefined ? x : scalarOf(x, view) !== undefined ? y : undefined;
        if (!scoresSide) return refuse(`selects between two computed tensors (${describe(node)}) for its attention scores`);
        const problem = biasProblem(condition, view);
        if (problem) return refuse(`masks its attention scores with ${problem}`);
        t = scoresSide;
        break;
      }
      default:
        return refuse(`transforms its attention scores with ${describe(node)} before the softmax (soft-capping, say)`);
    }
  }
}

/**
 * Walks back from an operand of the attention core to the tensor the kernel reads, through scalar
 * scaling, RoPE, the KV-cache Concat, repeat-kv and the per-head Reshape/Transpose. Stops at the
 * first op that computes from weights (projection, bias Add, norm).
 */
function traceInput(start: string, role: 'query' | 'key' | 'value', view: GraphView, refuse: (why: string) => never): TracedInput {
  let t = start;
  const scaleTerms: ScaleTerm[] = [];
  let rope: RopeMatch | undefined;
  let keyTransposes = 0;
  for (;;) {
    const node = view.producer.get(t)?.node;
    if (!node) return refuse(`takes its ${role} straight from "${t}" instead of a projection`);
    const op = node.opType ?? '';
    const inputs = node.input ?? [];
    if (op === 'Transpose') {
      const perm = String((node.attribute ?? []).find((a) => a.name === 'perm')?.ints?.map(Number) ?? []);
      if (perm !== KEY_TRANSPOSE && perm !== HEAD_TRANSPOSE) refuse(`transposes its ${role} with perm [${perm}] (${describe(node)})`);
      t = inputs[0];
      if (perm === HEAD_TRANSPOSE) break; // the per-head split comes right before
      keyTransposes++;
      continue;
    }
    if (op === 'Unsqueeze' && role !== 'query') {
      // repeat_kv inserts the group axis after the KV-head axis, so head h reads KV head h / group.
      const axes = intsOf(inputs[1], view) ?? (node.attribute ?? []).find((a) => a.name === 'axes')?.ints?.map(Number);
      if (String(axes) !== '2') refuse(`repeats its KV heads in an order other than Hugging Face's repeat_kv (${describe(node)})`);
    }
    if (DATA_MOVEMENT_OPS.has(op)) {
      t = inputs[0];
      continue;
    }
    if (op === 'Concat' && role !== 'query') {
      const past = inputs.filter((i) => view.graphInputs.has(i) && !view.producer.has(i));
      const fresh = inputs.filter((i) => !past.includes(i));
      if (inputs.length !== 2 || past.length !== 1) refuse(`concatenates its ${role}s with something other than a past KV input (${describe(node)})`);
      t = fresh[0];
      continue;
    }
    const scaling = scalarFactor(node, view);
    if (scaling) {
      scaleTerms.push(scaling.term);
      t = scaling.input;
      continue;
    }
    const match = op === 'Add' ? matchRope(node, view) : undefined;
    if (match) {
      if (rope) refuse(`rotates its ${role} twice`);
      rope = match;
      t = match.x;
      continue;
    }
    return refuse(`computes its ${role} with ${describe(node)} after the heads are split, which the kernel cannot take over`);
  }

  // t is (batch, seq, heads, headDim): either the head split's Reshape output or a per-head norm,
  // whose heads come from the Reshape feeding it.
  const node = view.producer.get(t)?.node;
  const perHead = node?.opType !== 'Reshape';
  if (!node || PROJECTION_OPS.has(node.opType ?? '')) return refuse(`has no per-head reshape before moving the heads of its ${role}`);
  const split = perHead ? findBack(t, view, (n) => n.opType === 'Reshape') : node;
  const tensor = perHead ? t : node.input![0];
  const width = perHead ? undefined : (view.knownWidths.get(tensor) ?? tryWidth(tensor, view));
  const [heads, headDim] = headShape(split ? intsOf(split.input![1], view) : undefined, width, role, refuse);

  let ropeHalf = 0;
  if (rope) {
    ropeHalf = scalarValue(rope.firstEnd, view, headDim) ?? 0;
    if (!Number.isInteger(ropeHalf) || ropeHalf <= 0 || scalarValue(rope.secondStart, view, headDim) !== ropeHalf) {
      refuse(`splits its ${role} for rotate_half at a point this runtime cannot read`);
    }
  }
  return { tensor, perHead, heads, headDim, ropeHalf, scale: scaleOf(scaleTerms, headDim, view, refuse), keyTransposes };
}

/** A factor found on the way, evaluated once the head size is known. */
interface ScaleTerm {
  tensor: string;
  divide: boolean;
}

function scaleOf(terms: ScaleTerm[], headDim: number, view: GraphView, refuse: (why: string) => never): number {
  let scale = 1;
  for (const { tensor, divide } of terms) {
    const value = scalarValue(tensor, view, headDim);
    if (value === undefined || value === 0) return refuse(`scales attention by "${tensor}", whose value cannot be read`);
    scale *= divide ? 1 / value : value;
  }
  return scale;
}

/** (heads, headDim) from a head split's shape [batch, seq, heads, headDim], one of them possibly -1. */
function headShape(shape: number[] | undefined, width: number | undefined, role: string, refuse: (why: string) => never): [number, number] {
  if (!shape || shape.length !== 4) return refuse(`splits its ${role} into heads with a shape this runtime cannot read`);
  let [, , heads, headDim] = shape;
  if (heads <= 0 && headDim > 0 && width) heads = width / headDim;
  if (headDim <= 0 && heads > 0 && width) headDim = width / heads;
  if (!(Number.isInteger(heads) && heads > 0 && Number.isInteger(headDim) && headDim > 0)) {
    return refuse(`splits its ${role} into heads with shape [${shape.join(', ')}], whose head count and size cannot be told`);
  }
  return [heads, headDim];
}

/**
 * Hugging Face's apply_rotary_pos_emb: Add(Mul(x, cos), Mul(rotate_half(x), sin)) with
 * rotate_half(x) = Concat(Neg(x[..., half:]), x[..., :half]) on the last axis.
 */
interface RopeMatch {
  x: string;
  /** The split point as the first half's end and the second half's start (constants, or x.shape[-1] // 2). */
  firstEnd: string;
  secondStart: string;
}

function matchRope(add: onnx.INodeProto, view: GraphView): RopeMatch | undefined {
  const muls = (add.input ?? []).map((i) => view.producer.get(i)?.node);
  if (muls.length !== 2 || muls.some((m) => m?.opType !== 'Mul')) return undefined;
  for (const [plain, rotatedMul] of [muls, [...muls].reverse()]) {
    for (const rotated of rotatedMul!.input ?? []) {
      const concat = view.producer.get(rotated)?.node;
      if (concat?.opType !== 'Concat' || concat.input?.length !== 2 || !isLastAxis(attr(concat, 'axis'))) continue;
      const neg = view.producer.get(concat.input[0])?.node;
      const second = neg?.opType === 'Neg' ? view.producer.get(neg.input![0])?.node : undefined;
      const first = view.producer.get(concat.input[1])?.node;
      if (second?.opType !== 'Slice' || first?.opType !== 'Slice') continue;
      const x = first.input![0];
      if (second.input![0] !== x || !plain!.input?.includes(x)) continue;
      const [axes1, steps1, axes2, steps2] = [first.input?.[3], first.input?.[4], second.input?.[3], second.input?.[4]].map((i) => intsOf(i, view));
      if (!axes1 || !axes2 || !isLastAxis(axes1[0]) || !isLastAxis(axes2[0])) continue;
      if ((steps1 && steps1[0] !== 1) || (steps2 && steps2[0] !== 1)) continue;
      if (intsOf(first.input?.[1], view)?.[0] !== 0 || !first.input?.[2] || !second.input?.[1]) continue;
      return { x, firstEnd: first.input[2], secondStart: second.input[1] };
    }
  }
  return undefined;
}

/** Head size assumed while telling whether a factor is a scalar at all (its value comes later). */
const PROBE_HEAD_DIM = 64;

/** Mul or Div by a scalar (a constant, or computed from the head size): the factor and the tensor it scales. */
function scalarFactor(node: onnx.INodeProto, view: GraphView): { term: ScaleTerm; input: string } | undefined {
  const [a, b] = node.input ?? [];
  if (node.opType !== 'Mul' && node.opType !== 'Div') return undefined;
  const isScalar = (name: string) => scalarValue(name, view, PROBE_HEAD_DIM) !== undefined;
  if (isScalar(b)) return { term: { tensor: b, divide: node.opType === 'Div' }, input: a };
  return node.opType === 'Mul' && isScalar(a) ? { term: { tensor: a, divide: false }, input: b } : undefined;
}

/**
 * The value of a one-element tensor computed from constants and the head size, as traced exports
 * compute 1/sqrt(head_dim) (scaled_dot_product_attention) and head_dim // 2 (rotate_half): the
 * last dim of a shape read inside attention is the head size. Undefined for anything else.
 */
function scalarValue(name: string | undefined, view: GraphView, headDim: number): number | undefined {
  const constant = constantOf(name, view);
  if (constant) return elementCount(constant) === 1 ? valuesOf(constant)?.[0] : undefined;
  const node = name ? view.producer.get(name)?.node : undefined;
  if (!node) return undefined;
  const [a, b] = node.input ?? [];
  const value = (input: string | undefined) => scalarValue(input, view, headDim);
  const lastOfShape = (shape: string) => view.producer.get(shape)?.node.opType === 'Shape';
  switch (node.opType) {
    case 'Cast':
    case 'Identity':
    case 'Squeeze':
    case 'Unsqueeze':
      return value(a);
    case 'Sqrt': {
      const x = value(a);
      return x === undefined ? undefined : Math.sqrt(x);
    }
    case 'Mul':
    case 'Div': {
      const [x, y] = [value(a), value(b)];
      if (x === undefined || y === undefined) return undefined;
      return node.opType === 'Mul' ? x * y : x / y; // head_dim // 2 is exact: rotary head sizes are even
    }
    case 'Gather':
      return lastOfShape(a) && isLastAxis(value(b)) ? headDim : undefined;
    case 'Slice':
      return lastOfShape(a) && intsOf(b, view)?.[0] === -1 ? headDim : undefined;
    default:
      return undefined;
  }
}

/** Whether the tensor is computed from a MatMul of two computed tensors (the scores are; a mask is not). */
function reachesMatMul(start: string, view: GraphView): boolean {
  return walkCone(start, view, (node) => node.opType === 'MatMul' && !constantOf(node.input?.[0], view) && !constantOf(node.input?.[1], view)) !== undefined;
}

/**
 * What makes an additive score term more than a mask, or undefined for a mask: a causal or padding
 * mask is built from attention_mask, positions and shapes with scalar constants, while ALiBi or a
 * learned bias reads per-head (or per-position) float constants.
 */
function biasProblem(start: string, view: GraphView): string | undefined {
  const direct = constantOf(start, view);
  if (direct && isFloat(direct.dataType ?? 0) && elementCount(direct) > 1) return `the constant "${start}" (${elementCount(direct)} values)`;
  let found: string | undefined;
  walkCone(start, view, (node) => {
    for (const input of node.input ?? []) {
      const constant = constantOf(input, view);
      const values = constant ? elementCount(constant) : 0;
      if (constant && isFloat(constant.dataType ?? 0) && values > 1) {
        found = `a tensor computed from the constant "${input}" (${values} values, in ${describe(node)})`;
        return true;
      }
    }
    return false;
  });
  return found;
}

