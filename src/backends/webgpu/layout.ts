import type { ComponentParameters } from '../backend.js';

/**
 * Host side of the structs the kernels read. The WGSL declarations in shaders/ list the same
 * fields in the same order; test/layout.test.ts checks that they agree.
 */

/** Fields of the `Chunk` uniform (all u32), in declaration order. */
export const CHUNK_FIELDS = [
  'row_offset',
  'row_count',
  'rows_per_block',
  'block_offset',
  'has_row_weights',
  'grid_width',
  '_pad0',
  '_pad1',
] as const;

export type ChunkUniform = Record<Exclude<(typeof CHUNK_FIELDS)[number], `_pad${number}`>, number>;

/** Fields of the `Reduce` uniform (all u32), in declaration order. */
export const REDUCE_FIELDS = ['block_count', 'stride', '_pad0', '_pad1'] as const;

export type ReduceUniform = Record<Exclude<(typeof REDUCE_FIELDS)[number], `_pad${number}`>, number>;

/** Packs a uniform of u32 fields; padding fields are zero. */
export function packU32Struct<F extends readonly string[]>(
  fields: F,
  values: Record<string, number>,
): Uint32Array {
  return Uint32Array.from(fields, (name) => (name.startsWith('_pad') ? 0 : values[name]));
}

/** Statistics one thread of sufficient_stats.wgsl owns (its PER_THREAD). */
export const STATS_PER_THREAD = 8;
/** Threads per workgroup of sufficient_stats.wgsl. */
export const STATS_WORKGROUP = 64;
/** Largest tile of rows sufficient_stats.wgsl stages at once (its TILE, lowered when memory is short). */
export const STATS_TILE_ROWS = 32;

/**
 * How sufficient_stats.wgsl is laid out for D and K: entry groups of WORKGROUP x PER_THREAD
 * consecutive entries, the components (plus the log-likelihood column) one group touches, and
 * the largest tile of rows whose samples and responsibilities fit in workgroup memory.
 */
export function statsLayout(d: number, k: number, maxWorkgroupBytes: number, kind: StatsKind = 'full') {
  const pairs = statsPerComponent(d, kind);
  const entries = k * pairs + 1;
  const perGroup = STATS_WORKGROUP * STATS_PER_THREAD;
  const groups = Math.ceil(entries / perGroup);
  const kSpan = Math.min(k + 1, Math.floor((perGroup - 1) / pairs) + 2);
  let tile = STATS_TILE_ROWS;
  while (tile > 1 && 4 * tile * (d + 1 + kSpan) > maxWorkgroupBytes) tile >>= 1;
  return { pairs, entries, groups, kSpan, tile };
}
/** Largest D the kernels' private arrays hold (their MAX_D). */
export const MAX_FEATURES = 64;
/** Threads per workgroup of the E-step (its WORKGROUP). */
export const ESTEP_WORKGROUP = 64;
/** Threads per workgroup of reduce_partials.wgsl. */
export const REDUCE_WORKGROUP = 64;

/**
 * Which sums a pass produces: 'full' every pair (full and tied covariances), 'diagonal' the
 * squares only (diag and spherical), both by sufficient_stats.wgsl; 'hard' the first moments
 * and counts of hard assignments (k-means), by kmeans_sums.wgsl.
 */
export type StatsKind = 'full' | 'diagonal' | 'hard';

/**
 * Number of sums per component: pairs i >= j over (x - c, 1), i.e. 1 + D + D(D+1)/2; with a
 * diagonal precision only the squares, the first moments and the count, 2D + 1; for k-means
 * the first moments and the count, D + 1.
 */
export function statsPerComponent(d: number, kind: StatsKind = 'full'): number {
  if (kind === 'hard') return d + 1;
  return kind === 'diagonal' ? 2 * d + 1 : ((d + 1) * (d + 2)) / 2;
}

/** Floats of precision factors per component in the `comp` buffer. */
function precisionSize(d: number, kind: StatsKind): number {
  if (kind === 'hard') return 0;
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
export const statsKindOf = (p: { covarianceType: string }): StatsKind =>
  p.covarianceType === 'diag' || p.covarianceType === 'spherical' ? 'diagonal' : 'full';

/** Packs k-means centres (and the shifts, the same centres) into the `comp` buffer layout. */
export function packCentres(centres: Float64Array, k: number, d: number): Float32Array {
  const layout = componentLayout(k, d, 'hard');
  const out = new Float32Array(layout.length);
  out.set(centres, layout.means);
  out.set(centres, layout.shifts);
  return out;
}

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
