// Cuts an ONNX decoder (onnxruntime-genai builder form) at every attention site into L+1 segment
// graphs for onnxruntime-web. The attention nodes themselves (GroupQueryAttention, and the
// RotaryEmbedding nodes feeding it) are removed: the project's kernel takes their place. Position
// ids, masks and past/present KV vanish with them. Weights are never copied or re-encoded: every
// segment references them as external data into the original byte arrays.
//
// Segment i computes everything between attention i-1 and attention i:
//   segment 0:      input_ids -> embedding .. layer-0 norm -> q0, k0, v0 (+ residual)
//   segment i:      attn_out(i-1), residual -> o_proj, MLP, layer-i norm -> qi, ki, vi (+ residual)
//   segment L:      attn_out(L-1), residual -> o_proj, MLP, final norm, lm_head -> logits

// onnx-proto is CommonJS: Node's ESM loader only sees its default export.
import onnxProto, { type onnx } from 'onnx-proto';
import { EngineError } from '../../protocol/errors.ts';

const { ModelProto, GraphProto, TensorProto } = onnxProto.onnx;

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

interface NodeInfo {
  node: onnx.INodeProto;
  index: number;
}

interface FoundSite {
  site: AttentionSite;
  /** Nodes the kernel replaces. */
  nodes: onnx.INodeProto[];
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

  const nodes = graph.node ?? [];
  const producer = new Map<string, NodeInfo>();
  nodes.forEach((node, index) => node.output?.forEach((o) => o && producer.set(o, { node, index })));
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const graphInputs = new Set((graph.input ?? []).map((i) => i.name ?? ''));
  const width = widthInference(producer, initializers, graph);

  const found = findAttentionSites(nodes, producer, initializers);
  for (const { site } of found) site.headSize = width(site.q) / site.nHeads;
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

function findAttentionSites(
  nodes: onnx.INodeProto[],
  producer: Map<string, NodeInfo>,
  initializers: Map<string, onnx.ITensorProto>,
): FoundSite[] {
  const gqa = nodes.filter((n) => n.opType === 'GroupQueryAttention' && n.domain === MS_DOMAIN);
  if (gqa.length === 0) {
    const ops = [...new Set(nodes.map((n) => (n.domain ? `${n.domain}.${n.opType}` : n.opType)))].sort();
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      'This model has no GroupQueryAttention node, so its attention cannot be found; choose an export with GroupQueryAttention (often named "-GQA" or built by onnxruntime-genai).',
      `ops found: ${ops.join(', ')}`,
    );
  }
  return gqa.map((node, layer) => {
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
    if (inputs.slice(10).some(Boolean)) refuse('uses attention bias, head sinks or quantized KV, which the kernel does not implement');

    const replaced: onnx.INodeProto[] = [node];
    let q = query;
    let k = key;
    let cosCache: string | undefined;
    let interleaved: boolean;
    if (intAttr('do_rotary', 0) === 1) {
      cosCache = inputs[7];
      interleaved = intAttr('rotary_interleaved', 0) === 1;
    } else {
      const rq = producer.get(query)?.node;
      const rk = producer.get(key)?.node;
      if (rq?.opType !== 'RotaryEmbedding' || rk?.opType !== 'RotaryEmbedding') {
        return refuse('applies no rotary embedding this runtime recognises (neither do_rotary nor RotaryEmbedding nodes)');
      }
      q = rq.input![0];
      k = rk.input![0];
      cosCache = rq.input?.[2];
      interleaved = Number((rq.attribute ?? []).find((a) => a.name === 'interleaved')?.i ?? 0) === 1;
      replaced.push(rq, rk);
    }
    const cos = cosCache ? initializers.get(cosCache) : undefined;
    if (!cos?.dims || cos.dims.length !== 2) refuse('has no constant cos cache, so its rotary dimension is unknown');
    const nHeads = intAttr('num_heads', 0);
    const nKvHeads = intAttr('kv_num_heads', 0);
    if (nHeads < 1 || nKvHeads < 1) refuse('does not state its head counts');
    return {
      site: {
        layer, q, k, v: value, out: out!, nHeads, nKvHeads, headSize: 0, scale: attrs.get('scale')?.f ?? 0,
        rotaryInterleaved: interleaved, rotaryPairs: Number(cos!.dims![1]),
      },
      nodes: replaced,
    };
  });
}

/** Last-dimension inference for the ops decoder graphs use between attention sites. */
function widthInference(
  producer: Map<string, NodeInfo>,
  initializers: Map<string, onnx.ITensorProto>,
  graph: onnx.IGraphProto,
): (name: string) => number {
  const memo = new Map<string, number>();
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
