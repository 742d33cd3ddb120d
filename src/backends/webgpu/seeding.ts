import { WebGpuEmError } from '../../errors.js';
import { BufferUsage } from '../../gpu/constants.js';
import type { GpuContext } from '../../gpu/context.js';
import type { SeedingState } from '../backend.js';
import { lastPositive } from '../sampling.js';
import { KMEANSPP_KERNEL, kernelBindGroup, kernelPipeline } from './kernels.js';
import {
  SEEDING_STEP_UNIFORM,
  SEEDING_WORKGROUP,
  dispatchGrid,
  packUniform,
  uniformSlot,
  uniformSlotStride,
} from './layout.js';
import type { RowWeights, SampleChunk } from './sample-chunks.js';
import {
  rowSlices,
  rowsWithinBudget,
  submissionGroups,
  submissionWork,
  submitInGroups,
  type RowCost,
  type RowSlice,
  type WorkBudget,
} from './submissions.js';

/** Rows per thread of kmeanspp_distances.wgsl. */
const SEEDING_ROWS_PER_THREAD = 4;
/** Rows of one block of kmeanspp_distances.wgsl (one workgroup): the unit of the host's sums. */
const SEEDING_BLOCK_ROWS = SEEDING_WORKGROUP * SEEDING_ROWS_PER_THREAD;

/**
 * Multiply-adds and memory traffic of a k-means++ pass per row: the distance to the candidate
 * (the row read), the previous distance read, the new one written, the weight read.
 */
export function seedingWorkPerRow(d: number): RowCost {
  return { madds: d, bytes: 4 * (d + 3) };
}

/** How a seeding state reads its distances back: readDistances, run in turn with the data's other calls. */
export type ReadDistances = (distances: GPUBuffer, first: number, count: number) => Promise<Float32Array>;

/**
 * k-means++ seeding on the GPU for fixed chunks: kmeanspp_distances.wgsl updates each sample's
 * distance to its nearest chosen centre for a candidate and sums them per thread; the host adds
 * each block's sums in float64 and draws from them. A pass is one dispatch per slice of a chunk
 * (slices within the submission budget, each a 2-D grid past the per-dimension limit), in
 * submissions of at most the budget.
 */
export class KMeansPPSeeding {
  private constructor(
    private readonly ctx: GpuContext,
    private readonly chunks: readonly SampleChunk[],
    private readonly rows: number,
    private readonly d: number,
    private readonly pipeline: GPUComputePipeline,
    private readonly uniformStride: number,
    private readonly uniforms: GPUBuffer,
    private readonly candidate: GPUBuffer,
    /** Bound as the previous distances for the first centre, which has none. */
    private readonly noDistances: GPUBuffer,
    private readonly blockSums: GPUBuffer,
    private readonly staging: GPUBuffer,
    /** The dispatches of a pass: rows of a chunk, from a multiple of a block. */
    private readonly slices: readonly RowSlice[],
    /** Per slice: its first block and its number of blocks. */
    private readonly sliceBlocks: ReadonlyArray<readonly [number, number]>,
    /** Per slice: its dispatch. */
    private readonly grids: ReadonlyArray<[number, number]>,
    /** Per block: its first global row and its number of rows. */
    private readonly blockRows: Array<[number, number]>,
    private readonly budget: WorkBudget,
    /** Every buffer above, freed together. */
    private readonly buffers: GPUBuffer[],
    /** Sample weights (owned by the bound data), or null. */
    private readonly weights: RowWeights | null,
  ) {}

  /** The pipeline and buffers for N samples of D features in these chunks. */
  static async create(
    ctx: GpuContext,
    chunks: readonly SampleChunk[],
    n: number,
    d: number,
    weights: RowWeights | null,
    /** What one submission (and so one dispatch) may hold; the device's by default. */
    budget: WorkBudget = submissionWork(ctx.device),
  ): Promise<KMeansPPSeeding> {
    if (n * 4 > ctx.limits.maxStorageBufferBindingSize) {
      throw new WebGpuEmError(
        'gpu',
        `k-means++ on the GPU keeps one distance per sample in one binding: ${n} samples exceed the adapter's ` +
          `${ctx.limits.maxStorageBufferBindingSize} bytes; use init 'random' or fit on a subsample`,
      );
    }
    const pipeline = await kernelPipeline(ctx, KMEANSPP_KERNEL, { D: d });
    // Slices start at a multiple of a block (so at a multiple of SLICE_ROW_ALIGN rows).
    const slices = rowSlices(chunks, rowsWithinBudget(seedingWorkPerRow(d), budget), SEEDING_BLOCK_ROWS);
    const maxPerDim = ctx.limits.maxComputeWorkgroupsPerDimension;
    const sliceBlocks: Array<[number, number]> = [];
    const blockRows: Array<[number, number]> = [];
    for (const s of slices) {
      const blocks = Math.ceil(s.rows / SEEDING_BLOCK_ROWS);
      const first = chunks[s.chunk].firstRow + s.first;
      sliceBlocks.push([blockRows.length, blocks]);
      for (let b = 0; b < blocks; b++) {
        blockRows.push([
          first + b * SEEDING_BLOCK_ROWS,
          Math.min(SEEDING_BLOCK_ROWS, s.rows - b * SEEDING_BLOCK_ROWS),
        ]);
      }
    }
    const grids = sliceBlocks.map(([, blocks]) => dispatchGrid(blocks, maxPerDim));
    const uniformStride = uniformSlotStride(ctx.limits);
    const threadSums = blockRows.length * SEEDING_WORKGROUP * 4;
    return ctx.createGuarded(
      'creating the k-means++ workspace',
      (make, buffers) =>
        new KMeansPPSeeding(
          ctx,
          chunks,
          n,
          d,
          pipeline,
          uniformStride,
          make(
            'k-means++ uniforms',
            uniformStride * slices.length,
            BufferUsage.UNIFORM | BufferUsage.COPY_DST,
          ),
          make('k-means++ candidate', d * 4, BufferUsage.STORAGE | BufferUsage.COPY_DST),
          make('k-means++ no distances', 4, BufferUsage.STORAGE),
          make('k-means++ thread sums', threadSums, BufferUsage.STORAGE | BufferUsage.COPY_SRC),
          make('k-means++ thread sums read-back', threadSums, BufferUsage.MAP_READ | BufferUsage.COPY_DST),
          slices,
          sliceBlocks,
          grids,
          blockRows,
          budget,
          buffers,
          weights,
        ),
    );
  }

  /** Dispatches per pass (slices of the chunks). */
  get dispatches(): number {
    return this.slices.length;
  }

  /** Each dispatch's grid of workgroups. */
  get dispatchGrids(): ReadonlyArray<readonly [number, number]> {
    return this.grids;
  }

  /**
   * Distances to the nearest of the centres so far and `candidate` (from `base`'s, or the
   * candidate's alone for the first centre), on the GPU, and their sums per block. `stop` is
   * asked before each submission: when it throws, the pass ends after the one in flight.
   */
  async pass(
    candidate: Float64Array,
    base: GpuSeedingState | null,
    read: ReadDistances,
    stop: () => void = () => {},
  ): Promise<SeedingState> {
    const { ctx } = this;
    const blockCount = this.blockRows.length;
    const trial = ctx.createBuffer(
      'k-means++ distances',
      this.rows * 4,
      BufferUsage.STORAGE | BufferUsage.COPY_SRC,
    );
    try {
      const uniforms = new Uint32Array((this.uniformStride / 4) * this.slices.length);
      this.slices.forEach((s, i) => {
        const step = {
          row_offset: this.chunks[s.chunk].firstRow + s.first,
          row_count: s.rows,
          block_offset: this.sliceBlocks[i][0],
          first: base ? 0 : 1,
          weighted: this.weights ? 1 : 0,
        };
        uniforms.set(packUniform(SEEDING_STEP_UNIFORM, step), (i * this.uniformStride) / 4);
      });
      const groups = submissionGroups(this.slices, seedingWorkPerRow(this.d), this.budget);
      await submitInGroups(ctx, 'a k-means++ pass', groups, stop, (encoder, group, place) => {
        if (place.first) {
          ctx.write(this.uniforms, uniforms);
          ctx.write(this.candidate, Float32Array.from(candidate));
        }
        const pass = encoder.beginComputePass({ label: 'k-means++ distances' });
        pass.setPipeline(this.pipeline);
        for (const i of group) {
          const s = this.slices[i];
          const c = this.chunks[s.chunk];
          const rowBytes = this.d * 4;
          pass.setBindGroup(
            0,
            kernelBindGroup(ctx, KMEANSPP_KERNEL, this.pipeline, `k-means++ bindings, slice ${i}`, {
              step: uniformSlot(this.uniforms, this.uniformStride, i, SEEDING_STEP_UNIFORM),
              x: { buffer: c.data, offset: s.first * rowBytes, size: s.rows * rowBytes },
              candidate: this.candidate,
              closest: base ? base.distances : this.noDistances,
              trial,
              thread_sums: this.blockSums,
              // Read only when weighted; a read-only binding may share the placeholder.
              row_weights: this.weights?.buffer ?? this.noDistances,
            }),
          );
          pass.dispatchWorkgroups(...this.grids[i]);
        }
        pass.end();
        if (place.last) {
          encoder.copyBufferToBuffer(this.blockSums, 0, this.staging, 0, blockCount * SEEDING_WORKGROUP * 4);
        }
      });
      const threadSums = await ctx.guard('reading k-means++ sums', () =>
        ctx.readFloats(this.staging, blockCount * SEEDING_WORKGROUP),
      );
      // Each block's thread sums, added in a fixed order in float64.
      const sums = new Float64Array(blockCount);
      for (let b = 0; b < sums.length; b++) {
        for (let t = 0; t < SEEDING_WORKGROUP; t++) sums[b] += threadSums[b * SEEDING_WORKGROUP + t];
      }
      return new GpuSeedingState(trial, sums, this.blockRows, ctx, read, this.weights?.values ?? null);
    } catch (e) {
      ctx.destroyBuffer(trial);
      throw e;
    }
  }

  dispose(): void {
    this.ctx.destroyBuffers(this.buffers);
  }
}

/** Reads `count` of the distances of a seeding pass from `first` (global row). */
export async function readDistances(
  ctx: GpuContext,
  distances: GPUBuffer,
  first: number,
  count: number,
): Promise<Float32Array> {
  const staging = ctx.createBuffer(
    'k-means++ block read-back',
    count * 4,
    BufferUsage.MAP_READ | BufferUsage.COPY_DST,
  );
  try {
    await ctx.guard('reading a k-means++ block', () => {
      const encoder = ctx.device.createCommandEncoder({ label: 'k-means++ block read-back' });
      encoder.copyBufferToBuffer(distances, first * 4, staging, 0, count * 4);
      ctx.device.queue.submit([encoder.finish()]);
    });
    return await ctx.guard('reading a k-means++ block', () => ctx.readFloats(staging, count));
  } finally {
    ctx.destroyBuffer(staging);
  }
}

/** Distances of one k-means++ pass, on the GPU, with their per-block sums on the host. */
export class GpuSeedingState implements SeedingState {
  readonly potential: number;
  private released = false;

  constructor(
    readonly distances: GPUBuffer,
    private readonly blockSums: Float64Array,
    /** Per block: its first global row and its number of rows (the layout the sums came from). */
    private readonly blockRows: ReadonlyArray<readonly [number, number]>,
    private readonly ctx: GpuContext,
    private readonly read: ReadDistances,
    /** Per-row weights: the draw is proportional to weight x distance. */
    private readonly weights: Float32Array | null,
  ) {
    let total = 0;
    for (const v of blockSums) total += v;
    this.potential = total;
  }

  /** Walks the block sums to the block holding u * potential, then that block's distances. */
  async sample(u: number): Promise<number> {
    let target = u * this.potential;
    let block = -1;
    for (let b = 0; b < this.blockSums.length; b++) {
      if (target < this.blockSums[b]) {
        block = b;
        break;
      }
      target -= this.blockSums[b];
    }
    // Rounding carried the target past the total: the last sample with a distance, as on the CPU.
    const fellThrough = block < 0;
    if (fellThrough) block = this.blockSums.length - 1;
    while (block > 0 && !(this.blockSums[block] > 0)) block--;
    const [first, count] = this.blockRows[block];
    const values = await this.read(this.distances, first, count);
    if (this.weights) for (let r = 0; r < count; r++) values[r] *= this.weights[first + r];
    if (!fellThrough) {
      for (let r = 0; r < count; r++) {
        target -= values[r];
        if (target < 0) return first + r;
      }
    }
    return first + lastPositive(values);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.ctx.destroyBuffer(this.distances);
  }
}
