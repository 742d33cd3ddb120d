import type { BoundData, EStepOptions } from '../backends/backend.js';
import { LazyBackend, type BackendChoice, type GpuOptions } from '../backends/select.js';
import { toMatrix, type Matrix, type MatrixInput } from '../data/matrix.js';
import { dataError, usageError } from '../errors.js';
import { EmRun, type IterationRecord } from './em.js';
import {
  COVARIANCE_TYPES,
  componentCovariance,
  covariancesAsArray,
  freeParameterCount,
  toComponentParameters,
  type CovarianceType,
  type GmmParameters,
} from './gmm-parameters.js';
import {
  kmeansPlusPlus,
  parametersFromCentres,
  parametersFromRandomResponsibilities,
  randomFromDataCentres,
  readInitialModel,
  type InitialModel,
} from './init.js';
import { choleskyPacked, packedIndex } from './linalg.js';
import { checkLoopOptions } from './options.js';
import { Random } from './random.js';

export type { CovarianceType };

/** How to choose the initial parameters. */
export type InitMethod = 'kmeans++' | 'kmeans' | 'random' | 'random-from-data';

/** Options of {@link GaussianMixture}, named and defaulted as in scikit-learn. */
export interface GaussianMixtureOptions {
  /** Number of mixture components K (>= 1). */
  nComponents: number;
  /** Covariance family: 'full' (default), 'tied', 'diag' or 'spherical', as in scikit-learn. */
  covarianceType?: CovarianceType;
  /** Stop when the lower bound changes by less than this; default 1e-3. 0 runs exactly maxIter iterations. */
  tol?: number;
  /** Most EM iterations per initialisation; default 100. */
  maxIter?: number;
  /** Added to every covariance diagonal, for numerical stability; default 1e-6. */
  regCovar?: number;
  /** Number of initialisations; the one with the best lower bound is kept. Default 1. */
  nInit?: number;
  /**
   * Initialisation: 'kmeans++' (default: k-means++ centres, then each sample's nearest), 'kmeans'
   * (a k-means run's clusters, scikit-learn's default), 'random' (random responsibilities),
   * 'random-from-data' (K samples as centres), or a model to start from exactly.
   */
  init?: InitMethod | InitialModel | GaussianMixture;
  /**
   * When true, each fit() after the first continues from the current parameters (nInit is then
   * ignored), as scikit-learn's warm_start. Default false.
   */
  warmStart?: boolean;
  /** Seed of every random choice; the same seed gives the same result. Default 0. */
  seed?: number;
  /** 'auto' (default) uses WebGPU when an adapter exists, else the float64 CPU backend. */
  backend?: BackendChoice;
  /** A GPUDevice to use instead of creating one (it is not destroyed by dispose()). */
  device?: GPUDevice;
  /** Node only: the Dawn adapter to use, by name. */
  adapter?: string;
}

/** Options of {@link GaussianMixture.fit}. */
export interface FitOptions {
  /** Aborts the fit between iterations. */
  signal?: AbortSignal;
  /** Called after every iteration. */
  onIteration?: (record: IterationRecord & { initIndex: number }) => void;
}

/** A row-major float64 matrix returned by the API. */
export interface Matrix64 {
  readonly data: Float64Array;
  readonly rows: number;
  readonly cols: number;
}

interface RunState {
  converged: boolean;
  nIter: number;
  lowerBound: number;
  history: readonly IterationRecord[];
}

type Resolved = Required<Omit<GaussianMixtureOptions, 'device' | 'adapter'>> & GpuOptions;

/**
 * A Gaussian mixture fitted by expectation-maximisation, shaped like scikit-learn's
 * `GaussianMixture`. The E-step and the weighted sums run on the backend (WebGPU or the float64
 * CPU reference); the M-step runs in float64 on the host.
 *
 * ```ts
 * const gmm = new GaussianMixture({ nComponents: 3 });
 * await gmm.fit(X);
 * const labels = await gmm.predict(X);
 * gmm.dispose();
 * ```
 */
export class GaussianMixture {
  readonly options: Readonly<Resolved>;
  private readonly backendHandle: LazyBackend;
  private fitted: GmmParameters | null = null;
  private run: EmRun | null = null;
  private runData: BoundData | null = null;
  private runState: RunState = { converged: false, nIter: 0, lowerBound: -Infinity, history: [] };
  private rng: Random;

  constructor(options: GaussianMixtureOptions) {
    this.options = resolveOptions(options);
    this.backendHandle = new LazyBackend(this.options.backend, this.options);
    this.rng = new Random(this.options.seed);
  }

  /**
   * A fitted model from known parameters (weights, means, and covariances in the shape of
   * `options.covarianceType`, default 'full'), for scoring and predicting without a fit;
   * `options` as for the constructor (nComponents is taken from the model).
   */
  static fromParameters(
    model: Required<Pick<InitialModel, 'means'>> & {
      weights: InitialModel['weights'];
      covariances: InitialModel['covariances'];
    },
    options: Omit<GaussianMixtureOptions, 'nComponents' | 'init'> = {},
  ): GaussianMixture {
    const k = model.weights?.length ?? 0;
    if (k < 1) throw usageError('fromParameters needs weights (length K >= 1), means and covariances');
    const firstMean = (model.means as ArrayLike<unknown>)[0];
    const d =
      typeof firstMean === 'number'
        ? model.means.length / k
        : ((firstMean as ArrayLike<number> | undefined)?.length ?? 0);
    if (!Number.isInteger(d) || d < 1) throw dataError('fromParameters: means must be K x D with D >= 1');
    const read = readInitialModel(model, k, d, options.covarianceType ?? 'full');
    if (!('params' in read))
      throw usageError('fromParameters needs weights and covariances as well as means');
    const gmm = new GaussianMixture({ ...options, nComponents: k, init: model });
    toComponentParameters(read.params); // rejects covariances that are not positive definite
    gmm.fitted = read.params;
    return gmm;
  }

  /** The backend that runs (or ran) the E-steps: 'webgpu' or 'cpu'. Resolves the backend if needed. */
  async backendName(): Promise<'webgpu' | 'cpu'> {
    return (await this.backendHandle.current()).name;
  }

  /** The adapter's description, or null on the CPU backend. */
  async adapterDescription(): Promise<string | null> {
    return (await this.backendHandle.current()).adapterDescription;
  }

  /**
   * Fits the mixture to X ({ data, rows, cols } row-major, or number[][]). With nInit > 1 the
   * initialisation with the best lower bound wins. Resolves to this model.
   */
  async fit(x: MatrixInput, options: FitOptions = {}): Promise<this> {
    const matrix = toMatrix(x);
    // Every fit draws its initialisations from the seed afresh: refitting gives the same result.
    this.rng = new Random(this.options.seed);
    let best: { params: GmmParameters; state: RunState } | null = null;
    const warm = this.options.warmStart && this.fitted !== null;
    const restarts = warm ? 1 : this.options.nInit;
    // A fit that fails or is aborted leaves the model as it was.
    const previous = { fitted: this.fitted, runState: this.runState };
    try {
      for (let initIndex = 0; initIndex < restarts; initIndex++) {
        await this.initialize(matrix, warm ? this.fitted! : undefined);
        while (!this.run!.done) {
          options.signal?.throwIfAborted();
          const record = await this.step();
          options.onIteration?.({ ...record, initIndex });
        }
        if (!best || this.runState.lowerBound > best.state.lowerBound) {
          best = { params: this.fitted!, state: { ...this.runState } };
        }
      }
    } catch (error) {
      this.fitted = previous.fitted;
      this.runState = previous.runState;
      throw error;
    } finally {
      this.releaseRun();
    }
    this.fitted = best!.params;
    this.runState = best!.state;
    return this;
  }

  /**
   * Starts a stepwise fit: validates X, uploads it to the backend and draws the initial
   * parameters (the next draw of the seeded stream, so repeated calls give the nInit restarts),
   * or starts from `from`. Follow with {@link step} until {@link done}.
   */
  async initialize(x: MatrixInput, from?: GmmParameters): Promise<void> {
    const matrix = toMatrix(x);
    this.checkSamples(matrix);
    this.releaseRun();
    if (from && from.nFeatures !== matrix.cols) {
      throw dataError(
        `X has ${matrix.cols} features but the model has ${from.nFeatures}; warm starts need the same features`,
      );
    }
    this.runData = await this.backendHandle.bind(matrix, this.options.covarianceType);
    try {
      const initial = from ?? (await this.initialParameters(matrix, this.runData));
      this.run = new EmRun(this.runData, initial, this.options);
      this.fitted = initial;
    } catch (error) {
      this.releaseRun();
      throw error;
    }
    this.runState = { converged: false, nIter: 0, lowerBound: -Infinity, history: [] };
  }

  /** Runs one EM iteration of the fit started by {@link initialize}. */
  async step(): Promise<IterationRecord> {
    const run = this.run;
    if (!run) throw usageError('step() needs initialize(X) first');
    if (run.done)
      throw usageError('the fit is done (converged or maxIter reached); call initialize(X) again');
    const record = await run.step();
    this.fitted = run.params;
    this.runState = {
      converged: run.converged,
      nIter: run.nIter,
      lowerBound: run.lowerBound,
      history: run.history,
    };
    return record;
  }

  /** True when the stepwise fit has converged or run maxIter iterations. */
  get done(): boolean {
    return this.run?.done ?? true;
  }

  /** Whether the lower bound's change fell below tol in the best run. */
  get converged(): boolean {
    return this.runState.converged;
  }

  /** Iterations run by the best initialisation. */
  get nIter(): number {
    return this.runState.nIter;
  }

  /** scikit-learn's `lower_bound_`: mean log-likelihood per sample at the last E-step. */
  get lowerBound(): number {
    return this.runState.lowerBound;
  }

  /** One record per iteration of the best initialisation. */
  get history(): readonly IterationRecord[] {
    return this.runState.history;
  }

  /** Number of features D seen by fit. */
  get nFeatures(): number {
    return this.params().nFeatures;
  }

  /** Mixture weights, length K. */
  get weights(): Float64Array {
    return Float64Array.from(this.params().weights);
  }

  /** Component means, K x D row-major. */
  get means(): Matrix64 {
    const p = this.params();
    return { data: Float64Array.from(p.means), rows: p.nComponents, cols: p.nFeatures };
  }

  /**
   * Covariances in scikit-learn's shapes, flat row-major: full K x D x D, tied D x D, diag K x D,
   * spherical K.
   */
  get covariances(): Float64Array {
    return covariancesAsArray(this.params());
  }

  /** The current parameters (packed covariances), for model files and warm starts. */
  get parameters(): GmmParameters {
    return this.params();
  }

  /** Most likely component of each sample. */
  async predict(x: MatrixInput): Promise<Int32Array> {
    return (await this.evaluate(x, { responsibilities: false, labels: true })).labels!;
  }

  /** Responsibilities p(k | x_n), N x K. */
  async predictProba(x: MatrixInput): Promise<Matrix64> {
    const result = await this.evaluate(x, { responsibilities: true });
    return {
      data: result.responsibilities!,
      rows: result.logLikelihood.length,
      cols: this.params().nComponents,
    };
  }

  /** log p(x_n) under the model, per sample. */
  async scoreSamples(x: MatrixInput): Promise<Float64Array> {
    return (await this.evaluate(x, { responsibilities: false })).logLikelihood;
  }

  /** Mean log-likelihood per sample. */
  async score(x: MatrixInput): Promise<number> {
    const ll = await this.scoreSamples(x);
    let s = 0;
    for (const v of ll) s += v;
    return s / ll.length;
  }

  /** Bayesian information criterion on X (lower is better). */
  async bic(x: MatrixInput): Promise<number> {
    return (await this.informationCriteria(x)).bic;
  }

  /** Akaike information criterion on X (lower is better). */
  async aic(x: MatrixInput): Promise<number> {
    return (await this.informationCriteria(x)).aic;
  }

  /** BIC and AIC on X from one pass over the data. */
  async informationCriteria(x: MatrixInput): Promise<{ bic: number; aic: number }> {
    const m = toMatrix(x);
    const deviance = -2 * (await this.score(m)) * m.rows;
    const p = this.freeParameters();
    return { bic: deviance + p * Math.log(m.rows), aic: deviance + 2 * p };
  }

  /** Number of free parameters of the model. */
  freeParameters(): number {
    const p = this.params();
    return freeParameterCount(p.covarianceType, p.nComponents, p.nFeatures);
  }

  /** Draws n samples from the fitted mixture (seeded), with the component of each. */
  sample(n: number): { x: Matrix64; labels: Int32Array } {
    if (!Number.isInteger(n) || n < 1) throw usageError(`sample(n) needs an integer n >= 1, got ${n}`);
    const p = this.params();
    const d = p.nFeatures;
    const chol = [];
    for (let k = 0; k < p.nComponents; k++) chol.push(choleskyPacked(componentCovariance(p, k), d)!);
    const rng = new Random(this.options.seed ^ 0x5bd1e995);
    const x = new Float64Array(n * d);
    const labels = new Int32Array(n);
    const z = new Float64Array(d);
    for (let s = 0; s < n; s++) {
      let u = rng.uniform();
      let k = 0;
      while (k < p.nComponents - 1 && u >= p.weights[k]) u -= p.weights[k++];
      labels[s] = k;
      for (let i = 0; i < d; i++) z[i] = rng.normal();
      for (let i = 0; i < d; i++) {
        let v = p.means[k * d + i];
        for (let j = 0; j <= i; j++) v += chol[k][packedIndex(i, j)] * z[j];
        x[s * d + i] = v;
      }
    }
    return { x: { data: x, rows: n, cols: d }, labels };
  }

  /** Takes another model's fitted parameters and fit record (not its backend). */
  adoptFit(other: GaussianMixture): void {
    this.fitted = other.params();
    this.runState = { ...other.runState };
  }

  /**
   * Frees GPU buffers and the device webgpu-em created. The parameters stay readable; a later
   * call that needs the backend (predict, fit, ...) acquires a new one: dispose again after it.
   */
  dispose(): void {
    this.releaseRun();
    this.backendHandle.dispose();
  }

  private releaseRun(): void {
    this.runData?.dispose();
    this.runData = null;
    this.run = null;
  }

  private params(): GmmParameters {
    if (!this.fitted) throw usageError('this GaussianMixture is not fitted yet; call fit(X) first');
    return this.fitted;
  }

  private checkSamples(m: Matrix): void {
    const k = this.options.nComponents;
    if (m.rows < k) {
      throw dataError(
        `X has ${m.rows} samples but nComponents = ${k}; need at least as many samples as components (lower K or add data)`,
      );
    }
  }

  private async initialParameters(m: Matrix, bound: BoundData): Promise<GmmParameters> {
    const { init, nComponents: k, regCovar, covarianceType: type } = this.options;
    const rng = new Random(this.rng.fork());
    if (init instanceof GaussianMixture) {
      const p = init.params();
      if (p.nComponents !== k || p.nFeatures !== m.cols || p.covarianceType !== type) {
        throw dataError(
          `the initial model has K = ${p.nComponents}, D = ${p.nFeatures}, '${p.covarianceType}' covariances but this fit has ` +
            `K = ${k}, D = ${m.cols}, '${type}'; use a matching model`,
        );
      }
      return p;
    }
    if (typeof init === 'object') {
      const read = readInitialModel(init, k, m.cols, type);
      return 'params' in read ? read.params : parametersFromCentres(m, read.centres, regCovar, type);
    }
    switch (init) {
      case 'kmeans++':
        return parametersFromCentres(m, await kmeansPlusPlus(bound, m, k, rng), regCovar, type);
      case 'kmeans': {
        // scikit-learn's default: responsibilities from a k-means run, on the data already bound.
        const { KMeans } = await import('./kmeans.js');
        // fitBound runs on `bound`: this KMeans never creates a backend of its own.
        const km = new KMeans({ nClusters: k, seed: rng.fork() >>> 1 });
        await km.fitBound(bound, m);
        return parametersFromCentres(m, km.clusterCenters.data, regCovar, type);
      }
      case 'random-from-data':
        return parametersFromCentres(m, randomFromDataCentres(m, k, rng), regCovar, type);
      case 'random':
        return parametersFromRandomResponsibilities(m, k, rng, regCovar, type);
    }
  }

  private async evaluate(x: MatrixInput, options: EStepOptions) {
    const p = this.params();
    const m = toMatrix(x);
    if (m.cols !== p.nFeatures) {
      throw dataError(
        `X has ${m.cols} features but the model was fitted with ${p.nFeatures}; pass data with ${p.nFeatures} columns`,
      );
    }
    const bound = await this.backendHandle.bind(m, p.covarianceType);
    try {
      return await bound.eStep(toComponentParameters(p), options);
    } finally {
      bound.dispose();
    }
  }
}

function resolveOptions(o: GaussianMixtureOptions): Resolved {
  if (!o || typeof o !== 'object')
    throw usageError('GaussianMixture needs an options object: { nComponents }');
  const r: Resolved = {
    nComponents: o.nComponents,
    covarianceType: o.covarianceType ?? 'full',
    warmStart: o.warmStart ?? false,
    tol: o.tol ?? 1e-3,
    maxIter: o.maxIter ?? 100,
    regCovar: o.regCovar ?? 1e-6,
    nInit: o.nInit ?? 1,
    init: o.init ?? 'kmeans++',
    seed: o.seed ?? 0,
    backend: o.backend ?? 'auto',
    device: o.device,
    adapter: o.adapter,
  };
  if (!Number.isInteger(r.nComponents) || r.nComponents < 1) {
    throw usageError(`nComponents must be an integer >= 1, got ${r.nComponents}`);
  }
  if (!COVARIANCE_TYPES.includes(r.covarianceType)) {
    throw usageError(
      `covarianceType must be one of ${COVARIANCE_TYPES.join(', ')}; got '${String(r.covarianceType)}'`,
    );
  }
  if (!(r.regCovar >= 0) || !Number.isFinite(r.regCovar))
    throw usageError(`regCovar must be a finite number >= 0, got ${r.regCovar}`);
  checkLoopOptions(r);
  if (typeof r.init === 'string' && !['kmeans++', 'kmeans', 'random', 'random-from-data'].includes(r.init)) {
    throw usageError(
      `init must be 'kmeans++', 'kmeans', 'random', 'random-from-data' or a model, got '${r.init}'`,
    );
  }
  return r;
}
