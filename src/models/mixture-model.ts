import type {
  BoundData,
  ComponentParameters,
  EStepOptions,
  EStepResult,
  ViewLabels,
} from '../backends/backend.js';
import type { GpuOptions } from '../backends/select.js';
import { checkOptionKeys, type BackendChoice, type CovarianceType } from '../core/names.js';
import { Random } from '../core/random.js';
import { toMatrix, type Matrix } from '../data/matrix.js';
import { isGpuRows, isRowSource, type DataInput } from '../data/row-source.js';
import { sampleWeights, weightTotal, WEIGHT_OPTIONS, type WeightOptions } from '../data/weights.js';
import { dataError, usageError } from '../errors.js';
import {
  checkSampleSize,
  covariancesAsArray,
  sampleMixtureChunks,
  type GmmParameters,
} from './gmm-parameters.js';
import { checkMixtureSamples } from './mixture-start.js';
import { IterativeModel } from './model-base.js';
import { precisionsOf } from './precisions.js';
import { frozenRecords, Matrix64, plainArray, readOnlyArray } from './results.js';
import { concatEStep } from './streamed-data.js';

/** What a mixture's fit records beside its parameters. */
interface RunState<Iteration> {
  converged: boolean;
  nIter: number;
  lowerBound: number;
  history: readonly Iteration[];
}

/** What a mixture keeps of a fit: restored when a fit fails, compared between restarts. */
export interface MixtureFit<P, Iteration> {
  fitted: P | null;
  runState: RunState<Iteration>;
  labels: Int32Array | null;
}

/** A mixture's run: one E-step and update per step, from parameters of type P. */
interface RunOf<P, Iteration> {
  readonly done: boolean;
  step(): Promise<Iteration>;
  readonly params: P;
  readonly componentParams: ComponentParameters;
  readonly converged: boolean;
  readonly nIter: number;
  readonly lowerBound: number;
  readonly history: readonly Iteration[];
}

const NO_RUN = { converged: false, nIter: 0, lowerBound: -Infinity, history: [] } as const;

/** An E-step for the labels alone: the backend takes the argmax and reads back 4 bytes a sample. */
const LABELS_ONLY: EStepOptions = { responsibilities: false, labels: true, logLikelihood: false };

/**
 * What the Gaussian mixtures share (their parameters P, a maximum-likelihood set or a
 * posterior): the start, the fit record, the results in scikit-learn's shapes, the E-step
 * evaluations (`predict`, `predictProba`, `scoreSamples`, `score`) and `sample`. A mixture
 * supplies its initial parameters, its run, its E-step constants and its mixture of Gaussians.
 */
export abstract class MixtureModel<
  Iteration extends object,
  P extends Pick<GmmParameters, 'covarianceType' | 'nComponents' | 'nFeatures' | 'means'>,
  Run extends RunOf<P, Iteration>,
> extends IterativeModel<Iteration, Run, MixtureFit<P, Iteration>> {
  /** The parameters shown: the fit's, a stepwise run's latest, or loaded ones. */
  protected fitted: P | null = null;
  /** The fit record of the best restart (or of the stepwise run). */
  protected runState: RunState<Iteration> = NO_RUN;

  constructor(
    backend: BackendChoice,
    gpu: GpuOptions,
    noun: string,
    /** The class's name, for messages. */
    private readonly kind: string,
    private readonly shape: { covarianceType: CovarianceType; nComponents: number; seed: number },
  ) {
    super(backend, gpu, noun, shape.covarianceType, shape.nComponents, shape.seed);
  }

  /** The initial parameters of a run, drawn with `rng` from the samples bound as `data`. */
  protected abstract initialParameters(
    matrix: Matrix,
    data: BoundData,
    rng: Random,
    signal?: AbortSignal,
  ): Promise<P>;

  /** The run from `initial` on `data`. */
  protected abstract newRun(data: BoundData, initial: P): Run;

  /** The per-component constants of the E-step under `p`. */
  protected abstract componentParameters(p: P): ComponentParameters;

  /** The mixture of Gaussians that `p` stands for (its weights, covariances and samples). */
  protected abstract mixtureOf(p: P): GmmParameters;

  /** Checks of X that come before the samples are bound (a model's priors, say). */
  protected beforeBind(_matrix: Matrix, _weights: Float64Array | null): void {}

  /**
   * Binds X (once: the samples stay bound until another X, the end of a fit or dispose) and
   * begins a run from `from` or from the next initialisation of the seeded stream.
   */
  protected async start(
    matrix: Matrix,
    weights: Float64Array | null,
    from?: P,
    signal?: AbortSignal,
    /** Streamed data the passes run on (initialisation runs on `matrix`, its sample). */
    streamed?: BoundData,
  ): Promise<void> {
    const { nComponents, covarianceType } = this.shape;
    checkMixtureSamples(matrix, weights, nComponents, covarianceType);
    this.run = null;
    if (from && from.nFeatures !== matrix.cols) {
      throw dataError(
        `X has ${matrix.cols} features but the model has ${from.nFeatures}; warm starts need the same features`,
      );
    }
    this.beforeBind(matrix, weights);
    const data = await this.bindSamples(matrix, weights, signal);
    try {
      // Every limit of the backend for this K is checked here, before any seeding work.
      await data.prepare(nComponents, covarianceType);
      const initial = from ?? (await this.initialParameters(matrix, data, this.nextInitStream(), signal));
      this.run = this.newRun(streamed ?? data, initial);
      this.fitted = initial;
    } catch (error) {
      this.releaseOwnedSamples();
      throw error;
    }
    this.runState = NO_RUN;
  }

  protected took(run: Run): void {
    this.fitted = run.params;
    this.runState = {
      converged: run.converged,
      nIter: run.nIter,
      lowerBound: run.lowerBound,
      history: run.history,
    };
  }

  protected saveFit(): MixtureFit<P, Iteration> {
    return { fitted: this.fitted, runState: this.runState, labels: this.fitLabels };
  }

  protected restoreFit(saved: MixtureFit<P, Iteration>): void {
    this.fitted = saved.fitted;
    this.runState = saved.runState;
    this.fitLabels = saved.labels;
  }

  protected objective(saved: MixtureFit<P, Iteration>): number {
    return saved.runState.lowerBound;
  }

  /** The labels of the training samples under `p`, on the samples still bound (`fit_predict`). */
  protected async labelsUnder(matrix: Matrix, p: P): Promise<Int32Array> {
    const params = this.componentParameters(p);
    const r = await this.withSamples(matrix, (data) => data.eStep(params, LABELS_ONLY));
    return r.labels!;
  }

  protected viewLabels(): ViewLabels | null {
    if (this.run) return { kind: 'mixture', params: this.run.componentParams };
    return this.fitted ? { kind: 'mixture', params: this.componentParameters(this.fitted) } : null;
  }

  /** Whether the lower bound's change fell below tol in the best run. */
  get converged(): boolean {
    return this.runState.converged;
  }

  /** Iterations run by the best initialisation. */
  get nIter(): number {
    return this.runState.nIter;
  }

  /**
   * scikit-learn's `lower_bound_` of the best initialisation's last iteration: a
   * GaussianMixture's mean log-likelihood per sample, a BayesianGaussianMixture's evidence lower
   * bound (up to its constant, a total over the samples). Known after `fit` only: a model loaded
   * from a file or made from parameters has none (an error, never -Infinity).
   */
  get lowerBound(): number {
    const { lowerBound } = this.runState;
    if (!Number.isFinite(lowerBound)) {
      throw usageError(
        `lowerBound is known after fit(X) only (this ${this.kind} was loaded from a model or not fitted)${this.lowerBoundHint}`,
      );
    }
    return lowerBound;
  }

  /** What the message of an unknown lower bound suggests instead. */
  protected readonly lowerBoundHint: string = '';

  /** One record per iteration of the best initialisation (frozen, the same array until the next step or fit). */
  get history(): readonly Iteration[] {
    const state = this.runState;
    return this.results.get('history', state, () => frozenRecords(state.history));
  }

  /** Number of features D seen by fit. */
  get nFeatures(): number {
    return this.params().nFeatures;
  }

  /** The current parameters, for model files and warm starts (do not modify their arrays). */
  get parameters(): P {
    return this.params();
  }

  // The results below are read-only and made once per fit (or step): the same object on every access.

  /** Mixture weights (a Bayesian mixture's expected weights), length K. */
  get weights(): Float64Array {
    return this.shown('weights', (p) => readOnlyArray(Float64Array.from(this.mixtureOf(p).weights)));
  }

  /** Component means (a Bayesian mixture's posterior means), K x D (frozen, `data` read-only). */
  get means(): Matrix64 {
    return this.shown(
      'means',
      (p) => new Matrix64(Float64Array.from(p.means), p.nComponents, p.nFeatures, true),
    );
  }

  /**
   * Covariances in scikit-learn's shapes (`covariances_`), flat row-major: full K x D x D, tied
   * D x D, diag K x D, spherical K.
   */
  get covariances(): Float64Array {
    return this.shown('covariances', (p) => readOnlyArray(covariancesAsArray(this.mixtureOf(p))));
  }

  /** Inverses of the covariances, in their shapes (scikit-learn's `precisions_`). */
  get precisions(): Float64Array {
    return this.shown('precisions', (p) =>
      readOnlyArray(precisionsOf(p, plainArray(this.covariances), false)),
    );
  }

  /** Upper Cholesky factors U of the precisions (= U Uᵀ), in the covariances' shapes (`precisions_cholesky_`). */
  get precisionsCholesky(): Float64Array {
    return this.shown('precisionsCholesky', (p) =>
      readOnlyArray(precisionsOf(p, plainArray(this.covariances), true)),
    );
  }

  /** The result `key` of the current parameters, made on its first access. */
  protected shown<T>(key: string, make: (p: P) => T): T {
    const p = this.params();
    return this.results.get(key, p, () => make(p));
  }

  /** Most likely component of each sample. */
  async predict(x: DataInput): Promise<Int32Array> {
    return (await this.evaluate(x, LABELS_ONLY)).labels!;
  }

  /** Responsibilities p(k | x_n), N x K. */
  async predictProba(x: DataInput): Promise<Matrix64> {
    const k = this.params().nComponents;
    const result = await this.evaluate(x, { responsibilities: true, logLikelihood: false });
    return new Matrix64(result.responsibilities!, result.responsibilities!.length / k, k);
  }

  /**
   * log p(x_n) per sample; for a Bayesian mixture scikit-learn's `score_samples`,
   * log sum_k exp(E[log pi_k] + E[log N(x | mu_k, Lambda_k)]) (not a predictive density).
   */
  async scoreSamples(x: DataInput): Promise<Float64Array> {
    return (await this.evaluate(x, { responsibilities: false })).logLikelihood!;
  }

  /** Mean of {@link scoreSamples} (weighted by `options.sampleWeight` when given). */
  async score(x: DataInput, options: WeightOptions = {}): Promise<number> {
    return (await this.weightedLogLikelihood(x, options)).mean;
  }

  /** The weighted mean of {@link scoreSamples} and the weight total. */
  protected async weightedLogLikelihood(
    x: DataInput,
    options: WeightOptions,
  ): Promise<{ mean: number; total: number }> {
    checkOptionKeys('score options', options, WEIGHT_OPTIONS);
    if (isRowSource(x)) {
      // Each chunk with its own weights; the sums add up in float64.
      const parts = await this.mapChunks(x, this.params().nComponents, async (c) =>
        this.weightedLogLikelihood(c.matrix, { sampleWeight: c.weights }),
      );
      const total = parts.reduce((t, p) => t + p.total, 0);
      return { mean: parts.reduce((t, p) => t + p.mean * p.total, 0) / total, total };
    }
    if (isGpuRows(x)) {
      if (options.sampleWeight != null) throw usageError('sampleWeight cannot be given with a GPUBuffer');
      const ll = await this.scoreSamples(x);
      return { mean: ll.reduce((a, v) => a + v, 0) / ll.length, total: ll.length };
    }
    const m = toMatrix(x);
    const weights = sampleWeights(options.sampleWeight, m.rows);
    const ll = await this.scoreSamples(m);
    let s = 0;
    for (let n = 0; n < ll.length; n++) {
      const w = weights ? weights[n] : 1;
      if (w !== 0) s += w * ll[n];
    }
    const total = weightTotal(weights, m.rows);
    return { mean: s / total, total };
  }

  /** Draws n samples from the fitted mixture (seeded), with the component of each. */
  sample(n: number): { x: Matrix64; labels: Int32Array } {
    return this.sampleChunks(n, n).next().value as { x: Matrix64; labels: Int32Array };
  }

  /** The rows of `sample(n)`, drawn at most `chunkRows` at a time: for n too large to hold at once. */
  *sampleChunks(n: number, chunkRows: number): Generator<{ x: Matrix64; labels: Int32Array }> {
    checkSampleSize(n, chunkRows);
    const p = this.mixtureOf(this.params());
    const rng = new Random(this.shape.seed ^ 0x5bd1e995);
    for (const { x, labels } of sampleMixtureChunks(p, n, rng, chunkRows))
      yield { x: new Matrix64(x, labels.length, p.nFeatures), labels };
  }

  /** The current parameters; an error before any fit. */
  protected params(): P {
    if (!this.fitted) throw usageError(`this ${this.kind} is not fitted yet; call fit(X) first`);
    return this.fitted;
  }

  private async evaluate(x: DataInput, options: EStepOptions): Promise<EStepResult> {
    const p = this.params();
    if (isRowSource(x)) {
      const parts = await this.mapChunks(x, p.nComponents, (c) => this.evaluate(c.matrix, options));
      return concatEStep(parts, options);
    }
    if (isGpuRows(x)) {
      this.checkFeatures(x.cols);
      return this.withGpuRows(x, (data) => data.eStep(this.componentParameters(p), options));
    }
    const m = toMatrix(x);
    this.checkFeatures(m.cols);
    return this.withSamples(m, (data) => data.eStep(this.componentParameters(p), options));
  }

  private checkFeatures(cols: number): void {
    const d = this.params().nFeatures;
    if (cols !== d) {
      throw dataError(
        `X has ${cols} features but the model was fitted with ${d}; pass data with ${d} columns`,
      );
    }
  }
}
