import type { CovarianceType } from './names.js';

/**
 * The contract between the models and the backends, below both: what a backend is given for
 * each component and what it sums over the data.
 */

/** Layout of second moments and precision factors: packed triangles or diagonals only. */
export type StatisticsKind = 'packed' | 'diagonal';

/**
 * What a backend needs to evaluate log w_k + log N(x | mu_k, Sigma_k) for every sample and
 * component. Float64 on the host; a GPU backend rounds to float32.
 */
export interface ComponentParameters {
  /** full and tied: packed triangular precision factors; diag and spherical: 1/sigma per feature. */
  readonly covarianceType: CovarianceType;
  readonly nComponents: number;
  readonly nFeatures: number;
  /** log w_k, length K. */
  readonly logWeights: Float64Array;
  /** mu_k, K x D row-major. */
  readonly means: Float64Array;
  /**
   * full and tied: M_k = C_k^-1 where Sigma_k = C_k C_k^T, packed lower-triangular
   * (K x D(D+1)/2), so that the squared Mahalanobis distance is ||M_k (x - mu_k)||^2.
   * diag and spherical: the diagonal of M_k, 1 / sigma_ki (K x D).
   */
  readonly precisionCholesky: Float64Array;
  /** log det M_k = sum_i log (M_k)_ii, length K. */
  readonly logDetPrecisionCholesky: Float64Array;
}

/**
 * Responsibility-weighted sums over all samples, for parameters theta and per-component shifts c_k:
 * everything the M-step needs, and the log-likelihood of theta.
 */
export interface SufficientStatistics {
  readonly nComponents: number;
  readonly nFeatures: number;
  /** Sum of sample weights (the number of samples when unweighted). */
  readonly weightSum: number;
  /** sum_n log p(x_n | theta). */
  readonly logLikelihoodSum: number;
  /**
   * sum_n sum_k r_nk log r_nk (minus the entropy of the responsibilities; r = 0 adds 0): the
   * variational lower bound needs it, and the moments cannot give it without cancelling.
   */
  readonly respLogRespSum: number;
  /** N_k = sum_n r_nk, length K. */
  readonly nk: Float64Array;
  /** sum_n r_nk (x_n - c_k), K x D. */
  readonly firstMoment: Float64Array;
  /**
   * 'packed' (full and tied): sum_n r_nk (x_n - c_k)(x_n - c_k)^T, packed lower, K x D(D+1)/2.
   * 'diagonal' (diag and spherical): only its diagonal, K x D. Which one a family needs is its
   * `statistics` in core/families.ts.
   */
  readonly secondMomentLayout: StatisticsKind;
  readonly secondMoment: Float64Array;
}

/** The sums an M-step reads: everything but the responsibilities' entropy. */
export type MomentSums = Omit<SufficientStatistics, 'respLogRespSum'>;
