import { WebGpuEmError } from '../../errors.js';
import { BufferUsage } from '../../gpu/constants.js';
import type { GpuContext } from '../../gpu/context.js';
import type { Assignments, KMeansStatistics } from '../backend.js';
import {
  KMEANS_DISTANCES_KERNEL,
  KMEANS_SUMS_KERNEL,
  REDUCE_KERNEL,
  kernelBindGroup,
  kernelPipeline,
  kmeansAssignKernel,
} from './kernels.js';
import {
  KMEANS_ROWS,
  KMEANS_SUMS_WORKGROUP,
  KMEANS_TILE,
  KMEANS_WORKGROUP,
  reduceGrid,
  dispatchGrid,
  kmeansCentreFloats,
  kmeansStatsEntries,
  packKMeansCentres,
} from './layout.js';
import {
  CHUNK_FIELDS,
  CHUNK_UNIFORM,
  uniformSlot,
  uniformSlotStride,
  REDUCE_FIELDS,
  packChunkUniforms,
  packU32Struct,
} from './uniforms.js';
import { KMEANS_ROWS_PER_BLOCK, kmeansPartialBlocks, kmeansWorkPerRow } from './kmeans-budget.js';
import { largestChunk, type SampleChunk } from './sample-chunks.js';
import {
  groupTimestamps,
  rowsWithinBudget,
  submissionGroups,
  submissionWork,
  submitInGroups,
} from './submissions.js';
import type { PassTiming } from './timing.js';

/**
 * k-means passes on the GPU for one K: the tiled assignment (kmeans_assign.wgsl, or its subgroup
 * variant), the per-cluster sums (kmeans_sums.wgsl), their fixed-order reduction, and the direct
 * distances of transform.
 * Every chunk keeps its rows' labels between passes, so a pass reports how many changed.
 */
export class KMeansPasses {
  private assignDistPipeline: GPUComputePipeline | null = null;
  private assignDistGroups: GPUBindGroup[] | null = null;

  private constructor(
    private readonly ctx: GpuContext,
    private readonly chunks: readonly SampleChunk[],
    readonly k: number,
    private readonly d: number,
    private readonly buffers: GPUBuffer[],
    private readonly tiles: GPUBuffer,
    private readonly centres: GPUBuffer,
    private readonly labels: GPUBuffer[],
    private readonly dist: GPUBuffer[],
    private readonly uniforms: GPUBuffer,
    private readonly uniformStride: number,
    private readonly grids: Array<[number, number]>,
    private readonly assignPipeline: GPUComputePipeline,
    private readonly assignGroups: GPUBindGroup[],
    private readonly sumsPipeline: GPUComputePipeline,
    private readonly sumsGroups: GPUBindGroup[],
    private readonly sumsGrid: Array<[number, number]>,
    private readonly reducePipeline: GPUComputePipeline,
    private readonly reduceGroup: GPUBindGroup,
    private readonly reduceWorkgroups: [number, number],
    private readonly out: GPUBuffer,
    private readonly staging: GPUBuffer,
    private readonly stride: number,
  ) {}

  /** Each chunk's label tags ((cluster + 1) | changed << 31) from the last pass. */
  get tags(): readonly GPUBuffer[] {
    return this.labels;
  }

  /** Pipelines and buffers for K clusters over these chunks. */
  static async create(
    ctx: GpuContext,
    chunks: readonly SampleChunk[],
    k: number,
    d: number,
    /** One weight per row of the data set (owned by the bound data), or null. */
    weights: GPUBuffer | null,
  ): Promise<KMeansPasses> {
    const limits = ctx.limits;
    const maxPerDim = limits.maxComputeWorkgroupsPerDimension;
    const stride = kmeansStatsEntries(k, d);
    const tileFloats = Math.ceil(k / KMEANS_TILE) * (d + 1) * KMEANS_TILE;
    if (4 * Math.max(tileFloats, stride) > limits.maxStorageBufferBindingSize) {
      throw new WebGpuEmError(
        'gpu',
        `K = ${k} clusters of D = ${d} features exceed the adapter's storage binding limit of ` +
          `${limits.maxStorageBufferBindingSize} bytes; use fewer clusters or features`,
      );
    }
    // A cluster's D + 1 sums must fit in workgroup memory beside the inertia's partials.
    const sumsFloats = Math.floor(limits.maxComputeWorkgroupStorageSize / 4) - KMEANS_SUMS_WORKGROUP;
    const kTile = Math.min(k, Math.floor(sumsFloats / (d + 1)));
    if (kTile < 1 || Math.ceil(k / kTile) > maxPerDim) {
      throw new WebGpuEmError(
        'gpu',
        `k-means sums of D = ${d} features need more workgroup memory than the adapter's ` +
          `${limits.maxComputeWorkgroupStorageSize} bytes; reduce the dimension or use backend: 'cpu'`,
      );
    }
    const maxBlocks = kmeansPartialBlocks(limits, stride);
    const largest = largestChunk(chunks);
    const total = chunks.reduce((a, c) => a + c.rows, 0);
    const rowsPerBlock = Math.max(
      KMEANS_ROWS_PER_BLOCK,
      Math.ceil(total / Math.max(1, maxBlocks - chunks.length)),
      Math.ceil(largest / maxPerDim),
    );
    const blocks = chunks.map((c) => Math.ceil(c.rows / rowsPerBlock));
    const totalBlocks = blocks.reduce((a, b) => a + b, 0);
    if (totalBlocks > maxBlocks) {
      throw new WebGpuEmError(
        'gpu',
        `K = ${k}, D = ${d}: too many partial sums; use fewer clusters or features`,
      );
    }
    const reduceWorkgroups = reduceGrid(stride, maxPerDim);
    const assignKernel = kmeansAssignKernel(ctx.device);
    const [assignPipeline, sumsPipeline, reducePipeline] = await Promise.all([
      kernelPipeline(ctx, assignKernel, { D: d, K: k, WRITE_DIST: 0 }),
      kernelPipeline(ctx, KMEANS_SUMS_KERNEL, { D: d, K: k, K_TILE: kTile }),
      kernelPipeline(ctx, REDUCE_KERNEL, {}),
    ]);

    return ctx.createGuarded('creating the k-means workspace', (make, made) => {
      const storageIn = BufferUsage.STORAGE | BufferUsage.COPY_DST;
      const storageOut = BufferUsage.STORAGE | BufferUsage.COPY_SRC;
      const tiles = make('k-means centre tiles', tileFloats * 4, storageIn);
      const centres = make('k-means centres', kmeansCentreFloats(k, d) * 4, storageIn);
      const labels = chunks.map((c, i) => make(`k-means labels, chunk ${i}`, c.rows * 4, storageOut));
      const dist = chunks.map((c, i) => make(`k-means distances, chunk ${i}`, c.rows * 4, storageOut));
      const partials = make('k-means partial sums', totalBlocks * stride * 4, BufferUsage.STORAGE);
      const out = make('k-means sums', stride * 4, storageOut);
      const staging = make('k-means sums read-back', stride * 4, BufferUsage.MAP_READ | BufferUsage.COPY_DST);
      const rowWeights = weights ?? make('row weights (none)', 4, BufferUsage.STORAGE);
      const uniformStride = uniformSlotStride(limits);
      const uniforms = make(
        'k-means uniforms',
        uniformStride * (chunks.length + 1),
        BufferUsage.UNIFORM | BufferUsage.COPY_DST,
      );
      const grids = chunks.map((c) =>
        dispatchGrid(Math.ceil(c.rows / (KMEANS_WORKGROUP * KMEANS_ROWS)), maxPerDim),
      );
      const gridWidths = grids.map(([width]) => width);
      ctx.write(
        uniforms,
        packChunkUniforms(
          chunks,
          uniformStride,
          gridWidths,
          { rowsPerBlock, perChunk: blocks, stride, reduceWidth: reduceWorkgroups[0] },
          weights !== null,
        ),
      );
      const reduceSlot = chunks.length * uniformStride;
      const chunkUniform = (i: number) => uniformSlot(uniforms, uniformStride, i, CHUNK_UNIFORM);
      const assignGroups = chunks.map((c, i) =>
        kernelBindGroup(ctx, assignKernel, assignPipeline, `k-means assignment, chunk ${i}`, {
          chunk: chunkUniform(i),
          x: c.data,
          tiles,
          centres,
          labels: labels[i],
          dist: dist[i],
        }),
      );
      const sumsGroups = chunks.map((c, i) =>
        kernelBindGroup(ctx, KMEANS_SUMS_KERNEL, sumsPipeline, `k-means sums, chunk ${i}`, {
          chunk: chunkUniform(i),
          x: c.data,
          centres,
          labels: labels[i],
          row_weights: rowWeights,
          partials,
        }),
      );
      const reduceGroup = kernelBindGroup(ctx, REDUCE_KERNEL, reducePipeline, 'k-means reduction', {
        params: { buffer: uniforms, offset: reduceSlot, size: REDUCE_FIELDS.length * 4 },
        partials,
        out,
      });
      return new KMeansPasses(
        ctx,
        chunks,
        k,
        d,
        made,
        tiles,
        centres,
        labels,
        dist,
        uniforms,
        uniformStride,
        grids,
        assignPipeline,
        assignGroups,
        sumsPipeline,
        sumsGroups,
        blocks.map((b) => [b, Math.ceil(k / kTile)]),
        reducePipeline,
        reduceGroup,
        reduceWorkgroups,
        out,
        staging,
        stride,
      );
    });
  }

  /**
   * One Lloyd pass from `centres` (K x D): assignment, sums, reduction, one read-back. `changed`
   * counts the rows whose label differs from the previous pass of this workspace (all rows on
   * the first).
   */
  async statistics(
    centres: Float64Array,
    timer: PassTiming | null,
    /** Asked between submissions: when it throws, the pass ends after the one in flight. */
    stop: () => void = () => {},
  ): Promise<KMeansStatistics> {
    const { ctx } = this;
    const work = kmeansWorkPerRow(this.k, this.d);
    const groups = submissionGroups(this.chunks, work, submissionWork(ctx.device));
    await submitInGroups(ctx, 'a k-means pass', groups, stop, (encoder, group, place) => {
      if (place.first) this.writeCentres(centres);
      const pass = encoder.beginComputePass({
        label: 'k-means assignment and sums',
        timestampWrites: groupTimestamps(timer?.writes, place),
      });
      for (const i of group) {
        pass.setPipeline(this.assignPipeline);
        pass.setBindGroup(0, this.assignGroups[i]);
        pass.dispatchWorkgroups(...this.grids[i]);
        pass.setPipeline(this.sumsPipeline);
        pass.setBindGroup(0, this.sumsGroups[i]);
        pass.dispatchWorkgroups(...this.sumsGrid[i]);
      }
      if (place.last) {
        pass.setPipeline(this.reducePipeline);
        pass.setBindGroup(0, this.reduceGroup);
        pass.dispatchWorkgroups(...this.reduceWorkgroups);
      }
      pass.end();
      if (place.last) {
        encoder.copyBufferToBuffer(this.out, 0, this.staging, 0, this.stride * 4);
        timer?.resolve(encoder);
      }
    });
    const out = await ctx.guard('reading the k-means sums', () => ctx.readFloats(this.staging, this.stride));
    const { k, d } = this;
    const counts = new Float64Array(k);
    const firstMoment = new Float64Array(k * d);
    for (let c = 0; c < k; c++) {
      for (let i = 0; i < d; i++) firstMoment[c * d + i] = out[c * (d + 1) + i];
      counts[c] = out[c * (d + 1) + d];
    }
    const inertia = out[k * (d + 1)];
    const changed = out[k * (d + 1) + 1];
    if (!Number.isFinite(inertia)) {
      throw new WebGpuEmError(
        'numerical',
        'k-means distances overflowed float32 on the GPU; scale the data down or use backend: cpu',
      );
    }
    return { nClusters: k, nFeatures: d, counts, firstMoment, inertia, changed };
  }

  /** Nearest centres (direct-form distances), and with `all` the distance to every centre. */
  async assign(centres: Float64Array, all: boolean): Promise<Assignments> {
    const { ctx, k, d } = this;
    const rows = this.chunks.reduce((a, c) => a + c.rows, 0);
    const assignKernel = kmeansAssignKernel(ctx.device);
    this.assignDistPipeline ??= await kernelPipeline(ctx, assignKernel, {
      D: d,
      K: k,
      WRITE_DIST: 1,
    });
    const pipeline = this.assignDistPipeline;
    this.assignDistGroups ??= await ctx.guard('binding the k-means assignment', () =>
      this.chunks.map((c, i) =>
        kernelBindGroup(ctx, assignKernel, pipeline, `k-means assignment with distances, chunk ${i}`, {
          chunk: uniformSlot(this.uniforms, this.uniformStride, i, CHUNK_UNIFORM),
          x: c.data,
          tiles: this.tiles,
          centres: this.centres,
          labels: this.labels[i],
          dist: this.dist[i],
        }),
      ),
    );
    const groups = this.assignDistGroups;
    const labels = new Int32Array(rows);
    const minDistances = new Float64Array(rows);
    const maxRows = Math.max(...this.chunks.map((c) => c.rows));
    const read = BufferUsage.MAP_READ | BufferUsage.COPY_DST;
    const labelOut = ctx.createBuffer('k-means labels read-back', maxRows * 4, read);
    const distOut = ctx.createBuffer('k-means distances read-back', maxRows * 4, read);
    try {
      for (const [i, c] of this.chunks.entries()) {
        await ctx.guard('a k-means assignment', () => {
          // The same centres serve every chunk: packed and uploaded with the first.
          if (i === 0) this.writeCentres(centres);
          const encoder = ctx.device.createCommandEncoder({ label: `k-means assignment, chunk ${i}` });
          const pass = encoder.beginComputePass({ label: `k-means assignment, chunk ${i}` });
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, groups[i]);
          pass.dispatchWorkgroups(...this.grids[i]);
          pass.end();
          encoder.copyBufferToBuffer(this.labels[i], 0, labelOut, 0, c.rows * 4);
          encoder.copyBufferToBuffer(this.dist[i], 0, distOut, 0, c.rows * 4);
          ctx.device.queue.submit([encoder.finish()]);
        });
        const tags = new Uint32Array(
          (await ctx.guard('reading labels', () => ctx.readFloats(labelOut, c.rows))).buffer,
        );
        const dist = await ctx.guard('reading distances', () => ctx.readFloats(distOut, c.rows));
        for (let n = 0; n < c.rows; n++) labels[c.firstRow + n] = (tags[n] & 0x7fffffff) - 1;
        minDistances.set(dist, c.firstRow);
      }
    } finally {
      ctx.destroyBuffer(labelOut);
      ctx.destroyBuffer(distOut);
    }
    return { labels, minDistances, distances: all ? await this.allDistances(rows) : null };
  }

  /**
   * N x K direct-form squared distances to the centres assign() has just uploaded, in slices of
   * rows that fit one binding and the submission budget (one dispatch and one read-back each).
   */
  private async allDistances(rows: number): Promise<Float64Array> {
    const { ctx, k, d } = this;
    const pipeline = await kernelPipeline(ctx, KMEANS_DISTANCES_KERNEL, { D: d, K: k });
    const maxPerDim = ctx.limits.maxComputeWorkgroupsPerDimension;
    const perRow = { madds: k * d, bytes: 4 * (d + k) };
    const sliceRows = Math.max(
      1,
      Math.min(
        rows,
        Math.floor(ctx.limits.maxStorageBufferBindingSize / (k * 4)),
        rowsWithinBudget(perRow, submissionWork(ctx.device)),
      ),
    );
    const out = new Float64Array(rows * k);
    const scratch = ctx.createBuffer(
      'k-means distances',
      sliceRows * k * 4,
      BufferUsage.STORAGE | BufferUsage.COPY_SRC,
    );
    const staging = ctx.createBuffer(
      'k-means distances read-back',
      sliceRows * k * 4,
      BufferUsage.MAP_READ | BufferUsage.COPY_DST,
    );
    const uniform = ctx.createBuffer(
      'k-means distance slice',
      CHUNK_FIELDS.length * 4,
      BufferUsage.UNIFORM | BufferUsage.COPY_DST,
    );
    try {
      for (const c of this.chunks) {
        const group = kernelBindGroup(ctx, KMEANS_DISTANCES_KERNEL, pipeline, 'k-means distances', {
          chunk: uniform,
          x: c.data,
          centres: this.centres,
          out: scratch,
        });
        for (let first = 0; first < c.rows; first += sliceRows) {
          const n = Math.min(sliceRows, c.rows - first);
          const g = dispatchGrid(Math.ceil(n / KMEANS_WORKGROUP), maxPerDim);
          await ctx.guard('k-means distances', () => {
            const u = {
              row_offset: first,
              row_count: n,
              rows_per_block: 0,
              block_offset: 0,
              has_row_weights: 0,
              grid_width: g[0],
            };
            ctx.write(uniform, packU32Struct(CHUNK_FIELDS, u));
            const encoder = ctx.device.createCommandEncoder({ label: 'k-means distances' });
            const pass = encoder.beginComputePass({ label: 'k-means distances' });
            pass.setPipeline(pipeline);
            pass.setBindGroup(0, group);
            pass.dispatchWorkgroups(...g);
            pass.end();
            encoder.copyBufferToBuffer(scratch, 0, staging, 0, n * k * 4);
            ctx.device.queue.submit([encoder.finish()]);
          });
          const values = await ctx.guard('reading k-means distances', () => ctx.readFloats(staging, n * k));
          out.set(values, (c.firstRow + first) * k);
        }
      }
    } finally {
      for (const b of [scratch, staging, uniform]) ctx.destroyBuffer(b);
    }
    return out;
  }

  private writeCentres(centres: Float64Array): void {
    const packed = packKMeansCentres(centres, this.k, this.d);
    this.ctx.write(this.tiles, packed.tiles);
    this.ctx.write(this.centres, packed.centres);
  }

  dispose(): void {
    for (const b of this.buffers) this.ctx.destroyBuffer(b);
    this.buffers.length = 0;
  }
}
