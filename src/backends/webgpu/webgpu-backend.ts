import type { Matrix } from '../../data/matrix.js';
import { toSampleWeights } from '../../data/weights.js';
import { WebGpuEmError } from '../../errors.js';
import { GpuContext, type AcquireOptions } from '../../gpu/context.js';
import type { CovarianceType } from '../../core/names.js';
import type {
  Assignments,
  BoundData,
  BindOptions,
  KMeansStatistics,
  ComponentParameters,
  EStepOptions,
  EStepResult,
  MixtureBackend,
  RenderView,
  SeedingState,
  SeedingStep,
  SufficientStatistics,
  ViewLabels,
} from '../backend.js';
import { keptCandidate } from '../backend.js';
import { checkFeatures } from './capacity.js';
import { packComponents, statsKindOf, type StatsKind } from './layout.js';
import { kmeansWorkPerRow, maxKMeansChunks } from './kmeans-budget.js';
import { KMeansPasses } from './kmeans-passes.js';
import {
  mixtureWorkPerRow,
  rowsPerSubmission,
  runEStep,
  runStatistics,
  unpackStatistics,
  writeLabels,
} from './mixture-passes.js';
import {
  createMixtureWorkspace,
  maxStatsChunks,
  createStatsWorkspace,
  destroyMixtureWorkspace,
  statsAreFused,
  type MixtureWorkspace,
  type StatsWorkspace,
} from './mixture-workspace.js';
import {
  chunksOfBuffer,
  rechunkSamples,
  uploadSamples,
  uploadWeights,
  type RowWeights,
  type SampleChunk,
} from './sample-chunks.js';
import { GpuSeedingState, KMeansPPSeeding, readDistanceBlocks } from './seeding.js';
import { chunkRowsWithin, rowsWithinBudget, submissionWork } from './submissions.js';
import { PassTimer } from './timing.js';
import { RowLabels } from './render-view.js';

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
    const checked = options.weights ? toSampleWeights(options.weights, x.rows) : null;
    const weights = checked ? await uploadWeights(this.context, checked) : null;
    try {
      const chunks = await uploadSamples(this.context, x);
      return new GpuBoundData(this.context, x.rows, x.cols, chunks, weights, checked, null, options.signal);
    } catch (error) {
      if (weights) this.context.destroyBuffer(weights.buffer);
      throw error;
    }
  }

  /**
   * Samples already in a buffer of this device (rows x cols float32): bound in place when they
   * fit one binding (see chunksOfBuffer); the buffer stays the caller's.
   */
  async bindBuffer(
    buffer: GPUBuffer,
    rows: number,
    cols: number,
    options: BindOptions = {},
  ): Promise<BoundData> {
    checkFeatures(cols, options.purpose ?? 'full');
    const { chunks, borrowed } = await chunksOfBuffer(this.context, buffer, rows, cols);
    return new GpuBoundData(
      this.context,
      rows,
      cols,
      chunks,
      null,
      null,
      borrowed ? buffer : null,
      options.signal,
    );
  }

  dispose(): void {
    if (this.ownsContext) this.context.release();
  }
}

/**
 * Samples on the GPU and the workspaces made for them on first use: one mixture workspace (for
 * one K and family), one k-means workspace (one K) and the k-means++ seeding; each frees its own
 * buffers, and another K replaces the one before.
 */
class GpuBoundData implements BoundData {
  lastGpuSeconds: number | null = null;
  private timer: PassTimer | null = null;
  private workspace: MixtureWorkspace | null = null;
  private seeding: KMeansPPSeeding | null = null;
  private kmeans: KMeansPasses | null = null;
  private disposed = false;
  /** Each row's label for renderView, made on its first call. */
  private rowLabels: RowLabels | null = null;
  /** Calls run one at a time: they share the workspaces and their staging buffers. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Calls started and not yet finished (0 or 1): dispose() frees the buffers after them. */
  private running = 0;

  constructor(
    private readonly ctx: GpuContext,
    readonly rows: number,
    readonly cols: number,
    private chunks: SampleChunk[],
    /** Sample weights on the GPU, or null when every sample counts once. */
    private readonly rowWeights: RowWeights | null,
    readonly weights: Float64Array | null,
    /** A caller's buffer the samples are read from in place: never destroyed here. */
    private readonly borrowed: GPUBuffer | null = null,
    /** Stops a pass between its submissions. */
    private readonly signal?: AbortSignal,
  ) {}

  /**
   * Asked between the submissions of a pass: once the caller aborted or disposed the data, the
   * pass stops after the submission in flight.
   */
  private readonly throwIfStopped = (): void => {
    this.signal?.throwIfAborted();
    if (this.disposed)
      throw new WebGpuEmError('usage', 'this data was disposed during a pass; bind it again');
  };

  /** Sum of the sample weights as the GPU sums them (N when unweighted). */
  private get weightSum(): number {
    return this.rowWeights?.sum ?? this.rows;
  }

  prepare(nComponents: number, covarianceType: CovarianceType | 'kmeans'): Promise<void> {
    return this.serial(async () => {
      if (covarianceType === 'kmeans') {
        await this.ensureKMeans(nComponents);
      } else {
        const { stats } = await this.ensureStats(nComponents, statsKindOf({ covarianceType }));
        if (stats.fused) {
          // Drivers may compile at the first dispatch (lavapipe does): one workgroup now keeps that
          // out of the first iteration. Its sums are overwritten by every pass.
          await this.ctx.guard('compiling the fused kernel', () => {
            const encoder = this.ctx.device.createCommandEncoder({ label: 'fused kernel warm-up' });
            const pass = encoder.beginComputePass({ label: 'fused kernel warm-up' });
            pass.setPipeline(stats.statsPipeline);
            pass.setBindGroup(0, stats.statsGroups[0]);
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
      const { workspace, stats } = await this.ensureStats(p.nComponents, kind);
      this.timer ??= PassTimer.forContext(this.ctx);
      const packed = packComponents(p, shifts);
      const out = await runStatistics(
        this.ctx,
        this.chunks,
        workspace,
        stats,
        packed,
        this.timer,
        mixtureWorkPerRow(p.nComponents, this.cols, kind),
        this.throwIfStopped,
      );
      await this.readTimer();
      return unpackStatistics(out, p.nComponents, this.cols, this.weightSum, kind);
    });
  }

  eStep(p: ComponentParameters, options: EStepOptions): Promise<EStepResult> {
    return this.serial(async () => {
      this.checkParameters(p);
      const w = await this.ensureWorkspace(p.nComponents, statsKindOf(p));
      return runEStep(
        this.ctx,
        this.chunks,
        this.rows,
        w,
        packComponents(p, null),
        options,
        this.throwIfStopped,
      );
    });
  }

  kmeansStatistics(centres: Float64Array, k: number): Promise<KMeansStatistics> {
    return this.serial(async () => {
      const passes = await this.ensureKMeans(k);
      this.timer ??= PassTimer.forContext(this.ctx);
      const stats = await passes.statistics(centres, this.timer, this.throwIfStopped);
      await this.readTimer();
      return stats;
    });
  }

  seedingStep(candidates: readonly Float64Array[], base: SeedingState | null): Promise<SeedingStep> {
    return this.serial(async () => {
      this.seeding ??= await KMeansPPSeeding.create(
        this.ctx,
        this.chunks,
        this.rows,
        this.cols,
        this.rowWeights,
      );
      const states = await this.seeding.step(
        candidates,
        base as GpuSeedingState | null,
        (buffer, ranges) => this.serial(() => readDistanceBlocks(this.ctx, buffer, ranges)),
        this.throwIfStopped,
      );
      const index = keptCandidate(states.map((s) => s.potential));
      states.forEach((s, i) => i !== index && s.release());
      return { index, state: states[index] };
    });
  }

  assign(centres: Float64Array, k: number, options: { allDistances: boolean }): Promise<Assignments> {
    return this.serial(async () => (await this.ensureKMeans(k)).assign(centres, options.allDistances));
  }

  renderView(labels: ViewLabels): Promise<RenderView> {
    return this.serial(async () => {
      // The labels of the samples as they are chunked now: made once, replaced after a re-chunking.
      const labelled = async (): Promise<RowLabels> => {
        if (this.rowLabels?.chunks !== this.chunks) {
          this.rowLabels?.dispose();
          this.rowLabels = null;
          this.rowLabels = await RowLabels.create(this.ctx, this.chunks);
        }
        return this.rowLabels;
      };
      let view: RowLabels;
      if (labels.kind === 'kmeans') {
        const passes = await this.ensureKMeans(labels.k);
        view = await labelled();
        await view.writeFromTags(passes.tags);
      } else {
        const p = labels.params;
        this.checkParameters(p);
        const w = await this.ensureWorkspace(p.nComponents, statsKindOf(p));
        view = await labelled();
        const packed = packComponents(p, null);
        await writeLabels(this.ctx, this.chunks, w, packed, view.buffers, this.throwIfStopped);
      }
      return {
        device: this.ctx.device,
        rows: this.rows,
        cols: this.cols,
        scale: 1,
        chunks: view.renderChunks(),
      };
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    // A call in flight still uses the buffers (a read-back mapped from a destroyed buffer fails
    // with no message): they are freed when it is done, and it stops at its next submission.
    if (this.running > 0) void this.queue.then(() => this.free());
    else this.free();
  }

  private free(): void {
    this.rowLabels?.dispose();
    this.rowLabels = null;
    for (const c of this.chunks) if (c.data !== this.borrowed) this.ctx.destroyBuffer(c.data);
    this.chunks = [];
    if (this.rowWeights) this.ctx.destroyBuffer(this.rowWeights.buffer);
    this.releaseWorkspace();
    this.releaseKMeans();
    this.releaseSeeding();
    this.timer?.dispose();
    this.timer = null;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(async () => {
      if (this.disposed) throw new WebGpuEmError('usage', 'this data was disposed; bind it again');
      this.running++;
      try {
        return await work();
      } finally {
        this.running--;
      }
    });
    this.queue = next.catch(() => {});
    return next;
  }

  /** The last pass's GPU time, when the device has timestamp queries. */
  private async readTimer(): Promise<void> {
    const timer = this.timer;
    if (timer) this.lastGpuSeconds = await this.ctx.guard('reading timestamps', () => timer.read());
  }

  /** The k-means workspace for K clusters (one at a time: another K replaces it). */
  private async ensureKMeans(k: number): Promise<KMeansPasses> {
    if (this.kmeans?.k === k) return this.kmeans;
    this.releaseKMeans();
    // Chunks within the submission budget, as far as the blocks of partial sums allow.
    await this.limitChunkRows(
      chunkRowsWithin(
        this.rows,
        rowsWithinBudget(kmeansWorkPerRow(k, this.cols), submissionWork(this.ctx.device)),
        maxKMeansChunks(this.ctx.limits, k, this.cols),
      ),
    );
    this.kmeans = await KMeansPasses.create(
      this.ctx,
      this.chunks,
      k,
      this.cols,
      this.rowWeights?.buffer ?? null,
    );
    return this.kmeans;
  }

  private releaseKMeans(): void {
    this.kmeans?.dispose();
    this.kmeans = null;
  }

  private releaseSeeding(): void {
    this.seeding?.dispose();
    this.seeding = null;
  }

  private releaseWorkspace(): void {
    if (this.workspace) destroyMixtureWorkspace(this.ctx, this.workspace);
    this.workspace = null;
  }

  /**
   * The mixture workspace for K components of a family (one at a time: another replaces it).
   * Rows per chunk are capped by the data buffers and by the work one submission may hold (so
   * that a stop is honoured after it), as far as the blocks of partial sums leave room for that
   * many chunks; with `responsibilities` (the two-kernel statistics pass, whose E-step keeps a
   * chunk's N x K responsibilities for the sums kernel) also by one binding of them.
   */
  private async ensureWorkspace(
    k: number,
    kind: StatsKind,
    responsibilities = false,
  ): Promise<MixtureWorkspace> {
    const byResponsibilities = responsibilities
      ? Math.floor(this.ctx.limits.maxStorageBufferBindingSize / (k * 4))
      : this.rows;
    if (
      this.workspace?.k === k &&
      this.workspace.kind === kind &&
      !this.chunks.some((c) => c.rows > byResponsibilities)
    ) {
      return this.workspace;
    }
    checkFeatures(this.cols, kind === 'diagonal' ? 'diag' : 'full');
    this.releaseWorkspace();
    const byWork = chunkRowsWithin(
      this.rows,
      rowsPerSubmission(k, this.cols, kind, submissionWork(this.ctx.device)),
      maxStatsChunks(this.ctx.limits, this.cols, k, kind),
    );
    await this.limitChunkRows(Math.min(this.rows, byResponsibilities, byWork));
    this.workspace = await createMixtureWorkspace(this.ctx, this.chunks, this.cols, k, kind);
    return this.workspace;
  }

  /**
   * Cuts the samples into chunks of at most `maxRows` rows where any is longer (copied on the
   * device; the new chunks replace the old once the copy succeeded, else the old stay). Every
   * workspace laid out on the old chunks goes with them.
   */
  private async limitChunkRows(maxRows: number): Promise<void> {
    if (maxRows >= 1 && !this.chunks.some((c) => c.rows > maxRows)) return;
    const next = await rechunkSamples(this.ctx, this.chunks, this.rows, this.cols, maxRows);
    this.releaseSeeding();
    this.releaseKMeans();
    this.releaseWorkspace();
    for (const c of this.chunks) if (c.data !== this.borrowed) this.ctx.destroyBuffer(c.data);
    this.chunks = next;
  }

  /** The E-step workspace with its statistics pass. */
  private async ensureStats(
    k: number,
    kind: StatsKind,
  ): Promise<{ workspace: MixtureWorkspace; stats: StatsWorkspace }> {
    // Only the two-kernel pass keeps N x K responsibilities (a chunk's, for its sums kernel).
    const fused = statsAreFused(this.ctx.limits, this.rows, this.cols, k, kind);
    const workspace = await this.ensureWorkspace(k, kind, !fused);
    workspace.stats ??= await createStatsWorkspace(
      this.ctx,
      this.chunks,
      this.rows,
      this.cols,
      workspace,
      this.rowWeights?.buffer ?? null,
    );
    return { workspace, stats: workspace.stats };
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
