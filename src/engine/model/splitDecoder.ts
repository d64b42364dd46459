// Cuts an ONNX decoder at every attention site into L+1 segment graphs for onnxruntime-web. Two
// forms of attention are recognised by graph structure:
//   - GroupQueryAttention (onnxruntime-genai builder and onnx-community exports), with do_rotary
//     or with RotaryEmbedding nodes feeding it;
//   - unfused MatMul/Softmax attention (optimum/TorchScript exports): a Softmax over
//     MatMul(q, k^T) (scaled, plus a causal mask) whose probabilities multiply v, with q and k
//     traced back through RoPE (Mul/Slice/Neg/Concat), the KV-cache Concat, repeat-kv and the
//     per-head Reshape/Transpose to the projections that produce them.
// Everything between the kernel's inputs (pre-RoPE q, k, v) and its output (o_proj's input) is
// dropped: the project's kernel takes its place. Position ids, masks and past/present KV vanish
// with it. Weights are never copied or re-encoded: every segment references them as external data
// into the original byte arrays.
//
// Segment i computes everything between attention i-1 and attention i:
//   segment 0:      input_ids -> embedding .. layer-0 norm -> q0, k0, v0 (+ residual)
//   segment i:      attn_out(i-1), residual -> o_proj, MLP, layer-i norm -> qi, ki, vi (+ residual)
//   segment L:      attn_out(L-1), residual -> o_proj, MLP, final norm, lm_head -> logits

// onnx-proto is CommonJS: Node's ESM loader only sees its default export.
import onnxProto, { type onnx } from 'onnx-proto';
import { EngineError } from '../../protocol/errors.ts';

const { ModelProto, GraphProto, TensorProto } = onnxProto.onnx;
const ElemType = TensorProto.DataType;

export type ActivationDtype = 'float32' | 'float16';

/** One attention site of the graph, in the kernel's terms. Tensors are [batch, seq, width]. */
export interface AttentionSite {
  layer: number;
  /** Pre-RoPE query, key and value tensors: the kernel's inputs. */
  q: string;
  k: string;
  v: string;
  /** The attention output the rest of the graph consumes (o_proj's input). */
  out: string;
  nHeads: number;
  nKvHeads: number;
  headSize: number;
  /** Softmax scale; 0 when the graph leaves it to the default 1/sqrt(headSize). */
  scale: number;
  rotaryInterleaved: boolean;
  /** Rotating pairs per head in the graph (cos/sin cache columns). */
  rotaryPairs: number;
}

/** A tensor crossing a segment boundary. */
export interface BoundaryTensor {
  name: string;
  /** Last dimension; the tensor is [1, n, width] (input_ids: [1, n]). */
  width: number;
  dtype: ActivationDtype | 'int64';
}

export interface Segment {
  index: number;
  /** Encoded ModelProto; its initializers point into the external data files below. */
  model: Uint8Array;
  inputs: BoundaryTensor[];
  outputs: BoundaryTensor[];
}

export interface SplitDecoder {
  segments: Segment[];
  sites: AttentionSite[];
  dtype: ActivationDtype;
  vocabSize: number;
  /** Files every segment session must mount (`externalData` in session options). */
  externalData: { path: string; data: Uint8Array }[];
}

/** Name under which the original model bytes are mounted when weights were embedded in it. */
const EMBEDDED_WEIGHTS_PATH = 'embedded-weights.bin';
const MS_DOMAIN = 'com.microsoft';
const DTYPE_BY_ELEM: Record<number, ActivationDtype> = { 1: 'float32', 10: 'float16' };
/** Ops whose output has the width of their first input. */
const FIRST_INPUT_WIDTH_OPS = new Set([
  'Sigmoid', 'Cast', 'Relu', 'Tanh', 'Softplus', 'Identity', 'Erf', 'Neg', 'Sqrt', 'Gelu', 'FastGelu', 'QuickGelu',
  'SimplifiedLayerNormalization', 'LayerNormalization', 'SkipSimplifiedLayerNormalization', 'SkipLayerNormalization',
  'RotaryEmbedding', 'GroupQueryAttention',
]);
/** Broadcasting binary ops: the widest input wins. */
const BROADCAST_OPS = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'BiasGelu']);
/** Ops that compute a projection from a weight: where tracing attention inputs back must stop. */
const PROJECTION_OPS = new Set(['MatMul', 'MatMulNBits', 'Gemm']);
/** Ops that move or broadcast data without computing on it, followed when tracing q, k and v. */
const DATA_MOVEMENT_OPS = new Set(['Reshape', 'Unsqueeze', 'Squeeze', 'Expand', 'Cast', 'Identity']);
/** Ops that read only the shape of their input: bias and mask cones do not look through them. */
const SHAPE_ONLY_OPS = new Set(['Shape', 'Size']);
const HEAD_TRANSPOSE = '0,2,1,3';
const KEY_TRANSPOSE = '0,1,3,2';
/** int64 initializers up to this size are shape data (reshape shapes, axes, slice bounds). */
const INLINE_INT64_BYTES = 4096;

interface NodeInfo {
  node: onnx.INodeProto;
  index: number;
}

/** Lookups over the graph shared by every search below. */
interface GraphView {
  producer: Map<string, NodeInfo>;
  consumers: Map<string, onnx.INodeProto[]>;
  initializers: Map<string, onnx.ITensorProto>;
  graphInputs: Set<string>;
  width: (name: string) => number;
  /** Widths known from the attention sites, for tensors the op-by-op inference cannot follow. */
  knownWidths: Map<string, number>;
}

interface FoundSite {
  site: AttentionSite;
  /** Nodes the kernel replaces that the dense part would otherwise reach from o_proj. */
  nodes: onnx.INodeProto[];
  /** Nodes the splitter adds (merging heads of a per-head q/k norm), with their constants. */
  added: { node: onnx.INodeProto; initializers: onnx.ITensorProto[] }[];
}

export function splitDecoder(modelBytes: Uint8Array, externalFiles: { path: string; data: Uint8Array }[] = []): SplitDecoder {
  let model: onnx.ModelProto;
  try {
    model = ModelProto.decode(modelBytes);
  } catch (e) {
    throw new EngineError('MODEL_CORRUPT', 'The model file is not a readable ONNX model; delete it and download it again.', String(e));
  }
  const graph = model.graph;
  if (!graph) throw new EngineError('MODEL_CORRUPT', 'The ONNX file has no graph; delete it and download it again.');

  const nodes = [...(graph.node ?? [])];
  const producer = new Map<string, NodeInfo>();
  const consumers = new Map<string, onnx.INodeProto[]>();
  const addNode = (node: onnx.INodeProto, index: number) => {
    node.output?.forEach((o) => o && producer.set(o, { node, index }));
    node.input?.forEach((i) => i && consumers.set(i, [...(consumers.get(i) ?? []), node]));
  };
  nodes.forEach(addNode);
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const graphInputs = new Set((graph.input ?? []).map((i) => i.name ?? ''));
  const knownWidths = new Map<string, number>();
  const width = widthInference(producer, initializers, graph, knownWidths);
  const view: GraphView = { producer, consumers, initializers, graphInputs, width, knownWidths };

  const found = findAttentionSites(nodes, view);
  for (const { node, initializers: constants } of found.flatMap((f) => f.added)) {
    nodes.push(node);
    addNode(node, nodes.length - 1);
    for (const t of constants) initializers.set(t.name ?? '', t);
  }
  const removed = new Set(found.flatMap((f) => f.nodes));
  const siteOfOut = new Map(found.map(({ site }, i) => [site.out, i]));

  const logitsInfo = (graph.output ?? []).find((o) => o.name === 'logits') ?? graph.output?.[0];
  if (!logitsInfo?.name) throw new EngineError('MODEL_UNSUPPORTED', 'The model has no logits output, so it is not a decoder this app can run.');
  const logits = logitsInfo.name;
  const dtype = DTYPE_BY_ELEM[logitsInfo.type?.tensorType?.elemType ?? 0];
  if (!dtype) throw new EngineError('MODEL_UNSUPPORTED', `The model's logits have an unsupported element type (${logitsInfo.type?.tensorType?.elemType}).`);

  // Segment of each node: the latest attention output it depends on, plus one.
  const segmentOfNode: number[] = [];
  const segmentOfTensor = (name: string): number => {
    const site = siteOfOut.get(name);
    if (site !== undefined) return site + 1;
    const p = producer.get(name);
    return p && !removed.has(p.node) ? segmentOfNode[p.index] : 0;
  };
  nodes.forEach((node, index) => {
    segmentOfNode[index] = Math.max(0, ...(node.input ?? []).filter(Boolean).map(segmentOfTensor));
  });

  // Keep only what the kernel's inputs and the logits need: masks, positions and KV outputs drop out.
  const needed = new Set<number>();
  const visit = (name: string) => {
    const p = producer.get(name);
    if (!p || removed.has(p.node) || needed.has(p.index)) return;
    needed.add(p.index);
    for (const input of p.node.input ?? []) if (input) visit(input);
  };
  for (const { site } of found) [site.q, site.k, site.v].forEach(visit);
  visit(logits);

  const nSegments = found.length + 1;
  const parts = Array.from({ length: nSegments }, () => ({ nodes: [] as onnx.INodeProto[], inputs: new Set<string>(), outputs: new Set<string>() }));
  const notDecoder = (why: string): never => {
    throw new EngineError('MODEL_UNSUPPORTED', `${why}; the graph is not a plain decoder this runtime can split.`);
  };
  /** Records that `tensor` is read in segment `at`, routing it across the boundary if needed. */
  const read = (tensor: string, at: number) => {
    if (initializers.has(tensor)) return;
    if (graphInputs.has(tensor) && !producer.has(tensor)) {
      if (tensor !== 'input_ids') {
        throw new EngineError('MODEL_UNSUPPORTED', `The model's dense layers read the input "${tensor}", which this runtime does not feed; only input_ids reaches them.`);
      }
      parts[at].inputs.add(tensor);
      return;
    }
    const p = producer.get(tensor);
    if (p && removed.has(p.node) && !siteOfOut.has(tensor)) notDecoder(`Tensor "${tensor}", computed inside attention, is also read by the dense layers`);
    const from = segmentOfTensor(tensor);
    if (from > at) notDecoder(`Tensor "${tensor}" is read before the attention it depends on`);
    if (from === at && !siteOfOut.has(tensor)) return;
    if (!siteOfOut.has(tensor)) parts[from].outputs.add(tensor);
    parts[at].inputs.add(tensor);
  };
  [...needed].sort((a, b) => a - b).forEach((index) => {
    const node = nodes[index];
    parts[segmentOfNode[index]].nodes.push(node);
    for (const input of node.input ?? []) if (input) read(input, segmentOfNode[index]);
  });
  found.forEach(({ site }, i) => {
    for (const t of [site.q, site.k, site.v]) {
      const from = segmentOfTensor(t);
      if (from > i) notDecoder(`The inputs of attention ${i} depend on a later attention`);
      if (from < i) read(t, i);
      parts[i].outputs.add(t);
    }
  });
  if (segmentOfTensor(logits) !== nSegments - 1) notDecoder('The logits do not depend on the last attention layer');
  parts[nSegments - 1].outputs.add(logits);

  const weights = weightLocator(modelBytes, externalFiles);
  const boundary = (name: string): BoundaryTensor =>
    name === 'input_ids' ? { name, width: 1, dtype: 'int64' } : { name, width: width(name), dtype };

  const segments: Segment[] = parts.map((part, index) => {
    const used = new Set(part.nodes.flatMap((n) => n.input ?? []).filter((n) => initializers.has(n)));
    const inputs = [...part.inputs].map(boundary);
    const outputs = [...part.outputs].map(boundary);
    const segmentModel = ModelProto.create({
      irVersion: model.irVersion,
      opsetImport: model.opsetImport,
      producerName: 'endless-chat splitDecoder',
      graph: GraphProto.create({
        name: `segment_${index}`,
        node: part.nodes,
        initializer: [...used].map((name) => weights.reference(initializers.get(name)!)),
        input: inputs.map(valueInfo),
        output: outputs.map(valueInfo),
      }),
    });
    return { index, model: ModelProto.encode(segmentModel).finish(), inputs, outputs };
  });

  return { segments, sites: found.map((f) => f.site), dtype, vocabSize: width(logits), externalData: weights.files() };
}

function findAttentionSites(nodes: onnx.INodeProto[], view: GraphView): FoundSite[] {
  const gqa = nodes.filter((n) => n.opType === 'GroupQueryAttention' && n.domain === MS_DOMAIN);
  if (gqa.length > 0) return gqa.map((node, layer) => gqaSite(node, layer, view));
  const unfused: FoundSite[] = [];
  for (const softmax of nodes.filter((n) => n.opType === 'Softmax' && !n.domain)) {
    const site = unfusedSite(softmax, unfused.length, view);
    if (site) unfused.push(site);
  }
  if (unfused.length > 0) return unfused;
  const ops = [...new Set(nodes.map((n) => (n.domain ? `${n.domain}.${n.opType}` : n.opType)))].sort();
  throw new EngineError(
    'MODEL_UNSUPPORTED',
    'This model has neither GroupQueryAttention nor a MatMul/Softmax attention over q and k, so its attention cannot be found; ' +
      'choose an export with GroupQueryAttention (often named "-GQA" or built by onnxruntime-genai).',
    `ops found: ${ops.join(', ')}`,
  );
}

function gqaSite(node: onnx.INodeProto, layer: number, view: GraphView): FoundSite {
  const refuse = (why: string): never => {
    throw new EngineError('MODEL_UNSUPPORTED', `Attention layer ${layer} (${node.name || 'GroupQueryAttention'}) ${why}`);
  };
  const attrs = new Map((node.attribute ?? []).map((a) => [a.name ?? '', a]));
  const intAttr = (key: string, fallback: number) => (attrs.has(key) ? Number(attrs.get(key)!.i ?? 0) : fallback);
  const inputs = node.input ?? [];
  const [query, key, value] = inputs;
  const out = node.output?.[0];
  if (!query || !key || !value) refuse('uses packed QKV, which this runtime does not split yet');
  if (!out) refuse('has no output');
  if ((attrs.get('softcap')?.f ?? 0) !== 0) refuse('uses logit soft-capping, which the kernel does not implement');
  if (intAttr('local_window_size', -1) !== -1) refuse('has its own sliding window, which would conflict with the streaming cache');
  if (inputs.slice(10).some(Boolean)) refuse('uses attention bias, head sinks, quantized KV or fused q/k norms, which the kernel does not implement');

  const replaced: onnx.INodeProto[] = [node];
  let q = query;
  let k = key;
  let cosCache: string | undefined;
  let interleaved: boolean;
  if (intAttr('do_rotary', 0) === 1) {
    cosCache = inputs[7];
    interleaved = intAttr('rotary_interleaved', 0) === 1;
  } else {
    const rq = view.producer.get(query)?.node;
    const rk = view.producer.get(key)?.node;
    if (rq?.opType !== 'RotaryEmbedding' || rk?.opType !== 'RotaryEmbedding') {
      return refuse('applies no rotary embedding this runtime recognises (neither do_rotary nor RotaryEmbedding nodes)');
    }
    q = rq.input![0];
    k = rk.input![0];
    cosCache = rq.input?.[2];
    interleaved = Number((rq.attribute ?? []).find((a) => a.name === 'interleaved')?.i ?? 0) === 1;
    replaced.push(rq, rk);
  }
  const cos = cosCache ? view.initializers.get(cosCache) : undefined;
  if (!cos?.dims || cos.dims.length !== 2) refuse('has no constant cos cache, so its rotary dimension is unknown');
  const nHeads = intAttr('num_heads', 0);
  const nKvHeads = intAttr('kv_num_heads', 0);
  if (nHeads < 1 || nKvHeads < 1) refuse('does not state its head counts');
  return {
    site: {
      layer, q, k, v: value, out: out!, nHeads, nKvHeads, headSize: view.width(q) / nHeads, scale: attrs.get('scale')?.f ?? 0,
      rotaryInterleaved: interleaved, rotaryPairs: Number(cos!.dims![1]),
    },
    nodes: replaced,
    added: [],
  };
}

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
function unfusedSite(softmax: onnx.INodeProto, layer: number, view: GraphView): FoundSite | undefined {
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
    // its shape changes, so the dense segment ends with a Reshape to (batch, seq, heads * headDim).
    const shape = `endless.split.merged_heads.${merged}`;
    const output = `${traced.tensor}/merged_heads`;
    added.push({
      node: { opType: 'Reshape', name: `${traced.tensor}/MergeHeads`, input: [traced.tensor, shape], output: [output] },
      initializers: [{ name: shape, dims: [3], dataType: ElemType.INT64, int64Data: [0, 0, merged] }],
    });
    view.knownWidths.set(output, merged);
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

/** Axis -1 or 3: the head dim of a (batch, heads, seq, headDim) tensor. */
function isLastAxis(axis: number | undefined): boolean {
  return axis === -1 || axis === 3;
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

/** First node in the backward cone of `start` (not looking through shape reads) that matches. */
function walkCone(start: string, view: GraphView, match: (node: onnx.INodeProto) => boolean): onnx.INodeProto | undefined {
  const seen = new Set<string>();
  const stack = [start];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    const node = view.producer.get(t)?.node;
    if (!node) continue;
    if (match(node)) return node;
    if (!SHAPE_ONLY_OPS.has(node.opType ?? '')) stack.push(...(node.input ?? []).filter(Boolean));
  }
  return undefined;
}

/** The nearest node up the first-input chain from `start` (a few steps) that matches. */
function findBack(start: string, view: GraphView, match: (node: onnx.INodeProto) => boolean): onnx.INodeProto | undefined {
  let t = start;
  for (let step = 0; step < 8; step++) {
    const node = view.producer.get(t)?.node;
    if (!node) return undefined;
    if (match(node)) return node;
    // A decomposed norm multiplies a weight by the normalised input: follow the computed operand.
    t = (node.input ?? []).find((i) => i && !constantOf(i, view)) ?? '';
  }
  return undefined;
}

function soleConsumer(tensor: string, view: GraphView): onnx.INodeProto | undefined {
  const readers = view.consumers.get(tensor) ?? [];
  return readers.length === 1 ? readers[0] : undefined;
}

function describe(node: onnx.INodeProto | undefined): string {
  if (!node) return 'several nodes or none';
  return node.name ? `${node.opType} "${node.name}"` : `a ${node.opType} node`;
}

function attr(node: onnx.INodeProto, name: string): number | undefined {
  const a = (node.attribute ?? []).find((x) => x.name === name);
  return a ? Number(a.i ?? 0) : undefined;
}

function tryWidth(tensor: string, view: GraphView): number | undefined {
  try {
    return view.width(tensor);
  } catch {
    return undefined;
  }
}

/** The tensor behind a name when it is an initializer or a Constant node's output. */
function constantOf(name: string | undefined, view: Pick<GraphView, 'producer' | 'initializers'>): onnx.ITensorProto | undefined {
  if (!name) return undefined;
  const init = view.initializers.get(name);
  if (init) return init;
  const node = view.producer.get(name)?.node;
  if (node?.opType !== 'Constant') return undefined;
  const a = node.attribute?.[0];
  if (!a) return undefined;
  if (a.t) return a.t;
  if (a.name === 'value_float') return { dataType: ElemType.FLOAT, dims: [], floatData: [a.f ?? 0] };
  if (a.name === 'value_floats') return { dataType: ElemType.FLOAT, dims: [a.floats?.length ?? 0], floatData: a.floats ?? [] };
  if (a.name === 'value_int') return { dataType: ElemType.INT64, dims: [], int64Data: [a.i ?? 0] };
  if (a.name === 'value_ints') return { dataType: ElemType.INT64, dims: [a.ints?.length ?? 0], int64Data: a.ints ?? [] };
  return undefined;
}

function elementCount(t: onnx.ITensorProto): number {
  return (t.dims ?? []).reduce<number>((n, d) => n * Number(d), 1);
}

function isFloat(dataType: number): boolean {
  return dataType === ElemType.FLOAT || dataType === ElemType.FLOAT16 || dataType === ElemType.DOUBLE || dataType === ElemType.BFLOAT16;
}

/** The values of a small constant held in the model itself (not in external data). */
function valuesOf(t: onnx.ITensorProto): number[] | undefined {
  const raw = t.rawData;
  const type = t.dataType ?? 0;
  if (raw && raw.byteLength > 0) {
    const bytes = new Uint8Array(raw); // an aligned copy (raw_data views sit at any offset; Buffer.slice would not copy)
    switch (type) {
      case ElemType.FLOAT: return Array.from(new Float32Array(bytes.buffer));
      case ElemType.DOUBLE: return Array.from(new Float64Array(bytes.buffer));
      case ElemType.INT64: return Array.from(new BigInt64Array(bytes.buffer), Number);
      case ElemType.INT32: return Array.from(new Int32Array(bytes.buffer));
      case ElemType.FLOAT16: return Array.from(new Uint16Array(bytes.buffer), halfToFloat);
      default: return undefined;
    }
  }
  if (t.floatData?.length) return t.floatData;
  if (t.doubleData?.length) return t.doubleData;
  if (t.int64Data?.length) return t.int64Data.map(Number);
  if (t.int32Data?.length) return type === ElemType.FLOAT16 ? t.int32Data.map(halfToFloat) : t.int32Data;
  return undefined;
}

function scalarOf(name: string | undefined, view: GraphView): number | undefined {
  const t = constantOf(name, view);
  if (!t || elementCount(t) !== 1) return undefined;
  return valuesOf(t)?.[0];
}

/**
 * int64 values of a shape-like tensor: a constant, or a Concat of constants and unsqueezed
 * dynamic scalars (read as -1), as TorchScript spells view(bsz, q_len, heads, head_dim).
 */
function intsOf(name: string | undefined, view: Pick<GraphView, 'producer' | 'initializers'>): number[] | undefined {
  const constant = constantOf(name, view);
  if (constant) return valuesOf(constant);
  const node = name ? view.producer.get(name)?.node : undefined;
  if (node?.opType === 'Cast') return intsOf(node.input![0], view);
  if (node?.opType !== 'Concat') return undefined;
  const parts = (node.input ?? []).map((i) => intsOf(i, view) ?? (view.producer.get(i)?.node.opType === 'Unsqueeze' ? [-1] : undefined));
  return parts.every(Boolean) ? parts.flatMap((p) => p!) : undefined;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** Last-dimension inference for the ops decoder graphs use between attention sites. */
function widthInference(
  producer: Map<string, NodeInfo>,
  initializers: Map<string, onnx.ITensorProto>,
  graph: onnx.IGraphProto,
  memo: Map<string, number>,
): (name: string) => number {
  for (const vi of [...(graph.valueInfo ?? []), ...(graph.input ?? []), ...(graph.output ?? [])]) {
    const dims = vi.type?.tensorType?.shape?.dim;
    const last = dims?.[dims.length - 1]?.dimValue;
    if (vi.name && last !== undefined && last !== null && Number(last) > 0) memo.set(vi.name, Number(last));
  }
  const width = (name: string): number => {
    const known = memo.get(name);
    if (known !== undefined) return known;
    const init = initializers.get(name);
    let result: number | undefined;
    if (init) {
      const dims = (init.dims ?? []).map(Number);
      result = dims.length === 0 ? 1 : dims[dims.length - 1];
    } else {
      const node = producer.get(name)?.node;
      if (!node) throw new EngineError('MODEL_UNSUPPORTED', `Cannot tell the width of tensor "${name}": nothing produces it.`);
      const inputs = (node.input ?? []).filter(Boolean);
      const op = node.opType ?? '';
      if (op === 'MatMul') result = width(inputs[1]);
      else if (op === 'MatMulNBits') result = Number((node.attribute ?? []).find((a) => a.name === 'N')?.i ?? 0) || undefined;
      else if (op === 'Gather') {
        const data = initializers.get(inputs[0]);
        result = data?.dims?.length === 2 ? Number(data.dims[1]) : undefined;
      } else if (op === 'Reshape') {
        // A constant shape states the last dim (0 copies the input's).
        const last = intsOf(inputs[1], { producer, initializers })?.at(-1);
        result = last === 0 ? width(inputs[0]) : last !== undefined && last > 0 ? last : undefined;
      } else if (FIRST_INPUT_WIDTH_OPS.has(op)) result = width(inputs[0]);
      else if (BROADCAST_OPS.has(op)) result = Math.max(...inputs.map(width));
      if (result === undefined) {
        throw new EngineError('MODEL_UNSUPPORTED', `Cannot tell the width of tensor "${name}" produced by ${op}; this graph form is not supported.`);
      }
    }
    memo.set(name, result);
    return result;
  };
  return width;
}

/** Rewrites initializers as external references into the bytes they already live in. */
function weightLocator(modelBytes: Uint8Array, externalFiles: { path: string; data: Uint8Array }[]) {
  let embeddedUsed = false;
  const external = new Map(externalFiles.map((f) => [f.path.replace(/^\.\//, ''), f.data]));
  return {
    reference(tensor: onnx.ITensorProto): onnx.ITensorProto {
      if (tensor.dataLocation === TensorProto.DataLocation.EXTERNAL) {
        const location = (tensor.externalData ?? []).find((e) => e.key === 'location')?.value?.replace(/^\.\//, '');
        if (!location || !external.has(location)) {
          throw new EngineError('MODEL_CORRUPT', `The model needs its external data file "${location}", which is missing; download the model again.`);
        }
        return tensor;
      }
      const raw = tensor.rawData;
      if (!raw || raw.byteLength === 0) return tensor; // small constants in typed fields stay inline
      // Shape data (reshape shapes, axes) stays inline: onnxruntime reads it during shape
      // inference and refuses external data there. It is a few bytes.
      if (tensor.dataType === ElemType.INT64 && raw.byteLength <= INLINE_INT64_BYTES) return tensor;
      const offset = raw.byteOffset - modelBytes.byteOffset;
      if (raw.buffer !== modelBytes.buffer || offset < 0 || offset + raw.byteLength > modelBytes.byteLength) {
        throw new Error('protobuf decoding copied raw_data, so weights can no longer be referenced in place');
      }
      embeddedUsed = true;
      return TensorProto.create({
        name: tensor.name,
        dims: tensor.dims,
        dataType: tensor.dataType,
        dataLocation: TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: EMBEDDED_WEIGHTS_PATH },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(raw.byteLength) },
        ],
      });
    },
    files(): { path: string; data: Uint8Array }[] {
      const files = [...external].map(([path, data]) => ({ path, data }));
      return embeddedUsed ? [{ path: EMBEDDED_WEIGHTS_PATH, data: modelBytes }, ...files] : files;
    },
  };
}

function valueInfo(t: BoundaryTensor): onnx.IValueInfoProto {
  const elemType = t.dtype === 'int64' ? 7 : t.dtype === 'float16' ? 10 : 1;
  const dim: onnx.TensorShapeProto.IDimension[] = [{ dimParam: 'batch_size' }, { dimParam: 'sequence_length' }];
  if (t.dtype !== 'int64') dim.push({ dimValue: t.width });
  return { name: t.name, type: { tensorType: { elemType, shape: { dim } } } };
}
