// The k best logits of a row on the GPU (shaders/argmax.wgsl), so that sampling a token reads
// back k ids and values, not the whole vocabulary; the ids under a repetition penalty are left out
// of that pick and their raw values read back beside it. One submit per pick: clear the counters,
// both dispatches in one pass, copy the small result to a staging buffer.

import { EngineError } from '../../protocol/errors.ts';
import { MAX_PENALIZED, MAX_TOP_K, PICK_ITEMS, PICK_WORKGROUP } from './kernelSizes.ts';
import { SHADERS } from './shaderSources.ts';

const BLOCK = PICK_WORKGROUP * PICK_ITEMS;
/** bad, count, ids, values; then one value per penalized id. */
const PICK_WORDS = 2 + 2 * MAX_TOP_K;
const RESULT_WORDS = PICK_WORDS + MAX_PENALIZED;
/** vocab, offset, n_blocks, n_penalized, k and padding to 16 bytes; then the penalized ids. */
const PARAMS_HEADER = 8;
const PARAMS_WORDS = PARAMS_HEADER + MAX_PENALIZED;

/** Some ids of a row and their raw logits. */
export interface IdLogits {
  ids: Uint32Array;
  logits: Float32Array;
  /** Entries in use; the arrays may be longer. */
  count: number;
}

/**
 * What sampleTop needs of a row: the best logits of the ids not under the repetition penalty, best
 * first (the lower id first among equal logits), and the raw logits of the ids under it.
 */
export interface TopLogits extends IdLogits {
  /** The ids the penalty applies to (duplicates allowed), none of them among the best above. */
  penalized: IdLogits;
}

/** A pick: the best `count` logits (best first), and how many logits were NaN or +Infinity. */
export interface TopPick extends TopLogits {
  bad: number;
}

export class TopLogitsKernel {
  private readonly layout: GPUBindGroupLayout;
  private readonly block: GPUComputePipeline;
  private readonly merge: GPUComputePipeline;
  private readonly bindGroups = new WeakMap<GPUBuffer, GPUBindGroup>();
  private readonly params: GPUBuffer;
  private readonly candidates: GPUBuffer;
  private readonly result: GPUBuffer;
  private readonly staging: GPUBuffer;
  private readonly nBlocks: number;
  private readonly paramsHost = new Uint32Array(PARAMS_WORDS);
  // Reused for every pick: the decode loop allocates nothing per token here.
  private readonly pick: TopPick = {
    ids: new Uint32Array(MAX_TOP_K),
    logits: new Float32Array(MAX_TOP_K),
    count: 0,
    penalized: { ids: new Uint32Array(MAX_PENALIZED), logits: new Float32Array(MAX_PENALIZED), count: 0 },
    bad: 0,
  };
  private readonly pickBits = new Uint32Array(this.pick.logits.buffer);
  private readonly penalizedBits = new Uint32Array(this.pick.penalized.logits.buffer);

  constructor(
    private readonly device: GPUDevice,
    private readonly vocab: number,
    private readonly dtype: 'f32' | 'f16',
  ) {
    this.nBlocks = Math.ceil(vocab / BLOCK);
    if (this.nBlocks > device.limits.maxComputeWorkgroupsPerDimension) {
      throw new EngineError('DEVICE_LIMIT', `This GPU cannot pick tokens from a vocabulary of ${vocab}.`, 'maxComputeWorkgroupsPerDimension');
    }
    const entry = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } });
    this.layout = device.createBindGroupLayout({
      label: 'top_logits',
      entries: [entry(0, 'uniform'), entry(1, 'read-only-storage'), entry(2, 'storage'), entry(3, 'storage')],
    });
    const module = device.createShaderModule({ label: 'argmax', code: SHADERS.argmax });
    const layout = device.createPipelineLayout({ bindGroupLayouts: [this.layout] });
    const constants = { F16: dtype === 'f16' ? 1 : 0 };
    this.block = device.createComputePipeline({ label: 'top_logits.block', layout, compute: { module, entryPoint: 'block_top', constants } });
    this.merge = device.createComputePipeline({ label: 'top_logits.merge', layout, compute: { module, entryPoint: 'merge_top', constants } });
    this.params = device.createBuffer({ label: 'top_logits.params', size: PARAMS_WORDS * 4, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.candidates = device.createBuffer({ label: 'top_logits.candidates', size: this.nBlocks * MAX_TOP_K * 8, usage: GPUBufferUsage.STORAGE });
    this.result = device.createBuffer({ label: 'top_logits.result', size: RESULT_WORDS * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    this.staging = device.createBuffer({ label: 'top_logits.staging', size: RESULT_WORDS * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /**
   * The k best logits of the row starting at element `offset` of `logits`, best first, lower id
   * first among equal logits, -Infinity left out, the `penalized` ids left out; and the raw logit
   * of each penalized id, in its order (duplicates allowed). The returned object is reused by the
   * next call.
   */
  async top(logits: GPUBuffer, offset: number, k: number, penalized: readonly number[] = []): Promise<TopPick> {
    if (!Number.isInteger(k) || k < 1 || k > MAX_TOP_K) throw new EngineError('CONFIG_INVALID', `The GPU picks 1 to ${MAX_TOP_K} logits, not ${k}.`);
    if (penalized.length > MAX_PENALIZED) throw new EngineError('CONFIG_INVALID', `The GPU leaves out at most ${MAX_PENALIZED} penalized ids, not ${penalized.length}.`);
    if (this.dtype === 'f16' && offset % 2 !== 0) throw new EngineError('CONFIG_INVALID', 'An f16 logits row must start at an even element.');
    const host = this.paramsHost;
    host[0] = this.vocab;
    host[1] = offset;
    host[2] = this.nBlocks;
    host[3] = penalized.length;
    host[4] = k;
    for (let i = 0; i < penalized.length; i++) {
      const id = penalized[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocab) {
        throw new EngineError('CONFIG_INVALID', `Token id ${id} is outside the model's vocabulary of ${this.vocab}; the tokenizer does not match the model, load them together.`);
      }
      host[PARAMS_HEADER + i] = id;
    }
    // Only the ids in use, whole vec4s of them.
    this.device.queue.writeBuffer(this.params, 0, host, 0, PARAMS_HEADER + 4 * Math.ceil(penalized.length / 4));
    const bindGroup = this.bindGroupFor(logits);
    // The penalized values follow the pick in the result; only the ones in use are read back.
    const readBytes = (PICK_WORDS + penalized.length) * 4;
    const encoder = this.device.createCommandEncoder({ label: 'top_logits' });
    encoder.clearBuffer(this.result, 0, 8);
    const pass = encoder.beginComputePass();
    pass.setBindGroup(0, bindGroup);
    pass.setPipeline(this.block);
    pass.dispatchWorkgroups(this.nBlocks);
    pass.setPipeline(this.merge);
    pass.dispatchWorkgroups(1);
    pass.end();
    encoder.copyBufferToBuffer(this.result, 0, this.staging, 0, readBytes);
    this.device.queue.submit([encoder.finish()]);
    await this.staging.mapAsync(GPUMapMode.READ, 0, readBytes);
    const words = new Uint32Array(this.staging.getMappedRange(0, readBytes));
    const pick = this.pick;
    pick.bad = words[0];
    pick.count = Math.min(words[1], k);
    pick.ids.set(words.subarray(2, 2 + pick.count));
    this.pickBits.set(words.subarray(2 + MAX_TOP_K, 2 + MAX_TOP_K + pick.count));
    pick.penalized.count = penalized.length;
    for (let i = 0; i < penalized.length; i++) {
      pick.penalized.ids[i] = host[PARAMS_HEADER + i];
      this.penalizedBits[i] = words[PICK_WORDS + i];
    }
    this.staging.unmap();
    return pick;
  }

  destroy(): void {
    for (const b of [this.params, this.candidates, this.result, this.staging]) b.destroy();
  }

  private bindGroupFor(logits: GPUBuffer): GPUBindGroup {
    let group = this.bindGroups.get(logits);
    if (!group) {
      group = this.device.createBindGroup({
        layout: this.layout,
        entries: [this.params, logits, this.candidates, this.result].map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      this.bindGroups.set(logits, group);
    }
    return group;
  }
}
