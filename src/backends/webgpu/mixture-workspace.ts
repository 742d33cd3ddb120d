import { kernelShape, type KernelShape } from './variants.js';
import { WebGpuEmError } from '../../errors.js';
import { BufferUsage } from '../../gpu/constants.js';
import type { GpuContext } from '../../gpu/context.js';
import { fusedPipeline } from './fused-kernel.js';
import {
  ESTEP_KERNEL,
  estepKernel,
  FUSED_KERNEL,
  REDUCE_KERNEL,
  STATS_FULL_KERNEL,
  STATS_KERNEL,
  kernelBindGroup,
  kernelPipeline,
} from './kernels.js';
import {
  ESTEP_WORKGROUP,
  FUSED_MAX_FEATURES,
  FUSED_MIN_WORK,
  PARTIALS_BUDGET_BYTES,
  STATS_TILE_ROWS,
  STATS_WORKGROUP,
  componentLayout,
  dispatchGrid,
  fullStatsLayout,
  fusedLayout,
  reduceGrid,
  statsLayout,
  statsPerComponent,
  type StatsKind,
} from './layout.js';
import {
  CHUNK_UNIFORM,
  REDUCE_UNIFORM,
  packChunkUniforms,
  uniformSlot,
  uniformSlotStride,
} from './uniforms.js';
import { largestChunk, type SampleChunk } from './sample-chunks.js';

/** Fewest rows one statistics workgroup sums (amortises its setup). */
const MIN_ROWS_PER_BLOCK = 256;
/**
 * sufficient_stats.wgsl's layout by kernel shape. On a GPU the tile's rows and responsibilities
 * in workgroup memory bound the waves per SIMD (RDNA3, diag D = 8 K = 32: 5 waves with a 32-row
 * tile of 5.6 KB, 9 within 3 KB; docs/kernel-stats.md), so the tile shrinks to fit
 * STATS_GPU_TILE_BYTES, but to no fewer than STATS_GPU_MIN_TILE rows (each tile costs two
 * barriers) unless 8 rows take more than STATS_GPU_WAVE_BYTES: then as many rows as fit there,
 * at least STATS_GPU_LEAST_TILE (D = 128: 7 rows, 8 waves, against 7 waves at 8 rows). A CPU
 * emulation keeps the largest tile that fits.
 */
function statsTile(d: number, k: number, maxBytes: number, kind: StatsKind, shape: KernelShape) {
  const largest = statsLayout(d, k, maxBytes, kind);
  if (shape !== 'gpu') return largest;
  const small = statsLayout(d, k, Math.min(maxBytes, STATS_GPU_TILE_BYTES), kind);
  if (small.tile >= STATS_GPU_MIN_TILE || largest.tile <= STATS_GPU_MIN_TILE)
    return small.tile >= largest.tile ? largest : small;
  const bytesPerRow = 4 * (d + 1 + largest.kSpan);
  const tile =
    STATS_GPU_MIN_TILE * bytesPerRow <= STATS_GPU_WAVE_BYTES
      ? STATS_GPU_MIN_TILE
      : Math.max(STATS_GPU_LEAST_TILE, Math.floor(STATS_GPU_WAVE_BYTES / bytesPerRow));
  return { ...largest, tile };
}
const STATS_GPU_TILE_BYTES = 3072;
const STATS_GPU_MIN_TILE = 8;
/** Workgroup memory of a one-wave workgroup at 8 waves per SIMD on RDNA3 (128 KiB per 2 CUs, 4 SIMDs). */
const STATS_GPU_WAVE_BYTES = 4096;
/** Fewest rows of a GPU tile: at 4, AMD's compiler unrolls the row loop and the registers double. */
const STATS_GPU_LEAST_TILE = 5;

/**
 * Blocks the fused kernel aims for, by kernel shape: enough to spread over the cores (a CPU
 * emulation's few, or a large GPU's hundreds of compute units, several workgroups each), few
 * enough to amortise loading a block's parameters and to keep the partial sums' reduction small
 * against the pass over the rows (at most MIN_ROWS_PER_BLOCK rows a block in any case).
 */
const FUSED_BLOCKS = { software: 256, gpu: 2048 } as const satisfies Record<KernelShape, number>;

/**
 * What every pass of a mixture with K components of D features shares over fixed chunks, made on
 * first use: the component parameters and the uniform slots of the statistics pass. Per-row
 * passes (mixture-passes.ts `runEStep`) make their own outputs; only the two-kernel statistics
 * pass keeps N x K responsibilities (in its {@link StatsWorkspace}).
 */
export interface MixtureWorkspace {
  readonly k: number;
  readonly d: number;
  readonly kind: StatsKind;
  readonly comp: GPUBuffer;
  /** A Chunk uniform per chunk, then the Reduce uniform (written by the statistics workspace). */
  readonly uniforms: GPUBuffer;
  readonly uniformStride: number;
  /** Every buffer above, freed together. */
  readonly buffers: GPUBuffer[];
  stats: StatsWorkspace | null;
}

/** The E-step of the two-kernel statistics pass: the chunk's responsibilities and log-likelihoods for the sums kernel. */
export interface ChunkEStep {
  readonly pipeline: GPUComputePipeline;
  readonly groups: GPUBindGroup[];
  readonly grids: Array<[number, number]>;
}

/** What an EM iteration adds to the E-step workspace: the statistics kernel and the reduction. */
export interface StatsWorkspace {
  /** True when gmm_fused.wgsl does the E-step and the sums in one pass (no per-row kernel). */
  readonly fused: boolean;
  /** The E-step before the sums kernel (null when fused). */
  readonly estep: ChunkEStep | null;
  readonly stride: number;
  readonly out: GPUBuffer;
  readonly staging: GPUBuffer;
  readonly statsPipeline: GPUComputePipeline;
  readonly statsGroups: GPUBindGroup[];
  readonly statsBlocks: number[];
  /** Workgroups along y: groups of consecutive statistics. */
  readonly entryGroups: number;
  readonly reducePipeline: GPUComputePipeline;
  readonly reduceGroup: GPUBindGroup;
  /** The reduction's dispatch, 2-D past the per-dimension limit. */
  readonly reduceGrid: [number, number];
  /** Its own buffers (partials, sums, read-back, responsibilities, row weights), freed together. */
  readonly buffers: GPUBuffer[];
}

/** Frees a workspace's buffers and its statistics workspace's. */
export function destroyMixtureWorkspace(ctx: GpuContext, w: MixtureWorkspace): void {
  ctx.destroyBuffers(w.buffers);
  if (w.stats) ctx.destroyBuffers(w.stats.buffers);
}

/** The component buffer and uniform slots for K components of D features over these chunks. */
export function createMixtureWorkspace(
  ctx: GpuContext,
  chunks: readonly SampleChunk[],
  d: number,
  k: number,
  kind: StatsKind,
): Promise<MixtureWorkspace> {
  const uniformStride = uniformSlotStride(ctx.limits);
  return ctx.createGuarded('creating the mixture workspace', (make, buffers) => {
    const comp = make(
      'component parameters',
      componentLayout(k, d, kind).length * 4,
      BufferUsage.STORAGE | BufferUsage.COPY_DST,
    );
    const uniforms = make(
      'chunk uniforms',
      uniformStride * (chunks.length + 1),
      BufferUsage.UNIFORM | BufferUsage.COPY_DST,
    );
    return { k, d, kind, comp, uniforms, uniformStride, buffers, stats: null };
  });
}

/**
 * Whether the statistics pass of K components over N samples is the fused kernel (no N x K
 * responsibilities), as {@link createStatsWorkspace} decides it.
 */
export function statsAreFused(
  limits: GPUSupportedLimits,
  n: number,
  d: number,
  k: number,
  kind: StatsKind,
): boolean {
  // The tile shrinks to fit, so whether a layout exists does not depend on the kernel shape.
  return n * k >= FUSED_MIN_WORK && fusedLayout(d, k, kind, limits) !== null;
}

/** Blocks of `stride` partial sums that fit in one binding beside `scratch` floats (the blocked kernel's row). */
function partialBlocks(limits: GPUSupportedLimits, stride: number, scratch: number): number {
  const maxBytes = Math.min(limits.maxStorageBufferBindingSize, PARTIALS_BUDGET_BYTES) - scratch * 4;
  return Math.floor(maxBytes / (stride * 4));
}

/**
 * The most chunks of samples a statistics pass for K components of a kind can take: each chunk
 * starts a block of partial sums, and half the blocks that fit are left for the rows' own blocks.
 */
export function maxStatsChunks(limits: GPUSupportedLimits, d: number, k: number, kind: StatsKind): number {
  const stride = statsLayout(d, k, limits.maxComputeWorkgroupStorageSize, kind).entries;
  return Math.max(1, Math.floor(partialBlocks(limits, stride, statsPerComponent(d, 'full')) / 2));
}

/**
 * The statistics pass of workspace `w` over N samples: the fused kernel when the sizes allow it
 * (else sufficient_stats.wgsl after the E-step), its blocks of partial sums, and the reduction.
 * Writes every chunk's Chunk uniform and the Reduce uniform.
 */
export async function createStatsWorkspace(
  ctx: GpuContext,
  chunks: readonly SampleChunk[],
  n: number,
  d: number,
  w: MixtureWorkspace,
  /** One weight per row of the data set (owned by the bound data), or null. */
  weights: GPUBuffer | null,
): Promise<StatsWorkspace> {
  const k = w.k;
  const shape = kernelShape(ctx.device);
  const layout = statsTile(d, k, ctx.limits.maxComputeWorkgroupStorageSize, w.kind, shape);
  const stride = layout.entries;
  const maxPerDim = ctx.limits.maxComputeWorkgroupsPerDimension;
  const fused = statsAreFused(ctx.limits, n, d, k, w.kind)
    ? fusedLayout(d, k, w.kind, ctx.limits, shape)
    : null;
  // Full and tied sums of wide data as blocks of outer products (sufficient_stats_full.wgsl):
  // 2.2x faster per iteration at D = 32, but 0.9 s more to compile cold than
  // sufficient_stats.wgsl, which stays for the small problems below the fused kernel.
  const blocked =
    !fused && w.kind === 'full' && d > FUSED_MAX_FEATURES.full
      ? fullStatsLayout(d, k, ctx.limits, shape)
      : null;
  const scratch = blocked?.scratch ?? 0;
  const maxBlocks = partialBlocks(ctx.limits, stride, scratch);
  if (maxBlocks < 1) {
    throw new WebGpuEmError(
      'gpu',
      `K = ${k} components of D = ${d} features need ${stride * 4} bytes of sums, over the adapter's ` +
        `storage binding limit of ${ctx.limits.maxStorageBufferBindingSize}; use fewer components or features`,
    );
  }
  const entryGroups = fused || blocked ? 1 : layout.groups;
  if (entryGroups > maxPerDim) {
    throw new WebGpuEmError(
      'gpu',
      `K = ${k}, D = ${d} need ${entryGroups} workgroups along one dispatch dimension, over the adapter's ` +
        `${maxPerDim}; use fewer components or features`,
    );
  }
  if (chunks.length > maxBlocks) {
    throw new WebGpuEmError(
      'gpu',
      `K = ${k}, D = ${d}: ${chunks.length} chunks of samples need more blocks of partial sums than the ` +
        `${maxBlocks} that fit in one binding; use fewer components or features, or backend: 'cpu'`,
    );
  }
  let rowsPerBlock = Math.max(
    MIN_ROWS_PER_BLOCK,
    Math.ceil(n / maxBlocks) + chunks.length,
    // Every chunk starts a block: the rest must share what is left of the binding.
    chunks.length < maxBlocks ? Math.ceil(n / (maxBlocks - chunks.length)) : 1,
    Math.ceil(largestChunk(chunks) / maxPerDim),
    // The fused kernel: about FUSED_BLOCKS blocks, each long enough to amortise loading its parameters.
    fused ? Math.ceil(n / FUSED_BLOCKS[shape]) : 0,
  );
  rowsPerBlock = Math.ceil(rowsPerBlock / STATS_TILE_ROWS) * STATS_TILE_ROWS;
  const statsBlocks = chunks.map((c) => Math.ceil(c.rows / rowsPerBlock));
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
  const reduceDispatch = reduceGrid(stride, maxPerDim);
  const estepPipeline = fused
    ? null
    : (await estepKernel(ctx, d, k, w.kind, { resp: true, loglik: true, labels: false })).pipeline;
  const estepGrids = chunks.map((c) => dispatchGrid(Math.ceil(c.rows / ESTEP_WORKGROUP), maxPerDim));
  return ctx.createGuarded('creating the statistics workspace', (make, buffers) => {
    const partials = make('partial sums', (totalBlocks * stride + scratch) * 4, BufferUsage.STORAGE);
    const out = make('sufficient statistics', stride * 4, BufferUsage.STORAGE | BufferUsage.COPY_SRC);
    const staging = make('statistics read-back', stride * 4, BufferUsage.MAP_READ | BufferUsage.COPY_DST);
    const rowWeights = weights ?? make('row weights (none)', 4, BufferUsage.STORAGE);
    const chunkUniform = (i: number) => uniformSlot(w.uniforms, w.uniformStride, i, CHUNK_UNIFORM);
    // The two-kernel path: the E-step's N x K responsibilities and log-likelihoods, per chunk.
    let estep: ChunkEStep | null = null;
    let resp: GPUBuffer | null = null;
    let loglik: GPUBuffer | null = null;
    if (estepPipeline) {
      const storage = BufferUsage.STORAGE | BufferUsage.COPY_SRC;
      resp = make('responsibilities', largestChunk(chunks) * k * 4, storage);
      loglik = make('log-likelihoods', largestChunk(chunks) * 4, storage);
      const noLabels = make('labels (none)', 4, BufferUsage.STORAGE);
      const groups = chunks.map((c, i) =>
        kernelBindGroup(ctx, ESTEP_KERNEL, estepPipeline, `${estepPipeline.label} bindings, chunk ${i}`, {
          chunk: chunkUniform(i),
          x: c.data,
          comp: w.comp,
          resp: resp!,
          loglik: loglik!,
          labels: noLabels,
        }),
      );
      estep = { pipeline: estepPipeline, groups, grids: estepGrids };
    }
    const gridWidths = estepGrids.map(([width]) => width);
    const blocks = { rowsPerBlock, perChunk: statsBlocks, stride, reduceWidth: reduceDispatch[0] };
    ctx.write(w.uniforms, packChunkUniforms(chunks, w.uniformStride, gridWidths, blocks, weights !== null));
    const statsGroups = chunks.map((c, i) => {
      const label = `${statsPipeline.label} bindings, chunk ${i}`;
      const common = {
        chunk: chunkUniform(i),
        x: c.data,
        comp: w.comp,
        row_weights: rowWeights,
        partials,
      };
      if (fused) return kernelBindGroup(ctx, FUSED_KERNEL, statsPipeline, label, common);
      return kernelBindGroup(ctx, blocked ? STATS_FULL_KERNEL : STATS_KERNEL, statsPipeline, label, {
        ...common,
        resp: resp!,
        loglik: loglik!,
      });
    });
    const reduceGroup = kernelBindGroup(ctx, REDUCE_KERNEL, reducePipeline, 'reduce bindings', {
      params: uniformSlot(w.uniforms, w.uniformStride, chunks.length, REDUCE_UNIFORM),
      partials,
      out,
    });
    return {
      fused: fused !== null,
      estep,
      stride,
      out,
      staging,
      statsPipeline,
      statsGroups,
      statsBlocks,
      entryGroups,
      reducePipeline,
      reduceGroup,
      reduceGrid: reduceDispatch,
      buffers,
    };
  });
}
