// StreamingAttention: the WGSL attention of one model over its KvCache. Per chunk of new tokens
// the CPU writes one uniform and one cos/sin table, shared by all layers; per layer it encodes
// three dispatches in one pass: kv_append (store the new K/V), attention (split softmax over the
// visible keys) and attention_combine (merge the splits into the output for o_proj).
//
// Usage, per chunk:  attention.beginChunk(n); for each layer: attention.run(layer, io); attention.endChunk();

import { EngineError } from '../../protocol/errors.ts';
import type { KvCache } from '../kv/kvCache.ts';
import type { ChunkPlan } from '../kv/ringLayout.ts';
import { CHUNK_PARAMS_BYTES, packChunkParams, type ChunkParams } from './chunkParams.ts';
import { fillRopeTable, inverseFrequencies, ropeTableLength, validateRope, type RopeConfig } from './rope.ts';
import { ATTENTION_WORKGROUP } from './kernelSizes.ts';
import { SHADERS } from './shaderSources.ts';

export type IoDtype = 'f32' | 'f16';

export interface AttentionConfig {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** Dtype of q, k, v and the output; f16 is packed two per u32. */
  ioDtype: IoDtype;
  /** Softmax scale; 1/sqrt(headDim) when absent. */
  scale?: number;
  rope: RopeConfig;
}

/** GPU tensors of one layer's call. q: [n, nHeads, headDim]; k, v: [n, nKvHeads, headDim]; out: [n, nHeads, headDim]. */
export interface AttentionIO {
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  out: GPUBuffer;
}

const MAX_ROWS = 32;
/** Enough workgroups to fill a large GPU; decode splits the window until it has this many. */
const TARGET_WORKGROUPS = 256;
/** Decode never splits a window more than this, so the partial buffer stays small. */
const MAX_DECODE_SPLITS = 64;
/** Storage buffers bound by the widest kernel (kv_append and attention bind five). */
const STORAGE_BUFFERS_NEEDED = 5;

export class StreamingAttention {
  private readonly group: number;
  private readonly invFreq: Float64Array;
  private readonly ropeHost: Float32Array<ArrayBuffer>;
  private readonly scale: number;
  private readonly maxRows: number;
  private readonly partialRows: number;
  private readonly params: GPUBuffer;
  private readonly ropeTable: GPUBuffer;
  private readonly partial: GPUBuffer;
  private readonly appendLayout: GPUBindGroupLayout;
  private readonly attentionLayout: GPUBindGroupLayout;
  private readonly combineLayout: GPUBindGroupLayout;
  private readonly appendPipeline: GPUComputePipeline;
  private readonly combinePipeline: GPUComputePipeline;
  private readonly attentionModule: GPUShaderModule;
  private readonly attentionPipelines = new Map<number, GPUComputePipeline>();
  private readonly bindGroups = new Map<string, GPUBindGroup[]>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private readonly bindGroupsByIo = new WeakMap<AttentionIO, { layer: number; groups: GPUBindGroup[] }>();
  private nextBufferId = 0;
  /** The chunk between beginChunk and endChunk; its record and uniform bytes are reused. */
  private active = false;
  private readonly chunk = { t0: 0, nNew: 0, nSplits: 0, rows: 0 };
  private readonly paramValues: ChunkParams = { t0: 0, nNew: 0, nSinks: 0, windowSize: 0, ringSize: 0, nSplits: 0, scale: 0 };
  private readonly paramBytes = new ArrayBuffer(CHUNK_PARAMS_BYTES);

  private constructor(
    private readonly device: GPUDevice,
    readonly config: AttentionConfig,
    readonly cache: KvCache,
  ) {
    const { nHeads, nKvHeads, headDim, rope } = config;
    const maxChunk = cache.layout.maxChunk;
    this.group = nHeads / nKvHeads;
    this.scale = config.scale ?? 1 / Math.sqrt(headDim);
    this.invFreq = inverseFrequencies(rope);
    this.ropeHost = new Float32Array(ropeTableLength(maxChunk, rope.rotaryDim));
    this.maxRows = maxRowsPerWorkgroup(device, headDim);
    this.partialRows = Math.max(maxChunk, MAX_DECODE_SPLITS);

    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
    this.params = device.createBuffer({ label: 'attention.params', size: CHUNK_PARAMS_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.ropeTable = device.createBuffer({ label: 'attention.rope', size: this.ropeHost.byteLength, usage });
    this.partial = device.createBuffer({ label: 'attention.partial', size: partialBytes(config, this.partialRows), usage: GPUBufferUsage.STORAGE });

    const rotHalf = rope.rotaryDim / 2;
    const interleaved = rope.layout === 'interleaved';
    const ioF16 = config.ioDtype === 'f16';
    const cacheF16 = cache.config.dtype === 'f16';
    this.appendLayout = storageLayout(device, 'attention.append', ['read', 'read', 'write', 'write', 'read']);
    this.attentionLayout = storageLayout(device, 'attention.main', ['read', 'read', 'read', 'read', 'write']);
    this.combineLayout = storageLayout(device, 'attention.combine', ['read', 'write']);
    this.appendPipeline = pipeline(device, this.appendLayout, SHADERS.kvAppend, 'kv_append', {
      HEAD_DIM: headDim, N_KV_HEADS: nKvHeads, ROT_HALF: rotHalf, INTERLEAVED: interleaved, IO_F16: ioF16, CACHE_F16: cacheF16,
    });
    this.combinePipeline = pipeline(device, this.combineLayout, SHADERS.attentionCombine, 'attention_combine', {
      HEAD_DIM: headDim, N_HEADS: nHeads, IO_F16: ioF16,
    });
    this.attentionModule = device.createShaderModule({ label: 'attention', code: SHADERS.attention });
  }

  /** Checks shapes and device limits, then builds the pipelines; throws EngineError before any GPU work. */
  static create(device: GPUDevice, config: AttentionConfig, cache: KvCache): StreamingAttention {
    validateAttention(device, config, cache);
    return new StreamingAttention(device, config, cache);
  }

  /** Plans an append of nNew tokens for every layer and uploads its uniform and cos/sin table. */
  beginChunk(nNew: number): ChunkPlan {
    if (this.active) throw new EngineError('CONFIG_INVALID', 'The previous chunk was not ended before a new one began.');
    const layout = this.cache.layout;
    const plan = layout.planChunk(nNew);
    // Two tilings, so two pipelines compile once: decode's one token, and every prefill chunk at
    // the widest tile (rows past the chunk's end are masked).
    const rows = nNew === 1 ? Math.min(nextPowerOfTwo(this.group), this.maxRows) : this.maxRows;
    const rowGroups = Math.ceil((nNew * this.group) / rows);
    // Upper bound on the keys one row group sees: its sinks plus a window and its own span.
    const tLast = plan.t0 + nNew - 1;
    const keys = Math.min(tLast + 1, layout.nSinks + layout.windowSize + Math.ceil(rows / this.group));
    const tiles = Math.ceil(keys / ATTENTION_WORKGROUP);
    const wanted = Math.ceil(TARGET_WORKGROUPS / (rowGroups * this.config.nKvHeads));
    const nSplits = Math.max(1, Math.min(wanted, tiles, Math.floor(this.partialRows / nNew)));

    const p = this.paramValues;
    p.t0 = plan.t0;
    p.nNew = nNew;
    p.nSinks = layout.nSinks;
    p.windowSize = layout.windowSize;
    p.ringSize = layout.ringSize;
    p.nSplits = nSplits;
    p.scale = this.scale;
    this.device.queue.writeBuffer(this.params, 0, packChunkParams(p, this.paramBytes));
    fillRopeTable(this.ropeHost, this.invFreq, layout, plan);
    this.device.queue.writeBuffer(this.ropeTable, 0, this.ropeHost, 0, ropeTableLength(nNew, this.config.rope.rotaryDim));
    const chunk = this.chunk;
    chunk.t0 = plan.t0;
    chunk.nNew = nNew;
    chunk.nSplits = nSplits;
    chunk.rows = rows;
    this.active = true;
    return plan;
  }

  /** Appends the chunk's K/V to `layer` and writes its attention output to io.out. */
  run(layer: number, io: AttentionIO): void {
    const chunk = this.chunk;
    if (!this.active) throw new EngineError('CONFIG_INVALID', 'run() needs beginChunk() first.');
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.cache.layers.length) {
      throw new EngineError('CONFIG_INVALID', `Layer ${layer} does not exist; the cache has ${this.cache.layers.length}.`);
    }
    this.checkIo(io, chunk.nNew);
    const [append, attention, combine] = this.bindGroupsFor(layer, io);
    const { nKvHeads, nHeads, headDim } = this.config;
    const limit = this.device.limits.maxComputeWorkgroupsPerDimension;

    const encoder = this.device.createCommandEncoder({ label: `attention.layer${layer}` });
    const pass = encoder.beginComputePass();
    const appendGroups = Math.ceil((chunk.nNew * nKvHeads * headDim) / 2 / ATTENTION_WORKGROUP);
    pass.setPipeline(this.appendPipeline);
    pass.setBindGroup(0, append);
    pass.dispatchWorkgroups(Math.min(appendGroups, limit), Math.ceil(appendGroups / limit));

    pass.setPipeline(this.attentionPipeline(chunk.rows));
    pass.setBindGroup(0, attention);
    pass.dispatchWorkgroups(Math.ceil((chunk.nNew * this.group) / chunk.rows), nKvHeads, chunk.nSplits);

    pass.setPipeline(this.combinePipeline);
    pass.setBindGroup(0, combine);
    pass.dispatchWorkgroups(chunk.nNew, nHeads);
    pass.end();
    this.device.queue.submit([encoder.finish()]);
  }

  /** Makes the chunk part of the stream, after every layer ran. */
  endChunk(): void {
    if (!this.active) throw new EngineError('CONFIG_INVALID', 'endChunk() without beginChunk().');
    this.cache.layout.commit(this.chunk);
    this.active = false;
  }

  /** Drops a chunk that was begun but will not be finished (for example on cancellation). */
  abandonChunk(): void {
    this.active = false;
  }

  destroy(): void {
    this.params.destroy();
    this.ropeTable.destroy();
    this.partial.destroy();
  }

  private attentionPipeline(rows: number): GPUComputePipeline {
    let found = this.attentionPipelines.get(rows);
    if (!found) {
      const { nKvHeads, headDim, ioDtype, rope } = this.config;
      found = this.device.createComputePipeline({
        label: `attention.rows${rows}`,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [this.attentionLayout] }),
        compute: {
          module: this.attentionModule,
          entryPoint: 'main',
          constants: {
            HEAD_DIM: headDim,
            N_KV_HEADS: nKvHeads,
            GROUP: this.group,
            ROT_HALF: rope.rotaryDim / 2,
            INTERLEAVED: rope.layout === 'interleaved' ? 1 : 0,
            ROWS: rows,
            IO_F16: ioDtype === 'f16' ? 1 : 0,
            CACHE_F16: this.cache.config.dtype === 'f16' ? 1 : 0,
          },
        },
      });
      this.attentionPipelines.set(rows, found);
    }
    return found;
  }

  private bindGroupsFor(layer: number, io: AttentionIO): GPUBindGroup[] {
    // A caller that passes the same io object every time (the decoder does) skips building the key.
    const known = this.bindGroupsByIo.get(io);
    if (known?.layer === layer) return known.groups;
    const key = [layer, this.idOf(io.q), this.idOf(io.k), this.idOf(io.v), this.idOf(io.out)].join(':');
    let groups = this.bindGroups.get(key);
    if (!groups) {
      const { keys, values } = this.cache.layers[layer];
      const entries = (buffers: GPUBuffer[]): GPUBindGroupEntry[] =>
        [this.params, ...buffers].map((buffer, binding) => ({ binding, resource: { buffer } }));
      groups = [
        this.device.createBindGroup({ layout: this.appendLayout, entries: entries([io.k, io.v, keys, values, this.ropeTable]) }),
        this.device.createBindGroup({ layout: this.attentionLayout, entries: entries([io.q, keys, values, this.ropeTable, this.partial]) }),
        this.device.createBindGroup({ layout: this.combineLayout, entries: entries([this.partial, io.out]) }),
      ];
      this.bindGroups.set(key, groups);
    }
    this.bindGroupsByIo.set(io, { layer, groups });
    return groups;
  }

  private idOf(buffer: GPUBuffer): number {
    let id = this.bufferIds.get(buffer);
    if (id === undefined) {
      id = this.nextBufferId++;
      this.bufferIds.set(buffer, id);
    }
    return id;
  }

  private checkIo(io: AttentionIO, nNew: number): void {
    const { nHeads, nKvHeads, headDim, ioDtype } = this.config;
    const bytes = ioDtype === 'f16' ? 2 : 4;
    const need: [keyof AttentionIO, number][] = [
      ['q', nNew * nHeads * headDim * bytes],
      ['k', nNew * nKvHeads * headDim * bytes],
      ['v', nNew * nKvHeads * headDim * bytes],
      ['out', nNew * nHeads * headDim * bytes],
    ];
    for (const [name, size] of need) {
      const buffer = io[name];
      if (!(buffer.usage & GPUBufferUsage.STORAGE)) {
        throw new EngineError('CONFIG_INVALID', `The attention input "${name}" must be a STORAGE buffer.`);
      }
      if (buffer.size < size) {
        throw new EngineError(
          'CONFIG_INVALID',
          `The attention input "${name}" holds ${buffer.size} bytes but a chunk of ${nNew} tokens needs ${size}.`,
        );
      }
    }
  }
}

/** Workgroup memory of attention.wgsl with `rows` rows: per row q_rot (2 * headDim), scores (one
 *  per key of a tile), acc (headDim) and 3 row scalars, f32 each; plus tile_slot. */
function workgroupBytes(headDim: number, rows: number): number {
  return rows * (3 * headDim + ATTENTION_WORKGROUP + 3) * 4 + ATTENTION_WORKGROUP * 4;
}

/** Rows of (token, query head) a workgroup can hold in workgroup memory, at most MAX_ROWS. */
function maxRowsPerWorkgroup(device: GPUDevice, headDim: number): number {
  let rows = MAX_ROWS;
  while (rows > 1 && workgroupBytes(headDim, rows) > device.limits.maxComputeWorkgroupStorageSize) rows /= 2;
  return rows;
}

function partialBytes(config: AttentionConfig, rows: number): number {
  return rows * config.nHeads * (config.headDim + 2) * 4;
}

function validateAttention(device: GPUDevice, config: AttentionConfig, cache: KvCache): void {
  const { nHeads, nKvHeads, headDim, ioDtype, scale, rope } = config;
  const bad = (why: string): never => {
    throw new EngineError('UNSUPPORTED_SHAPE', `The attention kernel cannot run this model: ${why}`);
  };
  if (!Number.isInteger(nHeads) || !Number.isInteger(nKvHeads) || nKvHeads < 1 || nHeads < nKvHeads) {
    bad(`${nHeads} query heads over ${nKvHeads} KV heads.`);
  }
  if (nHeads % nKvHeads !== 0) bad(`${nHeads} query heads cannot be grouped evenly over ${nKvHeads} KV heads.`);
  if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2 !== 0) bad(`head dim ${headDim} is not even.`);
  if (ioDtype !== 'f32' && ioDtype !== 'f16') bad(`unknown input dtype "${String(ioDtype)}".`);
  if (scale !== undefined && !(scale > 0 && Number.isFinite(scale))) bad(`scale ${scale} is not a positive number.`);
  if (cache.config.nKvHeads !== nKvHeads || cache.config.headDim !== headDim) {
    bad(`the cache holds ${cache.config.nKvHeads} KV heads of ${cache.config.headDim} dims, the model ${nKvHeads} of ${headDim}.`);
  }
  validateRope(rope, headDim);

  const limits = device.limits;
  const limit = (why: string, detail: string): never => {
    throw new EngineError('DEVICE_LIMIT', `This GPU cannot run the attention kernel: ${why}`, detail);
  };
  if (limits.maxStorageBuffersPerShaderStage < STORAGE_BUFFERS_NEEDED) {
    limit(
      `it binds ${STORAGE_BUFFERS_NEEDED} storage buffers per shader and the device allows ${limits.maxStorageBuffersPerShaderStage}.`,
      'maxStorageBuffersPerShaderStage',
    );
  }
  const rowBytes = workgroupBytes(headDim, 1);
  if (rowBytes > limits.maxComputeWorkgroupStorageSize) {
    limit(
      `head dim ${headDim} needs ${rowBytes} bytes of workgroup memory and the device has ${limits.maxComputeWorkgroupStorageSize}.`,
      'maxComputeWorkgroupStorageSize',
    );
  }
  const maxChunk = cache.layout.maxChunk;
  const bytes = ioDtype === 'f16' ? 2 : 4;
  const buffers: [string, number][] = [
    ['partial softmax state', partialBytes(config, Math.max(maxChunk, MAX_DECODE_SPLITS))],
    ['query chunk', maxChunk * nHeads * headDim * bytes],
    ['cos/sin table', ropeTableLength(maxChunk, rope.rotaryDim) * 4],
  ];
  for (const [what, size] of buffers) {
    if (size > limits.maxStorageBufferBindingSize) {
      limit(
        `its ${what} needs ${size} bytes for chunks of ${maxChunk} tokens and the device binds at most ${limits.maxStorageBufferBindingSize}; use smaller chunks.`,
        'maxStorageBufferBindingSize',
      );
    }
  }
  if (maxChunk > limits.maxComputeWorkgroupsPerDimension || nHeads > limits.maxComputeWorkgroupsPerDimension) {
    limit(`a chunk of ${maxChunk} tokens exceeds the device's dispatch size.`, 'maxComputeWorkgroupsPerDimension');
  }
}

type Access = 'read' | 'write';

/** Binding 0 is the ChunkParams uniform, then one storage buffer per entry of `access`. */
function storageLayout(device: GPUDevice, label: string, access: Access[]): GPUBindGroupLayout {
  return device.createBindGroupLayout({
    label,
    entries: [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
      ...access.map((a, i) => ({
        binding: i + 1,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: a === 'read' ? ('read-only-storage' as const) : ('storage' as const) },
      })),
    ],
  });
}

function pipeline(
  device: GPUDevice,
  layout: GPUBindGroupLayout,
  code: string,
  label: string,
  constants: Record<string, number | boolean>,
): GPUComputePipeline {
  return device.createComputePipeline({
    label,
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: {
      module: device.createShaderModule({ label, code }),
      entryPoint: 'main',
      constants: Object.fromEntries(Object.entries(constants).map(([k, v]) => [k, Number(v)])),
    },
  });
}

function nextPowerOfTwo(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(n, 1)));
}
