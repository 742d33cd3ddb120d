import type { CovarianceType } from '../core/names.js';

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
