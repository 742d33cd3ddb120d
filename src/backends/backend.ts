import type { Matrix } from '../data/matrix.js';
import type { CovarianceType } from '../models/gmm-parameters.js';

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
  /** N_k = sum_n r_nk, length K. */
  readonly nk: Float64Array;
  /** sum_n r_nk (x_n - c_k), K x D. */
  readonly firstMoment: Float64Array;
  /**
   * 'packed' (full and tied): sum_n r_nk (x_n - c_k)(x_n - c_k)^T, packed lower, K x D(D+1)/2.
   * 'diagonal' (diag and spherical): only its diagonal, K x D.
   */
  readonly secondMomentLayout: 'packed' | 'diagonal';
  readonly secondMoment: Float64Array;
}

/** What an E-step should return besides the per-sample log-likelihoods. */
export interface EStepOptions {
  /** The N x K responsibilities. */
  readonly responsibilities: boolean;
  /** The most likely component of each sample (computed per chunk, without keeping N x K). */
  readonly labels?: boolean;
}

/** Per-sample results of an E-step. */
export interface EStepResult {
  /** log p(x_n | theta), length N. */
  readonly logLikelihood: Float64Array;
  /** r_nk, N x K row-major; present when asked for. */
  readonly responsibilities: Float64Array | null;
  /** Most likely component of each sample (ties: the lowest); present when asked. */
  readonly labels: Int32Array | null;
}

/** Sums of one k-means (Lloyd) pass: hard assignments to the nearest centre c_k. */
export interface KMeansStatistics {
  readonly nClusters: number;
  readonly nFeatures: number;
  /** Samples assigned to each centre, length K. */
  readonly counts: Float64Array;
  /** sum over the samples assigned to k of (x_n - c_k), K x D. */
  readonly firstMoment: Float64Array;
  /** Sum of squared distances to the nearest centre. */
  readonly inertia: number;
}

/** Nearest centres of every sample. */
export interface Assignments {
  readonly labels: Int32Array;
  /** Squared distance to the nearest centre, length N. */
  readonly minDistances: Float64Array;
  /** Squared distances to every centre, N x K; present when asked for. */
  readonly distances: Float64Array | null;
}

/**
 * One k-means++ distance pass: each sample's squared distance to the nearest chosen centre,
 * held by the backend, with its total. Release it when it is no longer a candidate.
 */
export interface SeedingState {
  /** Sum of the distances (the k-means++ potential). */
  readonly potential: number;
  /** The sample at which the running sum of distances first exceeds u * potential (u in [0, 1)). */
  sample(u: number): Promise<number>;
  release(): void;
}

/** Samples resident on a backend (uploaded once, evaluated many times). */
export interface BoundData {
  readonly rows: number;
  readonly cols: number;
  /** Builds what K components need (GPU pipelines and buffers) ahead of the first pass. */
  prepare(nComponents: number, covarianceType: CovarianceType | 'kmeans'): Promise<void>;
  /**
   * One E-step plus the weighted sums, in one pass over the data. Diagonal families get
   * 'diagonal' second moments, full and tied 'packed' ones.
   */
  sufficientStatistics(params: ComponentParameters, shifts: Float64Array): Promise<SufficientStatistics>;
  /** Per-sample log-likelihoods and, when asked, responsibilities. */
  eStep(params: ComponentParameters, options: EStepOptions): Promise<EStepResult>;
  /** One Lloyd pass: assignment to the nearest of K centres (K x D) and the per-centre sums. */
  kmeansStatistics(centres: Float64Array, k: number): Promise<KMeansStatistics>;
  /**
   * Distances to the nearest of the centres chosen so far (`base`, or none) and `candidate`
   * (D values): one step of k-means++ seeding.
   */
  seedingPass(candidate: Float64Array, base: SeedingState | null): Promise<SeedingState>;
  /** Labels and squared distances to the nearest centre (and, when asked, to every centre). */
  assign(centres: Float64Array, k: number, options: { allDistances: boolean }): Promise<Assignments>;
  /**
   * GPU time of the last sufficientStatistics pass in seconds, from timestamp queries; null when
   * the device cannot time passes (or on the CPU).
   */
  readonly lastGpuSeconds: number | null;
  /** Frees what the data holds on the backend. Idempotent. */
  dispose(): void;
}

/**
 * What bound data will be fitted with: a covariance family or k-means. A backend whose kernels
 * have per-use limits (the number of features) checks them when the data is bound.
 */
export type DataUse = CovarianceType | 'kmeans';

/** Turns (parameters, data) into sufficient statistics. Knows nothing of the EM loop. */
export interface MixtureBackend {
  /** The backend actually used. */
  readonly name: 'cpu' | 'webgpu';
  /** The adapter that runs it, or null on the CPU. */
  readonly adapterDescription: string | null;
  /** Uploads X; `use` (default 'kmeans', the strictest) says which limits apply. */
  bindData(x: Matrix, use?: DataUse): Promise<BoundData>;
  /** Frees everything the backend owns (devices it created included). Idempotent. */
  dispose(): void;
}
