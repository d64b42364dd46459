// Cuts an ONNX decoder at every attention site into L+1 segment graphs for onnxruntime-web. The
// attention forms are recognised by graph structure, one recogniser per form (gqa.ts, mha.ts,
// unfused.ts). Everything between the kernel's inputs (pre-RoPE q, k, v) and its output (o_proj's
// input) is dropped: the project's kernel takes its place. Position ids, masks and past/present KV
// vanish with it. Weights are never copied or re-encoded: every segment references them as
// external data into the original byte arrays.
//
// Segment i computes everything between attention i-1 and attention i:
//   segment 0:      input_ids -> embedding .. layer-0 norm -> q0, k0, v0 (+ residual)
//   segment i:      attn_out(i-1), residual -> o_proj, MLP, layer-i norm -> qi, ki, vi (+ residual)
//   segment L:      attn_out(L-1), residual -> o_proj, MLP, final norm, lm_head -> logits

import type { onnx } from 'onnx-proto';
import { EngineError } from '../../../protocol/errors.ts';
import { GraphProto, graphView, ModelProto, MS_DOMAIN, useFloatActivations, type GraphView } from './graph.ts';
import { gqaSite } from './gqa.ts';
import { mhaSite } from './mha.ts';
import { dropOutputViews } from './outputViews.ts';
import type { AttentionSite, FoundSite } from './sites.ts';
import { unfusedSite } from './unfused.ts';
import { weightLocator, type ExternalFile, type WeightLocator } from './weights.ts';

export type { AttentionSite } from './sites.ts';
export type ActivationDtype = 'float32' | 'float16';

/** A tensor crossing a segment boundary. */
export interface BoundaryTensor {
  name: string;
  /** Last dimension; the tensor is [1, n, width] (input_ids: [1, n]). */
  width: number;
  dtype: ActivationDtype | 'int64';
  /** Where the segment writes this output in a per-head shape (the same bytes): per-token dims,
   *  [1, f, ...rest] meaning [1, n·f, ...rest]. */
  tokenShape?: number[];
}

/** The dims a segment reads or writes a boundary tensor with, for a chunk of n tokens. */
export function boundaryDims(t: BoundaryTensor, n: number): number[] {
  if (t.dtype === 'int64') return [1, n];
  return t.tokenShape ? [1, n * t.tokenShape[1], ...t.tokenShape.slice(2)] : [1, n, t.width];
}

export interface Segment {
  index: number;
  /** Encoded ModelProto; its initializers point into the external data files below. */
  model: Uint8Array;
  inputs: BoundaryTensor[];
  outputs: BoundaryTensor[];
  /** Why onnxruntime could not replay this segment's captured graph, where it could not. */
  captureBlocker?: string;
}

/** The graph's rotary tables (row p: cos and sin of p times each pair's frequency), row-major. */
export interface RotaryTables {
  rows: number;
  pairs: number;
  cos: Float32Array;
  sin: Float32Array;
}

export interface SplitDecoder {
  segments: Segment[];
  sites: AttentionSite[];
  dtype: ActivationDtype;
  vocabSize: number;
  /** Files every segment session must mount (`externalData` in session options). */
  externalData: ExternalFile[];
  /** Layer 0's cos/sin tables, where the graph holds them: the RoPE the model was exported with. */
  rotaryTables?: RotaryTables;
}

const DTYPE_BY_ELEM: Record<number, ActivationDtype> = { 1: 'float32', 10: 'float16' };
/** Rows of the rotary tables kept for checking the config against: enough to tell any theta apart. */
const MAX_ROTARY_ROWS = 16384;

export function splitDecoder(modelBytes: Uint8Array, externalFiles: ExternalFile[] = []): SplitDecoder {
  let model: onnx.ModelProto;
  try {
    model = ModelProto.decode(modelBytes);
  } catch (e) {
    throw new EngineError('MODEL_CORRUPT', 'The model file is not a readable ONNX model; delete it and download it again.', String(e));
  }
  const graph = model.graph;
  if (!graph) throw new EngineError('MODEL_CORRUPT', 'The ONNX file has no graph; delete it and download it again.');

  const nodes = [...(graph.node ?? [])];
  const view = graphView(graph, nodes);
  const { producer, initializers, graphInputs, width } = view;

  const found = findAttentionSites(nodes, view);
  for (const { node, initializers: constants } of found.flatMap((f) => f.added)) {
    nodes.push(node);
    view.addNode(node, nodes.length - 1);
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
    if (p?.node.opType === 'Constant' && from !== at) {
      // Builder graphs share constants between layers: each segment gets its own copy.
      if (!parts[at].nodes.includes(p.node)) parts[at].nodes.unshift(p.node);
      return;
    }
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

  useFloatActivations(nodes);
  const weights = weightLocator(modelBytes, externalFiles);
  const boundary = (name: string): BoundaryTensor =>
    name === 'input_ids' ? { name, width: 1, dtype: 'int64' } : { name, width: width(name), dtype };

  const segments: Segment[] = parts.map((part, index) => {
    const { tokenShapes, captureBlocker } = dropOutputViews(part, view);
    const used = new Set(part.nodes.flatMap((n) => n.input ?? []).filter((n) => initializers.has(n)));
    const inputs = [...part.inputs].map(boundary);
    const outputs = [...part.outputs].map((name) => ({ ...boundary(name), ...(tokenShapes.has(name) ? { tokenShape: tokenShapes.get(name) } : {}) }));
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
    return { index, model: ModelProto.encode(segmentModel).finish(), inputs, outputs, ...(captureBlocker ? { captureBlocker } : {}) };
  });

  const sites = found.map((f) => f.site);
  return { segments, sites, dtype, vocabSize: width(logits), externalData: weights.files(), rotaryTables: rotaryTables(sites[0], view, weights) };
}

function findAttentionSites(nodes: onnx.INodeProto[], view: GraphView): FoundSite[] {
  const fused = nodes.filter((n) => n.domain === MS_DOMAIN && (n.opType === 'GroupQueryAttention' || n.opType === 'MultiHeadAttention'));
  if (fused.length > 0) return fused.map((node, layer) => (node.opType === 'GroupQueryAttention' ? gqaSite(node, layer, view) : mhaSite(node, layer, view)));
  const unfused: FoundSite[] = [];
  for (const softmax of nodes.filter((n) => n.opType === 'Softmax' && !n.domain)) {
    const site = unfusedSite(softmax, unfused.length, view);
    if (site) unfused.push(site);
  }
  if (unfused.length > 0) return unfused;
  const ops = [...new Set(nodes.map((n) => (n.domain ? `${n.domain}.${n.opType}` : n.opType)))].sort();
  throw new EngineError(
    'MODEL_UNSUPPORTED',
    'This model has no attention this app recognises (GroupQueryAttention, MultiHeadAttention with RotaryEmbedding, or a MatMul/Softmax attention over q and k); ' +
      'choose an ONNX export made by onnxruntime-genai or an onnx-community repository.',
    `ops found: ${ops.join(', ')}`,
  );
}

function rotaryTables(site: AttentionSite | undefined, view: GraphView, weights: WeightLocator): RotaryTables | undefined {
  const [cos, sin] = [site?.rotaryTables?.cos, site?.rotaryTables?.sin].map((name) => (name ? view.initializers.get(name) : undefined));
  if (!cos?.dims || !sin || cos.dims.length !== 2) return undefined;
  const pairs = Number(cos.dims[1]);
  const rows = Math.min(Number(cos.dims[0]), MAX_ROTARY_ROWS);
  const read = (t: onnx.ITensorProto) => {
    const values = weights.values(t);
    return Float32Array.from({ length: rows * pairs }, (_, i) => values[i]);
  };
  return { rows, pairs, cos: read(cos), sin: read(sin) };
}

function valueInfo(t: BoundaryTensor): onnx.IValueInfoProto {
  const elemType = t.dtype === 'int64' ? 7 : t.dtype === 'float16' ? 10 : 1;
  const dim: onnx.TensorShapeProto.IDimension[] = [{ dimParam: 'batch_size' }];
  if (t.tokenShape) {
    const [, perToken, ...rest] = t.tokenShape;
    dim.push({ dimParam: perToken === 1 ? 'sequence_length' : `sequence_length*${perToken}` }, ...rest.map((d) => ({ dimValue: d })));
  } else {
    dim.push({ dimParam: 'sequence_length' });
    if (t.dtype !== 'int64') dim.push({ dimValue: t.width });
  }
  return { name: t.name, type: { tensorType: { elemType, shape: { dim } } } };
}


