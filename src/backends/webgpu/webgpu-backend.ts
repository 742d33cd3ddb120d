import type { Matrix } from '../../data/matrix.js';
import { WebGpuEmError } from '../../errors.js';
import { BufferUsage, MapMode } from '../../gpu/constants.js';
import { GpuContext, type AcquireOptions } from '../../gpu/context.js';
import { lastPositive } from '../sampling.js';
import type { CovarianceType } from '../../core/names.js';
import type {
  Assignments,
  BoundData,
  BindOptions,
  DataUse,
  KMeansStatistics,
  ComponentParameters,
  EStepOptions,
  EStepResult,
  MixtureBackend,
  SeedingState,
  SufficientStatistics,
} from '../backend.js';
import { fusedPipeline } from './fused-kernel.js';
import {
  ESTEP_KERNEL,
  FUSED_KERNEL,
  KMEANSPP_KERNEL,
  REDUCE_KERNEL,
  STATS_FULL_KERNEL,
  STATS_KERNEL,
  kernelBindGroup,
  kernelPipeline,
} from './kernels.js';
import {
  CHUNK_FIELDS,
  ESTEP_WORKGROUP,
  REDUCE_FIELDS,
  REDUCE_WORKGROUP,
  SEEDING_WORKGROUP,
  STATS_TILE_ROWS,
  STATS_WORKGROUP,
  FUSED_MAX_FEATURES,
  FUSED_MIN_WORK,
  componentLayout,
  fullStatsLayout,
  fusedLayout,
  maxFeatures,
  packComponents,
  packU32Struct,
  statsKindOf,
  statsLayout,
  statsPerComponent,
  type ChunkUniform,
  type StatsKind,
  PARTIALS_BUDGET_BYTES,
} from './layout.js';
import { KMeansPasses, type SampleChunk } from './kmeans-passes.js';

/** Most bytes the per-block partial sums may take. */
/** Sample buffers can be copied from when they are re-chunked. */
const SAMPLE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
/** Fewest rows one statistics workgroup sums (amortises its setup). */
const MIN_ROWS_PER_BLOCK = 256;
/** Blocks the fused kernel aims for: enough to spread over many cores, few enough to amortise setup. */
const FUSED_BLOCKS = 256;

/** E-step and sufficient statistics on WebGPU compute shaders (kernels in shaders/). */
export class WebGpuBackend implements MixtureBackend {
  readonly name = 'webgpu' as const;
  readonly adapterDescription: string;

  private constructor(
    readonly context: GpuContext,
    /** True when this backend acquired the device itself (and so releases it). */
    private readonly ownsContext: boolean,
  ) {
    this.adapterDescription = context.adapterDescription;
  }

  static async create(options: AcquireOptions = {}): Promise<WebGpuBackend> {
    return new WebGpuBackend(await GpuContext.acquire(options), !options.device);
  }

  async bindData(x: Matrix, options: BindOptions = {}): Promise<BoundData> {
    checkFeatures(x.cols, options.purpose ?? 'full');
    return GpuBoundData.upload(this.context, x);
  }

  dispose(): void {
    if (this.ownsContext) this.context.release();
  }
}

/** The per-use limit on D, as a one-line error. */
function checkFeatures(d: number, use: DataUse): void {
  const max = maxFeatures(use);
  if (d <= max) return;
  const what = use === 'kmeans' ? 'k-means' : `'${use}' mixture`;
  throw new WebGpuEmError(
    'gpu',
    `the webgpu backend's ${what} kernels take at most ${max} features, the data has ${d}; ` +
      "reduce the dimension (e.g. PCA) or use backend: 'cpu'",
  );
}

type Chunk = SampleChunk;

/** Buffers and bind groups for one K, made on first use. */
interface Workspace {
  readonly k: number;
  readonly kind: StatsKind;
  readonly comp: GPUBuffer;
  readonly resp: GPUBuffer;
  readonly loglik: GPUBuffer;
  readonly estep: GPUComputePipeline;
  readonly estepGroups: GPUBindGroup[];
  readonly estepGrid: Array<[number, number]>;
  readonly uniforms: GPUBuffer;
  readonly uniformStride: number;
  stats: StatsWorkspace | null;
}

interface StatsWorkspace {
  /** True when gmm_fused.wgsl does the E-step and the sums in one pass (no per-row kernel). */
  readonly fused: boolean;
  readonly stride: number;
  readonly partials: GPUBuffer;
  readonly out: GPUBuffer;
  readonly staging: GPUBuffer;
  readonly rowWeights: GPUBuffer;
  readonly statsPipeline: GPUComputePipeline;
  readonly statsGroups: GPUBindGroup[];
  readonly statsBlocks: number[];
  /** Workgroups along y: groups of consecutive statistics. */
  readonly entryGroups: number;
  readonly reducePipeline: GPUComputePipeline;
  readonly reduceGroup: GPUBindGroup;
  readonly reduceWorkgroups: number;
}

/** Buffers and the pipeline of k-means++ seeding, made on first use. */
interface Seeding {
  readonly pipeline: GPUComputePipeline;
  readonly uniformStride: number;
  readonly uniforms: GPUBuffer;
  readonly candidate: GPUBuffer;
  /** Bound as the previous distances for the first centre, which has none. */
  readonly noDistances: GPUBuffer;
  readonly blockSums: GPUBuffer;
  readonly staging: GPUBuffer;
  /** Per chunk: its first block and its number of blocks. */
  readonly chunkBlocks: Array<[number, number]>;
  /** Per block: its first global row and its number of rows. */
  readonly blockRows: Array<[number, number]>;
  readonly blockCount: number;
}

/** Rows per thread of kmeanspp_distances.wgsl. */
const SEEDING_ROWS_PER_THREAD = 4;

/** Chunk i's slot of the workspace's Chunk uniforms. */
function chunkUniform(w: Pick<Workspace, 'uniforms' | 'uniformStride'>, i: number): GPUBufferBinding {
  return { buffer: w.uniforms, offset: i * w.uniformStride, size: CHUNK_FIELDS.length * 4 };
}

class GpuBoundData implements BoundData {
  readonly rows: number;
  readonly cols: number;
  lastGpuSeconds: number | null = null;
  private timer: PassTimer | null = null;
  private readonly chunks: Chunk[] = [];
  private workspace: Workspace | null = null;
  private seeding: Seeding | null = null;
  private kmeans: KMeansPasses | null = null;
  private disposed = false;
  /** Calls run one at a time: they share the workspace and its staging buffer. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly ctx: GpuContext,
    x: Matrix,
  ) {
    this.rows = x.rows;
    this.cols = x.cols;
  }

  /** Uploads X in chunks that fit one storage binding each. */
  static async upload(ctx: GpuContext, x: Matrix): Promise<GpuBoundData> {
    const bound = new GpuBoundData(ctx, x);
    const maxRows = Math.max(1, Math.floor(ctx.limits.maxStorageBufferBindingSize / (x.cols * 4)));
    try {
      await ctx.guard('uploading the samples', () => {
        for (let first = 0; first < x.rows; first += maxRows) {
          const rows = Math.min(maxRows, x.rows - first);
          const data = ctx.uploadBuffer(
            `samples[${first}..${first + rows})`,
            x.data.subarray(first * x.cols, (first + rows) * x.cols),
            BufferUsage.COPY_SRC,
          );
          bound.chunks.push({ firstRow: first, rows, data });
        }
      });
    } catch (e) {
      bound.dispose();
      throw e;
    }
    return bound;
  }

  prepare(nComponents: number, covarianceType: CovarianceType | 'kmeans'): Promise<void> {
    return this.serial(async () => {
      if (covarianceType === 'kmeans') {
        await this.ensureKMeans(nComponents);
      } else {
        const s = await this.ensureStats(
          await this.ensureWorkspace(nComponents, statsKindOf({ covarianceType })),
        );
        if (s.fused) {
          // Drivers may compile at the first dispatch (lavapipe does): one workgroup now keeps that
          // out of the first iteration. Its sums are overwritten by every pass.
          await this.ctx.guard('compiling the fused kernel', () => {
            const encoder = this.ctx.device.createCommandEncoder({ label: 'fused kernel warm-up' });
            const pass = encoder.beginComputePass({ label: 'fused kernel warm-up' });
            pass.setPipeline(s.statsPipeline);
            pass.setBindGroup(0, s.statsGroups[0]);
            pass.dispatchWorkgroups(1);
            pass.end();
            this.ctx.device.queue.submit([encoder.finish()]);
          });
        }
      }
      await this.ctx.device.queue.onSubmittedWorkDone();
    });
  }

  sufficientStatistics(p: ComponentParameters, shifts: Float64Array): Promise<SufficientStatistics> {
    return this.serial(async () => {
      this.checkParameters(p);
      const kind = statsKindOf(p);
      const out = await this.runStatistics(packComponents(p, shifts), p.nComponents, kind);
      return unpackStatistics(out, p.nComponents, this.cols, this.rows, kind === 'diagonal');
    });
  }

  eStep(p: ComponentParameters, options: EStepOptions): Promise<EStepResult> {
    return this.serial(() => this.runEStep(p, options));
  }

  kmeansStatistics(centres: Float64Array, k: number): Promise<KMeansStatistics> {
    return this.serial(async () => {
      const passes = await this.ensureKMeans(k);
      this.timer ??= this.ctx.hasTimestamps ? new PassTimer(this.ctx) : null;
      const stats = await passes.statistics(centres, this.timer);
      if (this.timer)
        this.lastGpuSeconds = await this.ctx.guard('reading timestamps', () => this.timer!.read());
      return stats;
    });
  }

  seedingPass(candidate: Float64Array, base: SeedingState | null): Promise<SeedingState> {
    return this.serial(() => this.runSeedingPass(candidate, base as GpuSeedingState | null));
  }

  assign(centres: Float64Array, k: number, options: { allDistances: boolean }): Promise<Assignments> {
    return this.serial(async () => (await this.ensureKMeans(k)).assign(centres, options.allDistances));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const c of this.chunks) this.ctx.destroyBuffer(c.data);
    this.chunks.length = 0;
    this.releaseWorkspace();
    this.releaseKMeans();
    this.releaseSeeding();
    this.timer?.dispose();
    this.timer = null;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(() => {
      if (this.disposed) throw new WebGpuEmError('usage', 'this data was disposed; bind it again');
      return work();
    });
    this.queue = next.catch(() => {});
    return next;
  }

  /** The k-means workspace for K clusters (one at a time: another K replaces it). */
  private async ensureKMeans(k: number): Promise<KMeansPasses> {
    if (this.kmeans?.k === k) return this.kmeans;
    this.releaseKMeans();
    this.kmeans = await KMeansPasses.create(this.ctx, this.chunks, k, this.cols);
    return this.kmeans;
  }

  private releaseKMeans(): void {
    this.kmeans?.dispose();
    this.kmeans = null;
  }

  private releaseSeeding(): void {
    const s = this.seeding;
    if (!s) return;
    this.seeding = null;
    for (const b of [s.uniforms, s.candidate, s.noDistances, s.blockSums, s.staging])
      this.ctx.destroyBuffer(b);
  }

  private releaseWorkspace(): void {
    const w = this.workspace;
    if (!w) return;
    this.workspace = null;
    for (const b of [w.comp, w.resp, w.loglik, w.uniforms]) this.ctx.destroyBuffer(b);
    if (w.stats) {
      for (const b of [w.stats.partials, w.stats.out, w.stats.staging, w.stats.rowWeights])
        this.ctx.destroyBuffer(b);
    }
  }

  /** Largest rows per chunk the scratch buffers allow for K components. */
  private chunkRowsFor(k: number): number {
    const maxBinding = this.ctx.limits.maxStorageBufferBindingSize;
    return Math.min(this.rows, Math.floor(maxBinding / (k * 4)));
  }

  private async ensureWorkspace(k: number, kind: StatsKind): Promise<Workspace> {
    if (this.workspace?.k === k && this.workspace.kind === kind) return this.workspace;
    checkFeatures(this.cols, kind === 'diagonal' ? 'diag' : 'full');
    this.releaseWorkspace();
    const { ctx } = this;
    const d = this.cols;
    // Rows per chunk are capped by the data buffers and by the N x K responsibility scratch.
    const scratchRows = this.chunkRowsFor(k);
    if (scratchRows < 1 || this.chunks.some((c) => c.rows > scratchRows)) {
      await this.rechunk(scratchRows);
    }
    const estep = await kernelPipeline(ctx, ESTEP_KERNEL, {
      D: d,
      K: k,
      DIAG: kind === 'diagonal' ? 1 : 0,
    });
    const uniformStride = Math.max(ctx.limits.minUniformBufferOffsetAlignment, 256);
    const maxRows = Math.max(...this.chunks.map((c) => c.rows));
    return this.createGuarded('creating the E-step workspace', (make) => {
      const storage = BufferUsage.STORAGE | BufferUsage.COPY_SRC;
      const comp = make(
        'component parameters',
        componentLayout(k, d, kind).length * 4,
        BufferUsage.STORAGE | BufferUsage.COPY_DST,
      );
      const resp = make('responsibilities', maxRows * k * 4, storage);
      const loglik = make('log-likelihoods', maxRows * 4, storage);
      const uniforms = make(
        'chunk uniforms',
        uniformStride * (this.chunks.length + 1),
        BufferUsage.UNIFORM | BufferUsage.COPY_DST,
      );
      const estepGrid = this.chunks.map((c) => this.grid(Math.ceil(c.rows / ESTEP_WORKGROUP)));
      const estepGroups = this.chunks.map((c, i) =>
        kernelBindGroup(ctx, ESTEP_KERNEL, estep, `${estep.label} bindings, chunk ${i}`, {
          chunk: chunkUniform({ uniforms, uniformStride }, i),
          x: c.data,
          comp,
          resp,
          loglik,
        }),
      );
      const workspace: Workspace = {
        k,
        kind,
        comp,
        resp,
        loglik,
        estep,
        estepGroups,
        estepGrid,
        uniforms,
        uniformStride,
        stats: null,
      };
      this.workspace = workspace;
      return workspace;
    });
  }

  /**
   * Runs `create` (buffer and bind-group creation) inside the context's error scopes; if anything
   * fails, every buffer it made with `make` is destroyed before the error propagates.
   */
  private async createGuarded<T>(
    what: string,
    create: (make: (label: string, size: number, usage: number) => GPUBuffer) => T,
  ): Promise<T> {
    const made: GPUBuffer[] = [];
    const make = (label: string, size: number, usage: number) => {
      const buffer = this.ctx.createBuffer(label, size, usage);
      made.push(buffer);
      return buffer;
    };
    try {
      return await this.ctx.guard(what, () => create(make));
    } catch (error) {
      for (const buffer of made) this.ctx.destroyBuffer(buffer);
      throw error;
    }
  }

  /** Splits the data into smaller chunks (when K is large the responsibility scratch limits them), on the GPU. */
  private async rechunk(maxRows: number): Promise<void> {
    if (maxRows < 1) {
      throw new WebGpuEmError(
        'gpu',
        'too many components: one row of responsibilities exceeds the storage binding limit; use fewer components',
      );
    }
    const { ctx } = this;
    const d = this.cols;
    // The new chunks replace the old ones only once the copy succeeded; else the old stay.
    const next = await this.createGuarded('re-chunking the samples', (make) => {
      const chunks: Chunk[] = [];
      const encoder = ctx.device.createCommandEncoder({ label: 're-chunk samples' });
      for (let first = 0; first < this.rows; first += maxRows) {
        const rows = Math.min(maxRows, this.rows - first);
        const data = make(`samples[${first}..${first + rows})`, rows * d * 4, SAMPLE_USAGE);
        chunks.push({ firstRow: first, rows, data });
        for (const o of this.chunks) {
          const from = Math.max(first, o.firstRow);
          const to = Math.min(first + rows, o.firstRow + o.rows);
          if (from >= to) continue;
          encoder.copyBufferToBuffer(
            o.data,
            (from - o.firstRow) * d * 4,
            data,
            (from - first) * d * 4,
            (to - from) * d * 4,
          );
        }
      }
      ctx.device.queue.submit([encoder.finish()]);
      return chunks;
    });
    // Their block layouts follow the chunks.
    this.releaseSeeding();
    this.releaseKMeans();
    for (const o of this.chunks) ctx.destroyBuffer(o.data);
    this.chunks.splice(0, this.chunks.length, ...next);
  }

  private async ensureStats(w: Workspace): Promise<StatsWorkspace> {
    if (w.stats) return w.stats;
    const { ctx } = this;
    const d = this.cols;
    const k = w.k;
    const layout = statsLayout(d, k, ctx.limits.maxComputeWorkgroupStorageSize, w.kind);
    const stride = layout.entries;
    const maxBytes = Math.min(ctx.limits.maxStorageBufferBindingSize, PARTIALS_BUDGET_BYTES);
    const maxBlocks = Math.floor(maxBytes / (stride * 4));
    if (maxBlocks < 1) {
      throw new WebGpuEmError(
        'gpu',
        `K = ${k} components of D = ${d} features need ${stride * 4} bytes of sums, over the adapter's ` +
          `storage binding limit of ${ctx.limits.maxStorageBufferBindingSize}; use fewer components or features`,
      );
    }
    const maxPerDim = ctx.limits.maxComputeWorkgroupsPerDimension;
    const fused = this.rows * k >= FUSED_MIN_WORK ? fusedLayout(d, k, w.kind, ctx.limits) : null;
    // Full and tied sums of wide data as blocks of outer products (sufficient_stats_full.wgsl):
    // 2.2x faster per iteration at D = 32, but 0.9 s more to compile cold than
    // sufficient_stats.wgsl, which stays for the small problems below the fused kernel.
    const blocked =
      !fused && w.kind === 'full' && d > FUSED_MAX_FEATURES.full ? fullStatsLayout(d, k, ctx.limits) : null;
    const entryGroups = fused || blocked ? 1 : layout.groups;
    if (entryGroups > maxPerDim) {
      throw new WebGpuEmError(
        'gpu',
        `K = ${k}, D = ${d} need ${entryGroups} workgroups along one dispatch dimension, over the adapter's ` +
          `${maxPerDim}; use fewer components or features`,
      );
    }
    const largest = Math.max(...this.chunks.map((c) => c.rows));
    let rowsPerBlock = Math.max(
      MIN_ROWS_PER_BLOCK,
      Math.ceil(this.rows / maxBlocks) + this.chunks.length,
      Math.ceil(largest / maxPerDim),
      // The fused kernel: about FUSED_BLOCKS blocks, each long enough to amortise loading its parameters.
      fused ? Math.ceil(this.rows / FUSED_BLOCKS) : 0,
    );
    rowsPerBlock = Math.ceil(rowsPerBlock / STATS_TILE_ROWS) * STATS_TILE_ROWS;
    const statsBlocks = this.chunks.map((c) => Math.ceil(c.rows / rowsPerBlock));
    const totalBlocks = statsBlocks.reduce((a, b) => a + b, 0);

    const statsPipeline = fused
      ? await fusedPipeline(ctx, d, w.kind, { K: k, WORKGROUP: fused.workgroup, TILE: fused.tile })
      : blocked
        ? await kernelPipeline(ctx, STATS_FULL_KERNEL, {
            D: d,
            K: k,
            WORKGROUP: blocked.workgroup,
            TILE: blocked.tile,
          })
        : await kernelPipeline(ctx, STATS_KERNEL, {
            D: d,
            K: k,
            WORKGROUP: STATS_WORKGROUP,
            TILE: layout.tile,
            K_SPAN: layout.kSpan,
            DIAG: w.kind === 'diagonal' ? 1 : 0,
          });
    const reducePipeline = await kernelPipeline(ctx, REDUCE_KERNEL, {});
    const reduceWorkgroups = Math.ceil(stride / REDUCE_WORKGROUP);
    if (reduceWorkgroups > maxPerDim) {
      throw new WebGpuEmError(
        'gpu',
        `K = ${k}, D = ${d} give too many statistics for one reduction dispatch`,
      );
    }
    return this.createGuarded('creating the statistics workspace', (make) => {
      const scratch = blocked?.scratch ?? 0;
      const partials = make('partial sums', (totalBlocks * stride + scratch) * 4, BufferUsage.STORAGE);
      const out = make('sufficient statistics', stride * 4, BufferUsage.STORAGE | BufferUsage.COPY_SRC);
      const staging = make('statistics read-back', stride * 4, BufferUsage.MAP_READ | BufferUsage.COPY_DST);
      const rowWeights = make('row weights (none)', 4, BufferUsage.STORAGE);
      let blockOffset = 0;
      const uniformData = new Uint32Array((w.uniformStride / 4) * (this.chunks.length + 1));
      const statsGroups = this.chunks.map((c, i) => {
        const u: ChunkUniform = {
          row_offset: c.firstRow,
          row_count: c.rows,
          rows_per_block: rowsPerBlock,
          block_offset: blockOffset,
          has_row_weights: 0,
          grid_width: w.estepGrid[i][0],
        };
        uniformData.set(packU32Struct(CHUNK_FIELDS, u), (i * w.uniformStride) / 4);
        blockOffset += statsBlocks[i];
        const label = `${statsPipeline.label} bindings, chunk ${i}`;
        const common = {
          chunk: chunkUniform(w, i),
          x: c.data,
          comp: w.comp,
          row_weights: rowWeights,
          partials,
        };
        if (fused) return kernelBindGroup(ctx, FUSED_KERNEL, statsPipeline, label, common);
        return kernelBindGroup(ctx, blocked ? STATS_FULL_KERNEL : STATS_KERNEL, statsPipeline, label, {
          ...common,
          resp: w.resp,
          loglik: w.loglik,
        });
      });
      const reduceSlot = this.chunks.length * w.uniformStride;
      uniformData.set(packU32Struct(REDUCE_FIELDS, { block_count: totalBlocks, stride }), reduceSlot / 4);
      ctx.write(w.uniforms, uniformData);
      const reduceGroup = kernelBindGroup(ctx, REDUCE_KERNEL, reducePipeline, 'reduce bindings', {
        params: { buffer: w.uniforms, offset: reduceSlot, size: REDUCE_FIELDS.length * 4 },
        partials,
        out,
      });
      const stats: StatsWorkspace = {
        fused: fused !== null,
        stride,
        partials,
        out,
        staging,
        rowWeights,
        statsPipeline,
        statsGroups,
        statsBlocks,
        entryGroups,
        reducePipeline,
        reduceGroup,
        reduceWorkgroups,
      };
      w.stats = stats;
      return stats;
    });
  }

  /** A dispatch of `count` workgroups, folded into 2-D when it exceeds the per-dimension limit. */
  private grid(count: number): [number, number] {
    const maxPerDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    const width = Math.min(count, maxPerDim);
    return [width, Math.ceil(count / width)];
  }

  private writeChunkUniforms(w: Workspace): void {
    // The E-step reads only row_count and grid_width; the stats fields are filled by ensureStats.
    if (w.stats) return;
    const data = new Uint32Array((w.uniformStride / 4) * this.chunks.length);
    this.chunks.forEach((c, i) => {
      const u: ChunkUniform = {
        row_offset: c.firstRow,
        row_count: c.rows,
        rows_per_block: 0,
        block_offset: 0,
        has_row_weights: 0,
        grid_width: w.estepGrid[i][0],
      };
      data.set(packU32Struct(CHUNK_FIELDS, u), (i * w.uniformStride) / 4);
    });
    this.ctx.write(w.uniforms, data);
  }

  /** One pass of the E-step (or assignment) kernel and the statistics kernel; the reduced sums. */
  private async runStatistics(packed: Float32Array, k: number, kind: StatsKind): Promise<Float32Array> {
    const w = await this.ensureWorkspace(k, kind);
    const s = await this.ensureStats(w);
    const { ctx } = this;
    await ctx.guard('an EM iteration', () => {
      ctx.write(w.comp, packed);
      const encoder = ctx.device.createCommandEncoder({ label: 'EM iteration' });
      this.timer ??= ctx.hasTimestamps ? new PassTimer(ctx) : null;
      const pass = encoder.beginComputePass({
        label: 'E-step and statistics',
        timestampWrites: this.timer?.writes,
      });
      this.chunks.forEach((_, i) => {
        if (!s.fused) {
          pass.setPipeline(w.estep);
          pass.setBindGroup(0, w.estepGroups[i]);
          pass.dispatchWorkgroups(...w.estepGrid[i]);
        }
        pass.setPipeline(s.statsPipeline);
        pass.setBindGroup(0, s.statsGroups[i]);
        pass.dispatchWorkgroups(s.statsBlocks[i], s.entryGroups);
      });
      pass.setPipeline(s.reducePipeline);
      pass.setBindGroup(0, s.reduceGroup);
      pass.dispatchWorkgroups(s.reduceWorkgroups);
      pass.end();
      encoder.copyBufferToBuffer(s.out, 0, s.staging, 0, s.stride * 4);
      this.timer?.resolve(encoder);
      ctx.device.queue.submit([encoder.finish()]);
    });
    const out = await ctx.guard('reading the statistics', () => ctx.readFloats(s.staging, s.stride));
    if (this.timer) this.lastGpuSeconds = await ctx.guard('reading timestamps', () => this.timer!.read());
    return out;
  }

  private async runEStep(p: ComponentParameters, options: EStepOptions): Promise<EStepResult> {
    this.checkParameters(p);
    const k = p.nComponents;
    const w = await this.ensureWorkspace(k, statsKindOf(p));
    const logLikelihood = new Float64Array(this.rows);
    const responsibilities = options.responsibilities ? new Float64Array(this.rows * k) : null;
    const labels = options.labels ? new Int32Array(this.rows) : null;
    const width = responsibilities || labels ? k : 0;
    await this.runPerRow(
      w,
      packComponents(p, null),
      w.estep,
      w.estepGroups,
      width,
      (first, perRow, scalar) => {
        logLikelihood.set(scalar, first);
        if (!perRow) return;
        responsibilities?.set(perRow, first * k);
        if (labels) for (let n = 0; n < scalar.length; n++) labels[first + n] = argBest(perRow, n * k, k, 1);
      },
    );
    return { logLikelihood, responsibilities, labels };
  }

  private async runSeedingPass(candidate: Float64Array, base: GpuSeedingState | null): Promise<SeedingState> {
    const { ctx } = this;
    const seeding = await this.ensureSeeding();
    const trial = ctx.createBuffer(
      'k-means++ distances',
      this.rows * 4,
      BufferUsage.STORAGE | BufferUsage.COPY_SRC,
    );
    try {
      const uniforms = new Uint32Array((seeding.uniformStride / 4) * this.chunks.length);
      this.chunks.forEach((c, i) => {
        const slot = (i * seeding.uniformStride) / 4;
        uniforms.set([c.firstRow, c.rows, seeding.chunkBlocks[i][0], base ? 0 : 1], slot);
      });
      await ctx.guard('a k-means++ pass', () => {
        ctx.write(seeding.uniforms, uniforms);
        ctx.write(seeding.candidate, Float32Array.from(candidate));
        const encoder = ctx.device.createCommandEncoder({ label: 'k-means++ pass' });
        const pass = encoder.beginComputePass({ label: 'k-means++ distances' });
        pass.setPipeline(seeding.pipeline);
        this.chunks.forEach((c, i) => {
          pass.setBindGroup(
            0,
            kernelBindGroup(ctx, KMEANSPP_KERNEL, seeding.pipeline, `k-means++ bindings, chunk ${i}`, {
              step: { buffer: seeding.uniforms, offset: i * seeding.uniformStride, size: 16 },
              x: c.data,
              candidate: seeding.candidate,
              closest: base ? base.distances : seeding.noDistances,
              trial,
              thread_sums: seeding.blockSums,
            }),
          );
          pass.dispatchWorkgroups(seeding.chunkBlocks[i][1]);
        });
        pass.end();
        const threadSums = seeding.blockCount * SEEDING_WORKGROUP;
        encoder.copyBufferToBuffer(seeding.blockSums, 0, seeding.staging, 0, threadSums * 4);
        ctx.device.queue.submit([encoder.finish()]);
      });
      const threadSums = await ctx.guard('reading k-means++ sums', () =>
        ctx.readFloats(seeding.staging, seeding.blockCount * SEEDING_WORKGROUP),
      );
      // Each block's thread sums, added in a fixed order in float64.
      const sums = new Float64Array(seeding.blockCount);
      for (let b = 0; b < sums.length; b++) {
        for (let t = 0; t < SEEDING_WORKGROUP; t++) sums[b] += threadSums[b * SEEDING_WORKGROUP + t];
      }
      return new GpuSeedingState(this, trial, sums, seeding.blockRows);
    } catch (e) {
      ctx.destroyBuffer(trial);
      throw e;
    }
  }

  /** Reads `count` distances of a seeding state from `first` (global row). */
  readSeedingDistances(state: GpuSeedingState, first: number, count: number): Promise<Float32Array> {
    return this.serial(async () => {
      const { ctx } = this;
      const staging = ctx.createBuffer(
        'k-means++ block read-back',
        count * 4,
        BufferUsage.MAP_READ | BufferUsage.COPY_DST,
      );
      try {
        await ctx.guard('reading a k-means++ block', () => {
          const encoder = ctx.device.createCommandEncoder({ label: 'k-means++ block read-back' });
          encoder.copyBufferToBuffer(state.distances, first * 4, staging, 0, count * 4);
          ctx.device.queue.submit([encoder.finish()]);
        });
        return await ctx.guard('reading a k-means++ block', () => ctx.readFloats(staging, count));
      } finally {
        ctx.destroyBuffer(staging);
      }
    });
  }

  releaseBuffer(buffer: GPUBuffer): void {
    this.ctx.destroyBuffer(buffer);
  }

  private async ensureSeeding(): Promise<Seeding> {
    if (this.seeding) return this.seeding;
    const { ctx } = this;
    if (this.rows * 4 > ctx.limits.maxStorageBufferBindingSize) {
      throw new WebGpuEmError(
        'gpu',
        `k-means++ on the GPU keeps one distance per sample in one binding: ${this.rows} samples exceed the adapter's ` +
          `${ctx.limits.maxStorageBufferBindingSize} bytes; use init 'random' or fit on a subsample`,
      );
    }
    const pipeline = await kernelPipeline(ctx, KMEANSPP_KERNEL, { D: this.cols });
    const rowsPerBlock = SEEDING_WORKGROUP * SEEDING_ROWS_PER_THREAD;
    const chunkBlocks: Array<[number, number]> = [];
    const blockRows: Array<[number, number]> = [];
    for (const c of this.chunks) {
      const blocks = Math.ceil(c.rows / rowsPerBlock);
      chunkBlocks.push([blockRows.length, blocks]);
      for (let b = 0; b < blocks; b++) {
        blockRows.push([c.firstRow + b * rowsPerBlock, Math.min(rowsPerBlock, c.rows - b * rowsPerBlock)]);
      }
    }
    if (chunkBlocks.some(([, blocks]) => blocks > ctx.limits.maxComputeWorkgroupsPerDimension)) {
      throw new WebGpuEmError(
        'gpu',
        'too many samples in one chunk for a k-means++ dispatch; use init random',
      );
    }
    const uniformStride = Math.max(ctx.limits.minUniformBufferOffsetAlignment, 256);
    const blockCount = blockRows.length;
    this.seeding = {
      pipeline,
      uniformStride,
      uniforms: ctx.createBuffer(
        'k-means++ uniforms',
        uniformStride * this.chunks.length,
        BufferUsage.UNIFORM | BufferUsage.COPY_DST,
      ),
      candidate: ctx.createBuffer(
        'k-means++ candidate',
        this.cols * 4,
        BufferUsage.STORAGE | BufferUsage.COPY_DST,
      ),
      noDistances: ctx.createBuffer('k-means++ no distances', 4, BufferUsage.STORAGE),
      blockSums: ctx.createBuffer(
        'k-means++ thread sums',
        blockCount * SEEDING_WORKGROUP * 4,
        BufferUsage.STORAGE | BufferUsage.COPY_SRC,
      ),
      staging: ctx.createBuffer(
        'k-means++ thread sums read-back',
        blockCount * SEEDING_WORKGROUP * 4,
        BufferUsage.MAP_READ | BufferUsage.COPY_DST,
      ),
      chunkBlocks,
      blockRows,
      blockCount,
    };
    return this.seeding;
  }

  /**
   * Runs a per-row kernel (E-step or assignment) chunk by chunk, handing `consume` each chunk's
   * scalar output (loglik binding) and, when `width` > 0, its `width` values per row (resp
   * binding). Reading back per chunk keeps every read-back within one binding's size.
   */
  private async runPerRow(
    w: Workspace,
    packed: Float32Array,
    pipeline: GPUComputePipeline,
    groups: GPUBindGroup[],
    width: number,
    consume: (firstRow: number, perRow: Float32Array | null, scalar: Float32Array) => void,
  ): Promise<void> {
    this.writeChunkUniforms(w);
    const { ctx } = this;
    const read = BufferUsage.MAP_READ | BufferUsage.COPY_DST;
    const maxRows = Math.max(...this.chunks.map((c) => c.rows));
    const perRowOut = width > 0 ? ctx.createBuffer('per-row read-back', maxRows * width * 4, read) : null;
    const scalarOut = ctx.createBuffer('per-row scalar read-back', maxRows * 4, read);
    try {
      ctx.write(w.comp, packed);
      for (const [i, c] of this.chunks.entries()) {
        await ctx.guard('a per-sample pass', () => {
          const encoder = ctx.device.createCommandEncoder({ label: `per-sample pass, chunk ${i}` });
          const pass = encoder.beginComputePass({ label: `per-sample pass, chunk ${i}` });
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, groups[i]);
          pass.dispatchWorkgroups(...w.estepGrid[i]);
          pass.end();
          if (perRowOut) encoder.copyBufferToBuffer(w.resp, 0, perRowOut, 0, c.rows * width * 4);
          encoder.copyBufferToBuffer(w.loglik, 0, scalarOut, 0, c.rows * 4);
          ctx.device.queue.submit([encoder.finish()]);
        });
        const scalar = await ctx.guard('reading per-sample results', () => ctx.readFloats(scalarOut, c.rows));
        const perRow = perRowOut
          ? await ctx.guard('reading per-sample results', () => ctx.readFloats(perRowOut, c.rows * width))
          : null;
        consume(c.firstRow, perRow, scalar);
      }
    } finally {
      ctx.destroyBuffer(perRowOut);
      ctx.destroyBuffer(scalarOut);
    }
  }

  private checkParameters(p: ComponentParameters): void {
    if (p.nFeatures !== this.cols) {
      throw new WebGpuEmError(
        'gpu',
        `parameters have D = ${p.nFeatures} but the data has ${this.cols} columns`,
      );
    }
  }
}

/** Index of the largest (sign 1) or smallest (sign -1) of values[offset .. offset + k); ties: the lowest. */
function argBest(values: ArrayLike<number>, offset: number, k: number, sign: 1 | -1): number {
  let best = 0;
  for (let c = 1; c < k; c++) if (sign * (values[offset + c] - values[offset + best]) > 0) best = c;
  return best;
}

/** Splits the reduced vector into N_k, first and second moments (entry order of sufficient_stats.wgsl). */
function unpackStatistics(
  out: Float32Array,
  k: number,
  d: number,
  rows: number,
  diagonal: boolean,
): SufficientStatistics {
  const entries = statsPerComponent(d, diagonal ? 'diagonal' : 'full');
  const second = diagonal ? d : (d * (d + 1)) / 2;
  const nk = new Float64Array(k);
  const first = new Float64Array(k * d);
  const secondMoment = new Float64Array(k * second);
  for (let c = 0; c < k; c++) {
    const base = c * entries;
    for (let e = 0; e < second; e++) secondMoment[c * second + e] = out[base + e];
    for (let i = 0; i < d; i++) first[c * d + i] = out[base + second + i];
    nk[c] = out[base + second + d];
  }
  return {
    nComponents: k,
    nFeatures: d,
    weightSum: rows,
    logLikelihoodSum: out[k * entries],
    nk,
    firstMoment: first,
    secondMomentLayout: diagonal ? 'diagonal' : 'packed',
    secondMoment,
  };
}

/** Distances of one k-means++ pass, on the GPU, with their per-block sums on the host. */
class GpuSeedingState implements SeedingState {
  readonly potential: number;
  private released = false;

  constructor(
    private readonly owner: GpuBoundData,
    readonly distances: GPUBuffer,
    private readonly blockSums: Float64Array,
    /** Per block: its first global row and its number of rows (the layout the sums came from). */
    private readonly blockRows: ReadonlyArray<readonly [number, number]>,
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
    const values = await this.owner.readSeedingDistances(this, first, count);
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
    this.owner.releaseBuffer(this.distances);
  }
}

/** Times one compute pass with a pair of timestamp queries. */
class PassTimer {
  private readonly querySet: GPUQuerySet;
  private readonly resolved: GPUBuffer;
  private readonly staging: GPUBuffer;
  readonly writes: GPUComputePassTimestampWrites;

  constructor(private readonly ctx: GpuContext) {
    this.querySet = ctx.device.createQuerySet({ label: 'pass timer', type: 'timestamp', count: 2 });
    this.resolved = ctx.createBuffer('timestamps', 16, BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC);
    this.staging = ctx.createBuffer('timestamps read-back', 16, BufferUsage.MAP_READ | BufferUsage.COPY_DST);
    this.writes = { querySet: this.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 };
  }

  resolve(encoder: GPUCommandEncoder): void {
    encoder.resolveQuerySet(this.querySet, 0, 2, this.resolved, 0);
    encoder.copyBufferToBuffer(this.resolved, 0, this.staging, 0, 16);
  }

  async read(): Promise<number> {
    await this.staging.mapAsync(MapMode.READ);
    const [begin, end] = new BigUint64Array(this.staging.getMappedRange().slice(0));
    this.staging.unmap();
    return Number(end - begin) / 1e9;
  }

  dispose(): void {
    this.querySet.destroy();
    this.ctx.destroyBuffer(this.resolved);
    this.ctx.destroyBuffer(this.staging);
  }
}
