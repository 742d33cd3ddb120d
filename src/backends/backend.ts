import type { Matrix } from '../data/matrix.js';
import type { BackendName, CovarianceType } from '../core/names.js';
import type { ComponentParameters, SufficientStatistics } from '../core/statistics.js';

export type { ComponentParameters, SufficientStatistics };

/** What an E-step should return: the per-sample log-likelihoods, and what else is asked. */
export interface EStepOptions {
  /** The N x K responsibilities. */
  readonly responsibilities: boolean;
  /** The most likely component of each sample (computed on the backend, without keeping N x K). */
  readonly labels?: boolean;
  /**
   * false: the log-likelihoods are not needed (labels alone, say), and a backend may leave them
   * out (null). Default true.
   */
  readonly logLikelihood?: boolean;
}

/** Per-sample results of an E-step. */
export interface EStepResult {
  /** log p(x_n | theta), length N; null only when the options said `logLikelihood: false` and the backend left them out. */
  readonly logLikelihood: Float64Array | null;
  /** r_nk, N x K row-major; present when asked for. */
  readonly responsibilities: Float64Array | null;
  /**
   * Most likely component of each sample (the argmax of its responsibilities; ties: the lowest);
   * present when asked. A sample whose log-likelihood is not finite gets -1 when the
   * log-likelihoods were left out (the caller's check sees it there otherwise).
   */
  readonly labels: Int32Array | null;
}

/** Sums of one k-means (Lloyd) pass: hard assignments to the nearest centre c_k. */
export interface KMeansStatistics {
  readonly nClusters: number;
  readonly nFeatures: number;
  /** Samples assigned to each centre (their weight sum when weighted), length K. */
  readonly counts: Float64Array;
  /** sum over the samples assigned to k of (x_n - c_k), K x D. */
  readonly firstMoment: Float64Array;
  /** Sum of squared distances to the nearest centre (weighted). */
  readonly inertia: number;
  /**
   * Samples whose nearest centre differs from the previous pass over the same bound data with
   * the same K (every sample on the first; samples of weight 0 never count): Lloyd has
   * converged when none changed.
   */
  readonly changed: number;
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
  /** {@link sample} for each u in turn (the GPU reads the drawn blocks back together). */
  samples(us: readonly number[]): Promise<number[]>;
  release(): void;
}

/** A k-means++ step's result: the candidate the greedy rule keeps, and its distances. */
export interface SeedingStep {
  /** Index of the kept candidate: the first of lowest potential. */
  readonly index: number;
  readonly state: SeedingState;
}

/**
 * The greedy rule of k-means++: the first candidate of lowest potential (a later one wins only
 * when strictly lower, so a NaN potential never displaces another).
 */
export function keptCandidate(potentials: readonly number[]): number {
  let kept = 0;
  for (let i = 1; i < potentials.length; i++) if (potentials[i] < potentials[kept]) kept = i;
  return kept;
}

/** Samples resident on a backend (uploaded once, evaluated many times). */
export interface BoundData {
  readonly rows: number;
  readonly cols: number;
  /**
   * Per-sample weights given at bind time (null: each sample counts once). Every sum over the
   * samples (statistics, log-likelihood and inertia sums, k-means++ potentials) is weighted;
   * per-sample results (eStep, assign) are not.
   */
  readonly weights: Float64Array | null;
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
   * One step of k-means++ seeding: for each candidate (D values), the distances to the nearest
   * of the centres chosen so far (`base`, or none) and the candidate; the one the greedy rule
   * keeps (the first of lowest potential) comes back, the others are released (the GPU: one dispatch,
   * the kept candidate's block sums read back with the potentials).
   */
  seedingStep(candidates: readonly Float64Array[], base: SeedingState | null): Promise<SeedingStep>;
  /** Labels and squared distances to the nearest centre (and, when asked, to every centre). */
  assign(centres: Float64Array, k: number, options: { allDistances: boolean }): Promise<Assignments>;
  /**
   * GPU time of the last sufficientStatistics pass in seconds, from timestamp queries; null when
   * the device cannot time passes (or on the CPU).
   */
  readonly lastGpuSeconds: number | null;
  /**
   * GPU backends only: the samples and each row's label on the device, for a renderer that
   * draws them without a read-back (see {@link RenderView}).
   */
  renderView?(labels: ViewLabels): Promise<RenderView>;
  /** Frees what the data holds on the backend. Idempotent. */
  dispose(): void;
}

/**
 * What a render view's labels come from: a mixture's most probable component under `params`
 * (one E-step pass that takes the argmax on the GPU), or the clusters of the last k-means pass with K
 * clusters (the assignment the current centres were computed from; unlabelled before any pass).
 */
export type ViewLabels =
  | { readonly kind: 'mixture'; readonly params: ComponentParameters }
  | { readonly kind: 'kmeans'; readonly k: number };

/** Rows [firstRow, firstRow + rows) of the samples on the GPU, with their labels. */
export interface RenderChunk {
  readonly firstRow: number;
  readonly rows: number;
  /** rows x cols float32, row-major (divided by the view's `scale`); STORAGE usage. */
  readonly samples: GPUBuffer;
  /**
   * One u32 per row: the component or cluster, 0xffffffff for none yet (k-means before its first
   * pass); bit 31 set on a mixture's row whose log-likelihood is not finite. STORAGE usage.
   */
  readonly labels: GPUBuffer;
}

/**
 * The samples of a fit and their labels as GPU buffers on the model's own device, for drawing
 * (a vertex shader can read them as storage buffers). Valid until the model's next call that
 * changes its samples or workspaces (step, initialize, fit, dispose): ask for a new view after
 * each step. Buffers belong to the model: never destroy them.
 */
export interface RenderView {
  /** The device that holds the buffers: render with it (a GPUDevice cannot be shared). */
  readonly device: GPUDevice;
  readonly rows: number;
  readonly cols: number;
  /** The samples on the GPU are the caller's divided by this power of two (1 for most data). */
  readonly scale: number;
  readonly chunks: readonly RenderChunk[];
}

/** What data is bound for, and how long-running passes on it may be stopped. */
export interface BindOptions {
  /**
   * What the data will be fitted with: a covariance family or k-means ('full', the strictest, by
   * default). A backend whose kernels have per-use limits (the number of features) checks them
   * when the data is bound.
   */
  readonly purpose?: DataUse;
  /**
   * K, when known: the data is then refused (with `auto`, sent to the CPU) before it is
   * uploaded when K components of its features exceed the backend's limits for `purpose`.
   */
  readonly components?: number;
  /**
   * Checked between chunks of rows by backends that compute on the calling thread (the CPU),
   * so that an abort takes effect within a fraction of a second.
   */
  readonly signal?: AbortSignal;
  /**
   * One weight per sample (finite, >= 0, positive sum; checked), held beside the samples: an
   * integer weight counts its sample that many times, a zero weight drops it.
   */
  readonly weights?: Float64Array | null;
}

/** What bound data will be fitted with: a covariance family or k-means. */
export type DataUse = CovarianceType | 'kmeans';

/** Turns (parameters, data) into sufficient statistics. Knows nothing of the EM loop. */
export interface MixtureBackend {
  /** The backend actually used. */
  readonly name: BackendName;
  /** The adapter that runs it, or null on the CPU. */
  readonly adapterDescription: string | null;
  /** Uploads X; `options.purpose` says which limits apply, `options.signal` stops long passes. */
  bindData(x: Matrix, options?: BindOptions): Promise<BoundData>;
  /** Frees everything the backend owns (devices it created included). Idempotent. */
  dispose(): void;
}
