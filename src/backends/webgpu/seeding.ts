import { WebGpuEmError } from '../../errors.js';
import { BufferUsage } from '../../gpu/constants.js';
import type { GpuContext } from '../../gpu/context.js';
import { GpuSeedingState, SharedBuffers, readDistanceBlocks, type ReadBlocks } from './seeding-state.js';
import { KMEANSPP_KERNEL, SEEDING_SELECT_KERNEL, kernelBindGroup, kernelPipeline } from './kernels.js';
import {
  SEEDING_MAX_DISPATCH_CANDIDATES,
  SEEDING_SELECT_WORKGROUP,
  SEEDING_WORKGROUP,
  dispatchGrid,
} from './layout.js';
import {
  SEEDING_SELECT_UNIFORM,
  SEEDING_STEP_UNIFORM,
  packUniform,
  uniformSlot,
  uniformSlotStride,
} from './uniforms.js';
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

export { GpuSeedingState, readDistanceBlocks, type ReadBlocks };

/** Rows per thread of kmeanspp_distances.wgsl. */
const SEEDING_ROWS_PER_THREAD = 4;
/** Rows of one block of kmeanspp_distances.wgsl (one workgroup): the unit of the block sums. */
const SEEDING_BLOCK_ROWS = SEEDING_WORKGROUP * SEEDING_ROWS_PER_THREAD;

/**
 * Multiply-adds and memory traffic of a k-means++ pass per row for `candidates` candidates: the
 * distance to each (the row read), the previous distance read, each new one written, the weight read.
 */
export function seedingWorkPerRow(d: number, candidates = 1): RowCost {
  return { madds: d * candidates, bytes: 4 * (d + 2 + candidates) };
}

/** The dispatches of a pass for a group of candidates: slices within the budget for that many. */
interface PassLayout {
  readonly slices: readonly RowSlice[];
  /** Per slice: its first block among the pass's blocks. */
  readonly firstBlocks: readonly number[];
  /** Per slice: its dispatch. */
  readonly grids: ReadonlyArray<[number, number]>;
}

/**
 * k-means++ seeding on the GPU for fixed chunks, a step at a time: kmeanspp_distances.wgsl
 * updates each sample's distance to its nearest chosen centre for every candidate of the step
 * (all of them in one dispatch per slice, 16 at most, or fewer where T x N distances exceed one
 * binding) and adds them per block of 256 rows, in float64 on the GPU, exactly as the host added
 * the blocks' thread sums before; seeding_select.wgsl adds each candidate's potential, picks the
 * candidate the greedy rule keeps and gathers its block sums. The host reads that back (one
 * read-back of 8 (1 + T + blocks) bytes) and draws the next step's candidates from the block sums
 * and the drawn blocks' distances (a second read-back of 256 floats a candidate): two read-backs
 * per chosen centre, never O(N). A pass is one dispatch per slice of a chunk (slices within the
 * submission budget, each a 2-D grid past the per-dimension limit), in submissions of at most
 * the budget.
 */
export class KMeansPPSeeding {
  private readonly layouts = new Map<number, PassLayout>();

  private constructor(
    private readonly ctx: GpuContext,
    private readonly chunks: readonly SampleChunk[],
    private readonly rows: number,
    private readonly d: number,
    private readonly pipeline: GPUComputePipeline,
    private readonly selectPipeline: GPUComputePipeline,
    /** The step's candidates, SEEDING_SELECT_WORKGROUP x D at most. */
    private readonly candidateRows: GPUBuffer,
    /** Bound as the previous distances for the first centre, which has none. */
    private readonly noDistances: GPUBuffer,
    /** seeding_select.wgsl's output, and its read-back. */
    private readonly out: GPUBuffer,
    private readonly staging: GPUBuffer,
    /** Per block: its first global row and its number of rows. */
    private readonly blockRows: Array<[number, number]>,
    /** Per chunk: its first block. */
    private readonly chunkBlocks: readonly number[],
    private readonly budget: WorkBudget,
    /** Every buffer above, freed together. */
    private readonly buffers: GPUBuffer[],
    /** Sample weights (owned by the bound data), or null. */
    private readonly weights: RowWeights | null,
  ) {}

  /** The pipelines and buffers for N samples of D features in these chunks. */
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
    const selectPipeline = await kernelPipeline(ctx, SEEDING_SELECT_KERNEL, {});
    // Blocks of 256 rows from each chunk's start: slices start at a multiple of a block, so the
    // blocks are the same whatever the slices' length.
    const blockRows: Array<[number, number]> = [];
    const chunkBlocks: number[] = [];
    for (const c of chunks) {
      chunkBlocks.push(blockRows.length);
      for (let first = 0; first < c.rows; first += SEEDING_BLOCK_ROWS) {
        blockRows.push([c.firstRow + first, Math.min(SEEDING_BLOCK_ROWS, c.rows - first)]);
      }
    }
    const outBytes = 8 * (1 + SEEDING_SELECT_WORKGROUP + blockRows.length);
    return ctx.createGuarded(
      'creating the k-means++ workspace',
      (make, buffers) =>
        new KMeansPPSeeding(
          ctx,
          chunks,
          n,
          d,
          pipeline,
          selectPipeline,
          make(
            'k-means++ candidates',
            SEEDING_SELECT_WORKGROUP * d * 4,
            BufferUsage.STORAGE | BufferUsage.COPY_DST,
          ),
          make('k-means++ no distances', 4, BufferUsage.STORAGE),
          make('k-means++ step result', outBytes, BufferUsage.STORAGE | BufferUsage.COPY_SRC),
          make('k-means++ step result read-back', outBytes, BufferUsage.MAP_READ | BufferUsage.COPY_DST),
          blockRows,
          chunkBlocks,
          budget,
          buffers,
          weights,
        ),
    );
  }

  /** The slices of a pass for `candidates` candidates a dispatch. */
  private layout(candidates: number): PassLayout {
    let layout = this.layouts.get(candidates);
    if (!layout) {
      const rows = rowsWithinBudget(seedingWorkPerRow(this.d, candidates), this.budget);
      const slices = rowSlices(this.chunks, rows, SEEDING_BLOCK_ROWS);
      const maxPerDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
      layout = {
        slices,
        firstBlocks: slices.map((s) => this.chunkBlocks[s.chunk] + s.first / SEEDING_BLOCK_ROWS),
        grids: slices.map((s) => dispatchGrid(Math.ceil(s.rows / SEEDING_BLOCK_ROWS), maxPerDim)),
      };
      this.layouts.set(candidates, layout);
    }
    return layout;
  }

  /** Dispatches per pass of one candidate (slices of the chunks). */
  get dispatches(): number {
    return this.layout(1).slices.length;
  }

  /** Each dispatch's grid of workgroups, for one candidate. */
  get dispatchGrids(): ReadonlyArray<readonly [number, number]> {
    return this.layout(1).grids;
  }

  /** Blocks of 256 rows: the block sums of one candidate. */
  get blockCount(): number {
    return this.blockRows.length;
  }

  /**
   * One k-means++ step: for each candidate, the distances to the nearest of the centres so far
   * (`base`'s, or none for the first centre) and the candidate, on the GPU, with their potential;
   * the block sums of the one the greedy rule keeps (the first of lowest potential) come back
   * with them, the others' on demand. `stop` is asked before each submission: when it throws,
   * the step ends after the one in flight.
   */
  async step(
    candidates: readonly Float64Array[],
    base: GpuSeedingState | null,
    read: ReadBlocks,
    stop: () => void = () => {},
  ): Promise<GpuSeedingState[]> {
    const { ctx, d } = this;
    const t = candidates.length;
    if (t < 1 || t > SEEDING_SELECT_WORKGROUP) {
      throw new WebGpuEmError(
        'gpu',
        `a k-means++ step takes 1 to ${SEEDING_SELECT_WORKGROUP} candidates, not ${t}`,
      );
    }
    const blocks = this.blockRows.length;
    // Each candidate's distances at a multiple of the storage offset alignment, bindable as a base.
    const align = Math.max(1, ctx.limits.minStorageBufferOffsetAlignment / 4);
    const stride = Math.ceil(this.rows / align) * align;
    const perGroup = Math.max(
      1,
      Math.min(
        SEEDING_MAX_DISPATCH_CANDIDATES,
        Math.floor(ctx.limits.maxStorageBufferBindingSize / (stride * 4)),
      ),
    );
    const groups: Array<[number, number]> = [];
    for (let first = 0; first < t; first += perGroup) groups.push([first, Math.min(perGroup, t - first)]);
    const layout = this.layout(Math.min(perGroup, t));
    const slotStride = uniformSlotStride(ctx.limits);
    const units = groups.flatMap((_, g) => layout.slices.map((s, i) => ({ g, i, rows: s.rows })));
    const shared = new SharedBuffers(ctx);
    try {
      const trials = groups.map(([, count], g) =>
        shared.add(
          ctx.createBuffer(
            `k-means++ distances, candidates group ${g}`,
            ((count - 1) * stride + this.rows) * 4,
            BufferUsage.STORAGE | BufferUsage.COPY_SRC,
          ),
        ),
      );
      const sums = shared.add(
        ctx.createBuffer('k-means++ block sums', t * blocks * 8, BufferUsage.STORAGE | BufferUsage.COPY_SRC),
      );
      const uniformBuffer = ctx.createBuffer(
        'k-means++ step uniforms',
        slotStride * (units.length + 1),
        BufferUsage.UNIFORM | BufferUsage.COPY_DST,
      );
      try {
        const uniforms = new Uint32Array((slotStride / 4) * (units.length + 1));
        units.forEach(({ g, i }, u) => {
          const s = layout.slices[i];
          const step = {
            row_offset: this.chunks[s.chunk].firstRow + s.first,
            row_count: s.rows,
            block_offset: layout.firstBlocks[i],
            first: base ? 0 : 1,
            weighted: this.weights ? 1 : 0,
            candidates: groups[g][1],
            candidate_first: groups[g][0],
            trial_stride: stride,
            block_stride: blocks,
          };
          uniforms.set(packUniform(SEEDING_STEP_UNIFORM, step), (u * slotStride) / 4);
        });
        const selectSlot = units.length;
        uniforms.set(
          packUniform(SEEDING_SELECT_UNIFORM, { candidates: t, blocks }),
          (selectSlot * slotStride) / 4,
        );
        const rowsOf = new Float32Array(t * d);
        candidates.forEach((c, i) => rowsOf.set(c, i * d));
        const submissions = submissionGroups(units, seedingWorkPerRow(d, Math.min(perGroup, t)), this.budget);
        const outFloats = 2 * (1 + t + blocks);
        await submitInGroups(ctx, 'a k-means++ step', submissions, stop, (encoder, group, place) => {
          if (place.first) {
            ctx.write(uniformBuffer, uniforms);
            ctx.write(this.candidateRows, rowsOf);
          }
          const pass = encoder.beginComputePass({ label: 'k-means++ distances' });
          pass.setPipeline(this.pipeline);
          for (const u of group) {
            const { g, i } = units[u];
            const s = layout.slices[i];
            const c = this.chunks[s.chunk];
            const rowBytes = d * 4;
            pass.setBindGroup(
              0,
              kernelBindGroup(ctx, KMEANSPP_KERNEL, this.pipeline, `k-means++ bindings, slice ${i}`, {
                step: uniformSlot(uniformBuffer, slotStride, u, SEEDING_STEP_UNIFORM),
                x: { buffer: c.data, offset: s.first * rowBytes, size: s.rows * rowBytes },
                candidate_rows: this.candidateRows,
                closest: base ? base.binding() : this.noDistances,
                trial: trials[g],
                block_sums: sums,
                // Read only when weighted; a read-only binding may share the placeholder.
                row_weights: this.weights?.buffer ?? this.noDistances,
              }),
            );
            pass.dispatchWorkgroups(...layout.grids[i]);
          }
          pass.end();
          if (place.last) {
            const select = encoder.beginComputePass({ label: 'k-means++ step select' });
            select.setPipeline(this.selectPipeline);
            select.setBindGroup(
              0,
              kernelBindGroup(ctx, SEEDING_SELECT_KERNEL, this.selectPipeline, 'k-means++ select bindings', {
                params: uniformSlot(uniformBuffer, slotStride, selectSlot, SEEDING_SELECT_UNIFORM),
                block_sums: sums,
                out: this.out,
              }),
            );
            select.dispatchWorkgroups(1);
            select.end();
            encoder.copyBufferToBuffer(this.out, 0, this.staging, 0, outFloats * 4);
          }
        });
        const result = await ctx.guard('reading a k-means++ step', () =>
          ctx.readFloats(this.staging, outFloats),
        );
        const kept = new Uint32Array(result.buffer, result.byteOffset, 1)[0];
        const values = new Float64Array(result.buffer, result.byteOffset, 1 + t + blocks);
        const keptSums = values.slice(1 + t);
        return candidates.map((_, c) => {
          const g = Math.floor(c / perGroup);
          return new GpuSeedingState(
            shared.share(),
            { buffer: trials[g], offset: (c - groups[g][0]) * stride, rows: this.rows },
            values[1 + c],
            c === kept ? keptSums : { buffer: sums, offset: c * blocks * 2 },
            this.blockRows,
            read,
            this.weights?.values ?? null,
          );
        });
      } finally {
        ctx.destroyBuffer(uniformBuffer);
      }
    } finally {
      shared.release();
    }
  }

  dispose(): void {
    this.ctx.destroyBuffers(this.buffers);
  }
}
