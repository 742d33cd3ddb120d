import type { KernelShape } from './variants.js';
import type { ComponentParameters, DataUse } from '../backend.js';
import { isDiagonal } from '../../core/families.js';
import type { CovarianceType } from '../../core/names.js';

/** Most bytes the per-block partial sums of one pass may take (mixtures and k-means alike). */
export const PARTIALS_BUDGET_BYTES = 256 * 1024 * 1024;

/** A dispatch of `count` workgroups, folded into 2-D when it exceeds the per-dimension limit. */
export function dispatchGrid(count: number, maxPerDim: number): [number, number] {
  const width = Math.min(count, maxPerDim);
  return [width, Math.ceil(count / width)];
}

/** The reduction's dispatch over `stride` sums, one thread each: 2-D past the per-dimension limit. */
export function reduceGrid(stride: number, maxPerDim: number): [number, number] {
  return dispatchGrid(Math.ceil(stride / REDUCE_WORKGROUP), maxPerDim);
}

/** Sums after the components' entries in every statistics kernel: log-likelihood, then r log r. */
export const STATS_TOTALS = 2;
/** Statistics one thread of sufficient_stats.wgsl owns (its PER_THREAD). */
export const STATS_PER_THREAD = 8;
/** Threads per workgroup of sufficient_stats.wgsl. */
export const STATS_WORKGROUP = 64;
/** Largest tile of rows sufficient_stats.wgsl stages at once (its TILE, lowered when memory is short). */
export const STATS_TILE_ROWS = 32;

/**
 * How sufficient_stats.wgsl is laid out for D and K: entry groups of WORKGROUP x PER_THREAD
 * consecutive entries, the components (plus the two totals' columns) one group touches, and
 * the largest tile of rows whose samples and responsibilities fit in workgroup memory.
 */
export function statsLayout(d: number, k: number, maxWorkgroupBytes: number, kind: StatsKind = 'full') {
  const pairs = statsPerComponent(d, kind);
  // Past the components: the log-likelihood sum and the sum of r log r, each a column of its own.
  const entries = k * pairs + STATS_TOTALS;
  const perGroup = STATS_WORKGROUP * STATS_PER_THREAD;
  const groups = Math.ceil(entries / perGroup);
  const kSpan = Math.min(k + STATS_TOTALS, Math.floor((perGroup - 1) / pairs) + 1 + STATS_TOTALS);
  let tile = STATS_TILE_ROWS;
  while (tile > 1 && 4 * tile * (d + 1 + kSpan) > maxWorkgroupBytes) tile >>= 1;
  return { pairs, entries, groups, kSpan, tile };
}
/** Rows of a sufficient_stats_full.wgsl tile at most: each block of sums goes to memory once per tile. */
export const STATS_FULL_TILE_ROWS = 64;

/**
 * Workgroup memory a GPU's sufficient_stats_full.wgsl tile may take per wave of 64 lanes: 4
 * waves per SIMD on RDNA3 (128 KiB per 2 CUs of 4 SIMDs), the target for full covariances.
 */
export const STATS_FULL_GPU_WAVE_BYTES = 8192;
/** Fewest rows of a GPU's sufficient_stats_full.wgsl tile (each tile adds its sums to memory once). */
export const STATS_FULL_GPU_MIN_TILE = 8;

/** Bytes of workgroup memory sufficient_stats_full.wgsl takes for a tile of rows. */
export function fullStatsTileBytes(d: number, workgroup: number, tile: number): number {
  // The rows as vec4s, rounded up to a multiple of the lanes (the staging loop's last pass).
  const slots = Math.ceil((tile * Math.floor((d + 4) / 4)) / workgroup) * workgroup;
  return 16 * slots + 4 * tile * workgroup + 4 * workgroup;
}

/**
 * How sufficient_stats_full.wgsl is laid out for D and K: one lane per component (K rounded up
 * to a SIMD width of 8), the largest tile of rows (a multiple of the lanes) whose samples and
 * responsibilities fit in workgroup memory, and the floats of scratch past the partial sums
 * that lanes past K write to; null when not even one row per lane fits. On a GPU
 * (`shape` 'gpu') the tile then halves, down to STATS_FULL_GPU_MIN_TILE rows, until it takes at
 * most STATS_FULL_GPU_WAVE_BYTES per wave (RDNA3, K = 32: D = 32 from 3 waves per SIMD at 32 rows
 * to 6 at 16, D = 64 from 2 to 4; docs/kernel-stats.md).
 */
export function fullStatsLayout(
  d: number,
  k: number,
  limits: { maxComputeWorkgroupStorageSize: number; maxComputeInvocationsPerWorkgroup: number },
  shape: KernelShape = 'software',
): { workgroup: number; tile: number; scratch: number } | null {
  const workgroup = Math.ceil(k / 8) * 8;
  if (workgroup > limits.maxComputeInvocationsPerWorkgroup) return null;
  const bytes = (tile: number) => fullStatsTileBytes(d, workgroup, tile);
  let tile = Math.max(1, Math.floor(STATS_FULL_TILE_ROWS / workgroup)) * workgroup;
  while (tile > workgroup && bytes(tile) > limits.maxComputeWorkgroupStorageSize) tile -= workgroup;
  if (bytes(tile) > limits.maxComputeWorkgroupStorageSize) return null;
  if (shape === 'gpu') {
    // Waves of one workgroup: at least one per 64 lanes (RADV's wave64; wave32 only adds waves).
    const budget = STATS_FULL_GPU_WAVE_BYTES * Math.ceil(workgroup / 64);
    while (tile > STATS_FULL_GPU_MIN_TILE && bytes(tile) > budget)
      tile = Math.max(STATS_FULL_GPU_MIN_TILE, tile >> 1);
  }
  return { workgroup, tile, scratch: statsPerComponent(d, 'full') };
}

/** Largest D of full and tied mixtures on the GPU (the private arrays of gmm_estep.wgsl, its MAX_D). */
export const MAX_FULL_FEATURES = 128;
/** Largest D of diag and spherical mixtures on the GPU (their kernels keep no row in private memory). */
export const MAX_DIAGONAL_FEATURES = 2048;

/** Largest D the GPU kernels take for a use. */
export function maxFeatures(use: DataUse): number {
  if (use === 'kmeans') return MAX_KMEANS_FEATURES;
  return isDiagonal(use) ? MAX_DIAGONAL_FEATURES : MAX_FULL_FEATURES;
}

/**
 * Largest D of the fused kernel (gmm_fused.wgsl): its generated code grows with D^2 (full) or D
 * (diag) lines per lane, and so does the driver's compile time (lavapipe, cold cache, busy
 * machine: about 8 s at full D = 8, 50 s at D = 16, over 10 minutes at D = 32; diag D = 24 about
 * 30 s); beyond, sizes take the two-kernel path (gmm_estep + sufficient_stats), which compiles
 * in about a second.
 */
export const FUSED_MAX_FEATURES = { full: 16, diagonal: 32 } as const;
/**
 * Fewest samples x components for the fused kernel: below, one iteration of the two-kernel
 * path costs less than compiling the fused kernel (Mesa's disk cache keeps it afterwards).
 */
export const FUSED_MIN_WORK = 500_000;
/** Most components of the fused kernel: one lane each in one workgroup. */
export const FUSED_MAX_COMPONENTS = 256;
/**
 * Rows of a fused tile at most (fewer when workgroup memory is short), by kernel shape. A GPU
 * keeps its SIMDs full with smaller tiles: a tile's rows and log-densities take workgroup
 * memory, which bounds the waves per SIMD (RDNA3, K = 32: diag D = 32 goes from 3 waves at 32
 * rows to 9 at 8, full D = 16 from 4 to 7 at 16; docs/kernel-stats.md). A CPU emulation runs
 * one workgroup per core and keeps the 32 measured there.
 */
export const FUSED_TILE_ROWS = {
  software: { full: 32, diagonal: 32 },
  gpu: { full: 16, diagonal: 8 },
} as const satisfies Record<KernelShape, Record<StatsKind, number>>;

/**
 * The fused kernel's shape for D, K and a family: one lane per component (K rounded up to a
 * SIMD width of 8) and the largest tile of rows whose samples (vec4s) and per-component
 * log-densities fit in workgroup memory; null when the sizes take the two-kernel path.
 */
export function fusedLayout(
  d: number,
  k: number,
  kind: StatsKind,
  limits: { maxComputeWorkgroupStorageSize: number; maxComputeInvocationsPerWorkgroup: number },
  shape: KernelShape = 'software',
): { workgroup: number; tile: number } | null {
  if (d > FUSED_MAX_FEATURES[kind] || k > FUSED_MAX_COMPONENTS) return null;
  const workgroup = Math.ceil(k / 8) * 8;
  if (workgroup > limits.maxComputeInvocationsPerWorkgroup) return null;
  const bytesPerRow = 16 * Math.ceil(d / 4) + 4 * workgroup + 4;
  let tile: number = FUSED_TILE_ROWS[shape][kind];
  while (tile > 1 && tile * bytesPerRow + 4 * workgroup > limits.maxComputeWorkgroupStorageSize) tile >>= 1;
  if (tile * bytesPerRow + 4 * workgroup > limits.maxComputeWorkgroupStorageSize) return null;
  return { workgroup, tile };
}
/** Threads per workgroup of the E-step (its WORKGROUP by default, and always when it writes responsibilities). */
export const ESTEP_WORKGROUP = 64;
/** Fewest lanes of an E-step workgroup that keeps its rows' log-densities in workgroup memory. */
export const ESTEP_MIN_TILE_WORKGROUP = 8;

/**
 * Where gmm_estep.wgsl keeps a row's K log-densities when it writes no responsibilities (labels
 * or log-likelihoods only): in workgroup memory, K floats per lane (`tile` = workgroup x K), or
 * nowhere (`tile` 1): they are computed again, three times the E-step's multiply-adds. On a CPU
 * emulation (one workgroup per core) as many lanes as fit, 64 down to 8, and past that (K > 512
 * with 16 KiB) no tile. On a GPU the tile's memory bounds the waves per SIMD: one wave of 32
 * lanes with at most ESTEP_GPU_TILE_BYTES (8 waves on RDNA3 at K = 32, against 4 for 64 lanes),
 * else no tile (16 waves at three times the work; docs/kernel-stats.md).
 */
export function estepTile(
  k: number,
  maxWorkgroupBytes: number,
  shape: KernelShape = 'software',
): { workgroup: number; tile: number } {
  if (shape === 'gpu') {
    const lanes = ESTEP_GPU_TILE_LANES;
    return lanes * k * 4 <= Math.min(ESTEP_GPU_TILE_BYTES, maxWorkgroupBytes)
      ? { workgroup: lanes, tile: lanes * k }
      : { workgroup: ESTEP_WORKGROUP, tile: 1 };
  }
  let workgroup = ESTEP_WORKGROUP;
  while (workgroup > ESTEP_MIN_TILE_WORKGROUP && workgroup * k * 4 > maxWorkgroupBytes) workgroup >>= 1;
  return workgroup * k * 4 <= maxWorkgroupBytes
    ? { workgroup, tile: workgroup * k }
    : { workgroup: ESTEP_WORKGROUP, tile: 1 };
}
/** A GPU's E-step tile: one wave of lanes, and at most this much workgroup memory. */
const ESTEP_GPU_TILE_LANES = 32;
const ESTEP_GPU_TILE_BYTES = 4096;
/** Threads per workgroup of reduce_partials.wgsl. */
export const REDUCE_WORKGROUP = 64;
/** Threads per workgroup of kmeanspp_distances.wgsl. */
export const SEEDING_WORKGROUP = 64;
/** Most candidates of a k-means++ step one dispatch of kmeanspp_distances.wgsl takes (its MAX_CANDIDATES). */
export const SEEDING_MAX_DISPATCH_CANDIDATES = 16;
/** Threads per workgroup of seeding_select.wgsl: also the most candidates of a k-means++ step. */
export const SEEDING_SELECT_WORKGROUP = 64;
/** Threads per workgroup of row_labels.wgsl. */
export const ROW_LABELS_WORKGROUP = 64;

/**
 * Which sums a pass produces: 'full' every pair (full and tied covariances), 'diagonal' the
 * squares only (diag and spherical), both by sufficient_stats.wgsl.
 */
export type StatsKind = 'full' | 'diagonal';

/**
 * Number of sums per component: pairs i >= j over (x - c, 1), i.e. 1 + D + D(D+1)/2; with a
 * diagonal precision only the squares, the first moments and the count, 2D + 1.
 */
export function statsPerComponent(d: number, kind: StatsKind = 'full'): number {
  return kind === 'diagonal' ? 2 * d + 1 : ((d + 1) * (d + 2)) / 2;
}

/** Floats of precision factors per component in the `comp` buffer. */
function precisionSize(d: number, kind: StatsKind): number {
  return kind === 'diagonal' ? d : (d * (d + 1)) / 2;
}

/** Offsets (in floats) of the sections of the `comp` storage buffer. */
export function componentLayout(k: number, d: number, kind: StatsKind = 'full') {
  const packed = precisionSize(d, kind);
  const means = 0;
  const cholesky = k * d;
  const logConst = cholesky + k * packed;
  const shifts = logConst + k;
  return { means, cholesky, logConst, shifts, length: shifts + k * d };
}

/** diag and spherical precisions are stored as one value per feature. */
export const statsKindOf = (p: { covarianceType: CovarianceType }): StatsKind =>
  isDiagonal(p.covarianceType) ? 'diagonal' : 'full';

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** Packs parameters (and shifts, when given) into the `comp` buffer layout, as float32. */
export function packComponents(p: ComponentParameters, shifts: Float64Array | null): Float32Array {
  const { nComponents: k, nFeatures: d } = p;
  const layout = componentLayout(k, d, statsKindOf(p));
  const out = new Float32Array(layout.length);
  out.set(p.means, layout.means);
  out.set(p.precisionCholesky, layout.cholesky);
  for (let c = 0; c < k; c++) {
    // Summed in float64, rounded once.
    out[layout.logConst + c] = p.logWeights[c] + p.logDetPrecisionCholesky[c] - d * HALF_LOG_2PI;
  }
  if (shifts) out.set(shifts, layout.shifts);
  return out;
}

/** Largest D the k-means kernels take (kmeans_sums.wgsl holds a cluster's D + 1 sums in 16 KiB). */
export const MAX_KMEANS_FEATURES = 4000;
/** Rows per invocation and centres per tile of the k-means assignment (kmeans_assign_rows.wgsl: ROWS, TILE). */
export const KMEANS_ROWS = 4;
export const KMEANS_TILE = 8;
/** Threads per workgroup of kmeans_assign.wgsl, kmeans_distances.wgsl (their WORKGROUP). */
export const KMEANS_WORKGROUP = 64;
/** Threads per workgroup of kmeans_sums.wgsl (its WORKGROUP). */
export const KMEANS_SUMS_WORKGROUP = 8;

/** Partial sums per block of kmeans_sums.wgsl: K x (D first moments, count), inertia, changed labels. */
export function kmeansStatsEntries(k: number, d: number): number {
  return k * (d + 1) + 2;
}

/**
 * The two centre buffers of kmeans_assign.wgsl. `tiles`: per tile of KMEANS_TILE centres, for
 * each feature the tile's shifted, scaled values c' = (c - m) s, then every tile's norms ||c'||^2
 * (padding centres: 0 and 3e38, never nearest). `centres`: the raw centres (K x D), m s (D), s,
 * and the largest |c'| (the kernel's bound on its rounding).
 * m is the centres' mean and s a power of two with |c' - m| s <= 1, so m s and c' are exact
 * scalings and the kernel's fma(x, s, -m s) rounds (x - m) s once.
 */
/** Floats of kmeans_assign.wgsl's `centres` buffer: K x D, m s (D), s, the largest |c'|; vec4-padded. */
export function kmeansCentreFloats(k: number, d: number): number {
  return Math.ceil((k * d + d + 2) / 4) * 4;
}

export function packKMeansCentres(c: Float64Array, k: number, d: number) {
  const tileCount = Math.ceil(k / KMEANS_TILE);
  const shift = new Float64Array(d);
  for (let j = 0; j < k; j++) for (let i = 0; i < d; i++) shift[i] += c[j * d + i] / k;
  for (let i = 0; i < d; i++) shift[i] = Math.fround(shift[i]);
  // Centres nearly equal at a large offset: a floor on the reach keeps m s within float32.
  let reach = 0;
  for (let i = 0; i < d; i++) reach = Math.max(reach, Math.abs(shift[i]) * 2 ** -40);
  for (let j = 0; j < k; j++)
    for (let i = 0; i < d; i++) reach = Math.max(reach, Math.abs(c[j * d + i] - shift[i]));
  const scale = reach > 0 && Number.isFinite(reach) ? 2 ** -Math.ceil(Math.log2(reach)) : 1;
  const tiles = new Float32Array(tileCount * (d + 1) * KMEANS_TILE);
  let largestNorm = 0;
  const norms = tileCount * d * KMEANS_TILE;
  for (let j = 0; j < tileCount * KMEANS_TILE; j++) {
    const [t, lane] = [Math.floor(j / KMEANS_TILE), j % KMEANS_TILE];
    if (j >= k) {
      tiles[norms + j] = 3e38;
      continue;
    }
    let norm = 0;
    for (let i = 0; i < d; i++) {
      const v = Math.fround((c[j * d + i] - shift[i]) * scale);
      tiles[(t * d + i) * KMEANS_TILE + lane] = v;
      norm += v * v;
    }
    tiles[norms + j] = norm;
    largestNorm = Math.max(largestNorm, norm);
  }
  const centres = new Float32Array(kmeansCentreFloats(k, d));
  centres.set(c);
  for (let i = 0; i < d; i++) centres[k * d + i] = shift[i] * scale;
  centres[k * d + d] = scale;
  // Rounded up, so the bound stays an upper bound.
  centres[k * d + d + 1] = Math.sqrt(largestNorm) * (1 + 2 ** -20);
  return { tiles, centres };
}
