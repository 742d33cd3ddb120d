import type { BoundData } from '../backends/backend.js';
import { LazyBackend, type GpuOptions } from '../backends/select.js';
import { family } from '../core/families.js';
import {
  BACKEND_CHOICES,
  checkChoice,
  checkOptionKeys,
  COVARIANCE_TYPES,
  optionKeys,
  type BackendChoice,
  type CovarianceType,
} from '../core/names.js';
import { toMatrix, type Matrix, type MatrixInput } from '../data/matrix.js';
import { sampleWeights, weightTotal, type SampleWeightInput } from '../data/weights.js';
import { dataError, usageError } from '../errors.js';
import { mStep, shiftsFor, toComponentParameters, type GmmParameters } from './gmm-parameters.js';

/**
 * Mergeable sufficient statistics: the E-step of EM (or the assignment step of Lloyd) over one
 * shard of the data, as sums that add across shards, so that the E-step can run on several
 * devices, workers or machines and the M-step on their sum still gives exact EM.
 *
 * Contract: every shard is evaluated under the same parameters (a hash of them travels with the
 * sums, and sums of different parameters are refused); sums are merged in float64 (a GPU
 * shard's sums are float32 sums read back into float64); the M-step is taken once from the
 * merged sums.
 */
export const STATISTICS_FORMAT = 'webgpu-em/stats@1';

/** What every statistics record carries besides its sums. */
interface StatisticsHeader {
  readonly format: typeof STATISTICS_FORMAT;
  readonly nFeatures: number;
  /** Hash of the parameters the sums were computed under (16 hex digits). */
  readonly parameterHash: string;
  /** The points c_k the first and second moments are taken around, K x D. */
  readonly shifts: Float64Array;
  /** Rows summed (each once, whatever its weight). */
  readonly rows: number;
  /** Sum of the sample weights (the number of rows when unweighted). */
  readonly weightSum: number;
}

/** A mixture's E-step sums over a shard: everything its M-step needs. */
export interface MixtureShardStatistics extends StatisticsHeader {
  readonly kind: 'mixture';
  readonly covarianceType: CovarianceType;
  readonly nComponents: number;
  /** sum_n w_n log p(x_n | theta). */
  readonly logLikelihoodSum: number;
  /** N_k = sum_n w_n r_nk, length K. */
  readonly nk: Float64Array;
  /** sum_n w_n r_nk (x_n - c_k), K x D. */
  readonly firstMoment: Float64Array;
  /**
   * sum_n w_n r_nk (x_n - c_k)(x_n - c_k)^T: packed lower triangles (full, tied; K x D(D+1)/2)
   * or diagonals only (diag, spherical; K x D).
   */
  readonly secondMoment: Float64Array;
}

/** k-means sums over a shard, and its samples farthest from their centres. */
export interface KMeansShardStatistics extends StatisticsHeader {
  readonly kind: 'kmeans';
  readonly nClusters: number;
  /** Weight of the samples nearest each centre, length K. */
  readonly counts: Float64Array;
  /** sum over the samples nearest c_k of w_n (x_n - c_k), K x D (the shifts are the centres). */
  readonly firstMoment: Float64Array;
  /** sum_n w_n ||x_n - c_label||^2. */
  readonly inertia: number;
  /**
   * Samples whose nearest centre changed since the shard's previous pass (every sample on its
   * first): Lloyd has converged when the merged count is 0.
   */
  readonly changed: number;
  /**
   * Up to K samples of positive weight farthest from their nearest centre (D values each,
   * farthest first) and their squared distances: where empty clusters are re-seeded.
   */
  readonly farthest: { readonly distances: Float64Array; readonly samples: Float64Array };
}

/** Statistics of either kind. */
export type ShardStatistics = MixtureShardStatistics | KMeansShardStatistics;

/** Options of {@link StatisticsShard.create}. */
export interface ShardOptions {
  /** 'auto' (default), 'webgpu' or 'cpu'. */
  backend?: BackendChoice;
  device?: GPUDevice;
  adapter?: string;
  /** One weight per row of the shard (finite, >= 0), as `fit(X, { sampleWeight })`. */
  sampleWeight?: SampleWeightInput | null;
  /** What the shard will be evaluated for: a covariance family or 'kmeans' (the GPU's limits differ); default 'full'. */
  use?: CovarianceType | 'kmeans';
}

const SHARD_OPTIONS = optionKeys<ShardOptions>({
  backend: true,
  device: true,
  adapter: true,
  sampleWeight: true,
  use: true,
});

/**
 * One shard of the data bound to a backend once (the GPU, the CPU reference), evaluated under
 * parameters as often as needed: each call is one pass over the shard.
 *
 * ```ts
 * const shard = await StatisticsShard.create(rows, { backend: 'webgpu' });
 * const stats = await shard.mixture(gmm.parameters); // send statisticsToJSON(stats) anywhere
 * ```
 */
export class StatisticsShard {
  private constructor(
    private readonly matrix: Matrix,
    private readonly backend: LazyBackend | null,
    /** null: every weight is 0, so the shard adds nothing (and is bound nowhere). */
    private readonly data: BoundData | null,
  ) {}

  /**
   * Binds X (and its weights) to the chosen backend. Weights that are all 0 leave every row out:
   * the shard's statistics are then zero sums (of its rows and weight 0), which add nothing to a merge.
   */
  static async create(x: MatrixInput, options: ShardOptions = {}): Promise<StatisticsShard> {
    checkOptionKeys('StatisticsShard', options, SHARD_OPTIONS);
    const use = options.use ?? 'full';
    checkChoice('use', use, [...COVARIANCE_TYPES, 'kmeans']);
    const matrix = toMatrix(x);
    if (allZero(options.sampleWeight, matrix.rows)) return new StatisticsShard(matrix, null, null);
    const weights = sampleWeights(options.sampleWeight, matrix.rows);
    const gpu: GpuOptions = { device: options.device, adapter: options.adapter };
    const backend = new LazyBackend(options.backend ?? BACKEND_CHOICES[0], gpu);
    try {
      return new StatisticsShard(matrix, backend, await backend.bind(matrix, { purpose: use, weights }));
    } catch (error) {
      backend.dispose();
      throw error;
    }
  }

  /** The E-step sums of a mixture with these parameters over the shard. */
  async mixture(
    params: GmmParameters | { readonly parameters: GmmParameters },
  ): Promise<MixtureShardStatistics> {
    const p = 'parameters' in params ? params.parameters : params;
    this.checkFeatures(p.nFeatures);
    const shifts = shiftsFor(p);
    const { nComponents: k, nFeatures: d } = p;
    const second = family(p.covarianceType).secondMoments(d);
    const s = this.data
      ? await this.data.sufficientStatistics(toComponentParameters(p), shifts)
      : {
          weightSum: 0,
          logLikelihoodSum: 0,
          nk: new Float64Array(k),
          firstMoment: new Float64Array(k * d),
          secondMoment: new Float64Array(k * second),
        };
    return {
      format: STATISTICS_FORMAT,
      kind: 'mixture',
      covarianceType: p.covarianceType,
      nComponents: p.nComponents,
      nFeatures: p.nFeatures,
      parameterHash: mixtureHash(p),
      shifts,
      rows: this.matrix.rows,
      weightSum: s.weightSum,
      logLikelihoodSum: s.logLikelihoodSum,
      nk: Float64Array.from(s.nk),
      firstMoment: Float64Array.from(s.firstMoment),
      secondMoment: Float64Array.from(s.secondMoment),
    };
  }

  /**
   * One Lloyd assignment of the shard to these centres (K x D, flat or nested): the sums, and
   * the K samples farthest from their centre (a second pass over the shard in the same call).
   */
  async kmeans(centres: ArrayLike<number> | ArrayLike<ArrayLike<number>>): Promise<KMeansShardStatistics> {
    const c = flatCentres(centres, this.matrix.cols);
    const k = c.length / this.matrix.cols;
    // A shard of weight 0 (bound to no backend) adds nothing: zero sums, no farthest samples.
    const s = this.data
      ? await this.data.kmeansStatistics(c, k)
      : { inertia: 0, changed: 0, counts: new Float64Array(k), firstMoment: new Float64Array(c.length) };
    const farthest = this.data
      ? farthestSamples(
          this.matrix,
          this.data.weights,
          (await this.data.assign(c, k, { allDistances: false })).minDistances,
          k,
        )
      : { distances: new Float64Array(0), samples: new Float64Array(0) };
    return {
      format: STATISTICS_FORMAT,
      kind: 'kmeans',
      nClusters: k,
      nFeatures: this.matrix.cols,
      parameterHash: kmeansHash(c, k, this.matrix.cols),
      shifts: c,
      rows: this.matrix.rows,
      weightSum: this.data ? weightTotal(this.data.weights, this.data.rows) : 0,
      inertia: s.inertia,
      changed: s.changed,
      counts: Float64Array.from(s.counts),
      firstMoment: Float64Array.from(s.firstMoment),
      farthest,
    };
  }

  /** Frees the shard on its backend. */
  dispose(): void {
    this.data?.dispose();
    this.backend?.dispose();
  }

  private checkFeatures(d: number): void {
    if (d !== this.matrix.cols) {
      throw dataError(`the parameters have D = ${d} features but the shard has ${this.matrix.cols} columns`);
    }
  }
}

/** Weights given for every row and each exactly 0 (anything else is checked as sampleWeight). */
function allZero(input: SampleWeightInput | null | undefined, rows: number): boolean {
  if (input == null || typeof input !== 'object' || input.length !== rows || rows === 0) return false;
  for (let r = 0; r < rows; r++) if (input[r] !== 0) return false;
  return true;
}

/** The K rows of positive weight with the largest distances, farthest first (ties: lower row first). */
export function farthestSamples(m: Matrix, weights: Float64Array | null, dist: Float64Array, k: number) {
  const order = Array.from(dist.keys())
    .filter((n) => !weights || weights[n] > 0)
    .sort((a, b) => dist[b] - dist[a] || a - b)
    .slice(0, k);
  const d = m.cols;
  const samples = new Float64Array(order.length * d);
  order.forEach((row, i) => {
    for (let j = 0; j < d; j++) samples[i * d + j] = m.data[row * d + j];
  });
  return { distances: Float64Array.from(order, (row) => dist[row]), samples };
}

function flatCentres(centres: ArrayLike<number> | ArrayLike<ArrayLike<number>>, d: number): Float64Array {
  const flat: number[] = [];
  const nested = centres.length > 0 && typeof centres[0] !== 'number';
  for (let r = 0; r < centres.length; r++) {
    const row = centres[r];
    if ((typeof row === 'number') === nested || (typeof row !== 'number' && row.length !== d)) {
      throw dataError(
        `centres[${r}] is not ${nested ? `a row of ${d} numbers` : 'a number'}; give K rows of ${d} numbers, or K x ${d} numbers flat`,
      );
    }
    if (typeof row === 'number') flat.push(row);
    else for (let i = 0; i < row.length; i++) flat.push(row[i]);
  }
  if (flat.length === 0 || flat.length % d !== 0 || flat.some((v) => !Number.isFinite(v))) {
    throw dataError(
      `the centres must be K x ${d} finite numbers (the shard's columns); got ${flat.length} values`,
    );
  }
  return Float64Array.from(flat);
}

/**
 * Adds statistics of the same parameters (same kind, family, K, D, shifts and parameter hash)
 * in float64. k-means statistics keep the K farthest samples of all.
 */
export function mergeStatistics<S extends ShardStatistics>(...parts: readonly S[]): S {
  if (parts.length === 0) throw usageError('mergeStatistics needs at least one set of statistics');
  const [first] = parts;
  for (const p of parts.slice(1)) checkMergeable(first, p);
  const sum = (pick: (s: S) => Float64Array) => {
    const out = new Float64Array(pick(first).length);
    for (const p of parts) {
      const v = pick(p);
      for (let i = 0; i < out.length; i++) out[i] += v[i];
    }
    return out;
  };
  const total = (pick: (s: S) => number) => parts.reduce((a, p) => a + pick(p), 0);
  const header = {
    ...first,
    shifts: Float64Array.from(first.shifts),
    rows: total((s) => s.rows),
    weightSum: total((s) => s.weightSum),
  };
  if (first.kind === 'mixture') {
    const m = parts as readonly ShardStatistics[] as readonly MixtureShardStatistics[];
    return {
      ...header,
      logLikelihoodSum: m.reduce((a, s) => a + s.logLikelihoodSum, 0),
      nk: sum((s) => (s as MixtureShardStatistics).nk),
      firstMoment: sum((s) => s.firstMoment),
      secondMoment: sum((s) => (s as MixtureShardStatistics).secondMoment),
    } as S;
  }
  const km = parts as readonly ShardStatistics[] as readonly KMeansShardStatistics[];
  const d = first.nFeatures;
  const candidates = km.flatMap((s) =>
    Array.from(s.farthest.distances, (dist, i) => ({
      dist,
      row: s.farthest.samples.subarray(i * d, i * d + d),
    })),
  );
  // Stable: equal distances keep the order of the parts.
  const kept = candidates
    .sort((a, b) => b.dist - a.dist)
    .slice(0, (first as KMeansShardStatistics).nClusters);
  const samples = new Float64Array(kept.length * d);
  kept.forEach((c, i) => samples.set(c.row, i * d));
  return {
    ...header,
    inertia: km.reduce((a, s) => a + s.inertia, 0),
    changed: km.reduce((a, s) => a + s.changed, 0),
    counts: sum((s) => (s as KMeansShardStatistics).counts),
    firstMoment: sum((s) => s.firstMoment),
    farthest: { distances: Float64Array.from(kept, (c) => c.dist), samples },
  } as S;
}

/** Refuses to merge b with a: another kind, family, K, D, parameter hash or shifts. */
export function checkMergeable(a: ShardStatistics, b: ShardStatistics): void {
  const what = (s: ShardStatistics) =>
    s.kind === 'mixture'
      ? `a '${s.covarianceType}' mixture of K = ${s.nComponents}, D = ${s.nFeatures}`
      : `k-means of K = ${s.nClusters}, D = ${s.nFeatures}`;
  if (what(a) !== what(b)) {
    throw dataError(`cannot merge statistics of ${what(a)} with statistics of ${what(b)}`);
  }
  const sameShifts = a.shifts.length === b.shifts.length && a.shifts.every((v, i) => v === b.shifts[i]);
  if (a.parameterHash !== b.parameterHash || !sameShifts) {
    throw dataError(
      `cannot merge statistics computed under different parameters (hash ${a.parameterHash} vs ${b.parameterHash}); ` +
        'evaluate every shard under the same parameters',
    );
  }
}

/**
 * The M-step from (merged) mixture statistics, in float64: the next parameters (regCovar as in
 * GaussianMixture, default 1e-6) and the mean log-likelihood of the parameters the statistics
 * were computed under (the lower bound a fit reports for that iteration).
 */
export function mixtureMStep(
  stats: MixtureShardStatistics,
  options: { regCovar?: number } = {},
): { parameters: GmmParameters; lowerBound: number } {
  const regCovar = options.regCovar ?? 1e-6;
  if (!(regCovar >= 0) || !Number.isFinite(regCovar)) {
    throw usageError(`regCovar must be a finite number >= 0, got ${regCovar}`);
  }
  checkWeight(stats);
  const parameters = mStep(
    {
      nComponents: stats.nComponents,
      nFeatures: stats.nFeatures,
      weightSum: stats.weightSum,
      logLikelihoodSum: stats.logLikelihoodSum,
      nk: stats.nk,
      firstMoment: stats.firstMoment,
      secondMomentLayout: family(stats.covarianceType).statistics,
      secondMoment: stats.secondMoment,
    },
    stats.shifts,
    regCovar,
    stats.covarianceType,
  );
  return { parameters, lowerBound: stats.logLikelihoodSum / stats.weightSum };
}

/** An M-step needs weight: shards of weight 0 add nothing, so all of them together leave nothing to fit. */
function checkWeight(stats: ShardStatistics): void {
  if (!(stats.weightSum > 0)) {
    throw dataError(
      `the statistics sum no sample weight: every shard's weights sum to 0 (or every shard is empty; ${stats.rows} rows in all); give some rows a positive weight`,
    );
  }
}

/**
 * The Lloyd update from (merged) k-means statistics: each centre moves to the weighted mean of
 * its samples; a centre with none moves to the farthest sample the statistics carry (one per
 * empty centre, in order, as KMeans does). Also the squared centre shift (summed) and the
 * inertia of the centres the statistics were computed under.
 */
export function kmeansMStep(stats: KMeansShardStatistics): {
  centres: Float64Array;
  relocated: number;
  centerShift: number;
  inertia: number;
} {
  checkWeight(stats);
  const { nClusters: k, nFeatures: d } = stats;
  const { next, empty } = lloydUpdate(stats.shifts, stats.counts, stats.firstMoment, k, d);
  if (empty.length > stats.farthest.distances.length) {
    throw dataError(
      `${empty.length} clusters are empty but the statistics carry only ${stats.farthest.distances.length} samples; ` +
        'use fewer clusters or more data',
    );
  }
  empty.forEach((c, slot) => next.set(stats.farthest.samples.subarray(slot * d, slot * d + d), c * d));
  let centerShift = 0;
  for (let e = 0; e < next.length; e++) centerShift += (next[e] - stats.shifts[e]) ** 2;
  return { centres: next, relocated: empty.length, centerShift, inertia: stats.inertia };
}

/** Centres moved to their samples' weighted means, and the clusters that got none. */
export function lloydUpdate(
  centres: Float64Array,
  counts: Float64Array,
  firstMoment: Float64Array,
  k: number,
  d: number,
): { next: Float64Array; empty: number[] } {
  const next = new Float64Array(k * d);
  const empty: number[] = [];
  for (let c = 0; c < k; c++) {
    if (counts[c] === 0) empty.push(c);
    for (let i = 0; i < d; i++) {
      next[c * d + i] =
        counts[c] > 0 ? centres[c * d + i] + firstMoment[c * d + i] / counts[c] : centres[c * d + i];
    }
  }
  return { next, empty };
}

/** Hash of a mixture's parameters: its family, K, D and the float64 bits of every value. */
export function mixtureHash(p: GmmParameters): string {
  return hashValues(`mixture:${p.covarianceType}:${p.nComponents}:${p.nFeatures}`, [
    p.weights,
    p.means,
    p.covariances,
  ]);
}

/** Hash of k-means centres (K x D). */
export function kmeansHash(centres: Float64Array, k: number, d: number): string {
  return hashValues(`kmeans:${k}:${d}`, [centres]);
}

/**
 * Two FNV-1a lanes (64 bits, 16 hex digits) over a tag and the little-endian float64 bytes of
 * the values: the same parameters give the same hash on every machine. It tells parameter sets
 * apart; it is no defence against a forger.
 */
function hashValues(tag: string, arrays: readonly Float64Array[]): string {
  let h1 = 0x811c9dc5;
  let h2 = 0xcbf29ce4;
  const add = (byte: number) => {
    h1 = Math.imul(h1 ^ byte, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ byte, 0x01000193) >>> 0;
    h2 = (h2 ^ (h2 >>> 13)) >>> 0;
  };
  for (let i = 0; i < tag.length; i++) add(tag.charCodeAt(i) & 0xff);
  const view = new DataView(new ArrayBuffer(8));
  for (const a of arrays) {
    for (const v of a) {
      view.setFloat64(0, v, true);
      for (let b = 0; b < 8; b++) add(view.getUint8(b));
    }
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}
