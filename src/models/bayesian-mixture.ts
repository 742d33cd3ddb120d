import type { EStepOptions, ViewLabels } from '../backends/backend.js';
import { checkOptionKeys, optionKeys } from '../core/names.js';
import { Random } from '../core/random.js';
import { toMatrix, type Matrix, type MatrixInput } from '../data/matrix.js';
import { sampleWeights, weightTotal } from '../data/weights.js';
import { dataError, usageError } from '../errors.js';
import {
  covariancePriorArray,
  resolveBayesianOptions,
  resolvePriors,
  type BayesianGaussianMixtureOptions,
  type ResolvedBayesianOptions,
} from './bayesian-mixture-options.js';
import { WEIGHT_OPTIONS, type WeightOptions } from './gaussian-mixture-options.js';
import { checkSampleSize, covariancesAsArray, sampleMixtureChunks } from './gmm-parameters.js';
import { checkMixtureSamples, initialSums } from './mixture-start.js';
import { bayesianFromJson, bayesianToJson, loadingFrom } from './model-json.js';
import { disposedDuringFit, IterativeModel } from './model-base.js';
import { frozenRecords, Matrix64, plainArray, readOnlyArray } from './results.js';
import { precisionsOf } from './precisions.js';
import { VariationalRun, type VariationalIterationRecord } from './variational-run.js';
import {
  posteriorMixture,
  variationalComponentParameters,
  variationalMStep,
  type VariationalPosterior,
  type VariationalPriors,
} from './variational.js';
import type { SampleWeightInput } from '../data/weights.js';

export type { BayesianGaussianMixtureOptions, VariationalIterationRecord, VariationalPosterior };

/** Options of {@link BayesianGaussianMixture.fit}. */
export interface BayesianFitOptions {
  /** Aborts the fit between passes of the backend. */
  signal?: AbortSignal;
  /** Called after every iteration (its `weights` show components switching off). */
  onIteration?: (record: VariationalIterationRecord & { initIndex: number }) => void;
  /** One weight per sample (finite, >= 0): an integer weight counts its sample that many times. */
  sampleWeight?: SampleWeightInput | null;
  /** Keep the label of every training sample (`labels`); default true. */
  labels?: boolean;
}

const BAYESIAN_FIT_OPTIONS = optionKeys<BayesianFitOptions>({
  signal: true,
  onIteration: true,
  sampleWeight: true,
  labels: true,
});

interface RunState {
  converged: boolean;
  nIter: number;
  lowerBound: number;
  history: readonly VariationalIterationRecord[];
}

/**
 * A Gaussian mixture fitted by variational inference, shaped like scikit-learn's
 * `BayesianGaussianMixture`: nComponents is an upper bound, and the weights' prior (a Dirichlet
 * process by default) leaves the components the data does not need with weights near 0. Each
 * iteration is one pass of the same E-step and statistics kernels as {@link GaussianMixture}
 * (WebGPU or the float64 CPU reference), the posterior's expectations folded into their
 * per-component constants; the M-step and the lower bound run in float64 on the host.
 *
 * ```ts
 * const bgmm = new BayesianGaussianMixture({ nComponents: 10 });
 * await bgmm.fit(X);
 * bgmm.weights; // most near 0
 * bgmm.dispose();
 * ```
 */
export class BayesianGaussianMixture extends IterativeModel<VariationalIterationRecord> {
  readonly options: Readonly<ResolvedBayesianOptions>;
  private fitted: VariationalPosterior | null = null;
  private fittedPriors: VariationalPriors | null = null;
  private run: VariationalRun | null = null;
  private runState: RunState = { converged: false, nIter: 0, lowerBound: -Infinity, history: [] };
  private rng: Random;

  constructor(options: BayesianGaussianMixtureOptions) {
    const resolved = resolveBayesianOptions(options);
    super(
      resolved.backend,
      resolved,
      'BayesianGaussianMixture',
      resolved.covarianceType,
      resolved.nComponents,
    );
    this.options = resolved;
    this.rng = new Random(this.options.seed);
  }

  /**
   * A model saved by {@link toJSON} (`webgpu-em/bgmm@1`, its object or text), ready to predict,
   * score and sample without a fit. `options` as for the constructor, without what the file holds.
   */
  static fromJSON(
    json: unknown,
    options: Omit<
      BayesianGaussianMixtureOptions,
      'nComponents' | 'covarianceType' | 'weightConcentrationPriorType' | 'init'
    > = {},
    source = 'BayesianGaussianMixture.fromJSON',
  ): BayesianGaussianMixture {
    const { posterior, priors, regCovar, columns } = bayesianFromJson(json, source);
    return loadingFrom(source, () => {
      const model = new BayesianGaussianMixture({
        regCovar,
        ...options,
        nComponents: posterior.nComponents,
        covarianceType: posterior.covarianceType,
        weightConcentrationPriorType: posterior.weightConcentrationPriorType,
      });
      variationalComponentParameters(posterior); // rejects covariances that are not positive definite
      model.fitted = posterior;
      model.fittedPriors = priors;
      model.featureNames = columns;
      return model;
    });
  }

  /**
   * The model as a `webgpu-em/bgmm@1` object: the expected weights, the means and covariances in
   * scikit-learn's shapes (as a gmm@1 file), the posterior's parameters and the priors.
   */
  toJSON(): Record<string, unknown> {
    return bayesianToJson(this.posterior(), this.priors, this.options.regCovar, this.featureNames);
  }

  /** Fits the model to X and returns the component of each sample (a copy of the labels, yours). */
  async fitPredict(x: MatrixInput, options: Omit<BayesianFitOptions, 'labels'> = {}): Promise<Int32Array> {
    await this.fit(x, options);
    return this.labels.slice();
  }

  /** Fits the posterior to X; with nInit > 1 the initialisation with the best lower bound wins. */
  async fit(x: MatrixInput, options: BayesianFitOptions = {}): Promise<this> {
    return this.exclusive('fit()', () => this.fitNow(x, options));
  }

  private async fitNow(x: MatrixInput, options: BayesianFitOptions): Promise<this> {
    checkOptionKeys('fit()', options, BAYESIAN_FIT_OPTIONS);
    const matrix = toMatrix(x);
    const weights = sampleWeights(options.sampleWeight, matrix.rows);
    this.releaseOwnedSamples();
    this.rng = new Random(this.options.seed);
    const warm = this.options.warmStart && this.fitted !== null;
    const restarts = warm ? 1 : this.options.nInit;
    const previous = {
      fitted: this.fitted,
      priors: this.fittedPriors,
      runState: this.runState,
      labels: this.fitLabels,
    };
    let best: { posterior: VariationalPosterior; state: RunState } | null = null;
    try {
      for (let initIndex = 0; initIndex < restarts; initIndex++) {
        await this.start(matrix, weights, warm ? previous.fitted! : undefined, options.signal);
        while (!this.liveRun().done) {
          options.signal?.throwIfAborted();
          const record = await this.stepNow();
          options.onIteration?.({ ...record, initIndex });
        }
        if (!best || this.runState.lowerBound > best.state.lowerBound) {
          best = { posterior: this.fitted!, state: { ...this.runState } };
        }
      }
      const keep = best!.posterior;
      this.fitLabels =
        options.labels === false
          ? null
          : (
              await this.withSamples(matrix, (data) =>
                data.eStep(variationalComponentParameters(keep), { responsibilities: false, labels: true }),
              )
            ).labels!;
    } catch (error) {
      this.fitted = previous.fitted;
      this.fittedPriors = previous.priors;
      this.runState = previous.runState;
      this.fitLabels = previous.labels;
      throw error;
    } finally {
      this.run = null;
      this.releaseOwnedSamples();
    }
    this.fitted = best!.posterior;
    this.runState = best!.state;
    return this;
  }

  /**
   * Starts a stepwise fit: binds X, resolves the priors from it and draws the initial
   * responsibilities (the next draw of the seeded stream), or continues from `from`. Follow with
   * {@link step} until {@link done}.
   */
  async initialize(x: MatrixInput, from?: VariationalPosterior, options: WeightOptions = {}): Promise<void> {
    checkOptionKeys('initialize()', options, WEIGHT_OPTIONS);
    await this.exclusive('initialize()', () => {
      const m = toMatrix(x);
      return this.start(m, sampleWeights(options.sampleWeight, m.rows), from);
    });
  }

  private async start(
    matrix: Matrix,
    weights: Float64Array | null,
    from?: VariationalPosterior,
    signal?: AbortSignal,
  ): Promise<void> {
    const o = this.options;
    checkMixtureSamples(matrix, weights, o.nComponents, o.covarianceType);
    this.run = null;
    if (from && from.nFeatures !== matrix.cols) {
      throw dataError(
        `X has ${matrix.cols} features but the model has ${from.nFeatures}; warm starts need the same features`,
      );
    }
    // scikit-learn checks the priors against every X it fits.
    const priors = resolvePriors(o, matrix, weights);
    const data = await this.bindSamples(matrix, weights, signal);
    try {
      await data.prepare(o.nComponents, o.covarianceType);
      let initial = from;
      if (!initial) {
        const { stats, shifts } = await initialSums(
          o.init,
          o.nComponents,
          new Random(this.rng.fork()),
          matrix,
          data,
          o.covarianceType,
          { signal },
        );
        initial = variationalMStep(stats, shifts, priors, o.regCovar, o.covarianceType);
      }
      this.run = new VariationalRun(data, initial, priors, o);
      this.fitted = initial;
      this.fittedPriors = priors;
    } catch (error) {
      this.releaseOwnedSamples();
      throw error;
    }
    this.runState = { converged: false, nIter: 0, lowerBound: -Infinity, history: [] };
  }

  /** Runs one iteration of the fit started by {@link initialize}. */
  async step(): Promise<VariationalIterationRecord> {
    return this.exclusive('step()', () => this.stepNow());
  }

  private async stepNow(): Promise<VariationalIterationRecord> {
    const run = this.run;
    if (!run) throw usageError('step() needs initialize(X) first');
    if (run.done)
      throw usageError('the fit is done (converged or maxIter reached); call initialize(X) again');
    const record = await run.step();
    this.fitted = run.posterior;
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

  /**
   * scikit-learn's `lower_bound_`: the evidence lower bound (up to its constant, a total over the
   * samples) of the best initialisation's last iteration. Known after fit only.
   */
  get lowerBound(): number {
    const { lowerBound } = this.runState;
    if (!Number.isFinite(lowerBound)) {
      throw usageError(
        'lowerBound is known after fit(X) only (this BayesianGaussianMixture was loaded from a model or not fitted)',
      );
    }
    return lowerBound;
  }

  /** One record per iteration of the best initialisation (with the weights after each); frozen. */
  get history(): readonly VariationalIterationRecord[] {
    const state = this.runState;
    return this.results.get('history', state, () => frozenRecords(state.history));
  }

  /** The variational posterior (a copy's worth of arrays: do not modify them). */
  get parameters(): VariationalPosterior {
    return this.posterior();
  }

  /** The priors of the last fit (defaults resolved from its data). */
  get priors(): VariationalPriors {
    if (!this.fittedPriors) throw usageError('the priors are known after fit(X)');
    return this.fittedPriors;
  }

  /** The covariance prior in scikit-learn's shape (`covariance_prior_`; read-only). */
  get covariancePrior(): Float64Array {
    const priors = this.priors;
    return this.results.get('covariancePrior', priors, () =>
      readOnlyArray(
        covariancePriorArray(this.options.covarianceType, priors.covariancePrior, this.nFeatures),
      ),
    );
  }

  /** Number of features D seen by fit. */
  get nFeatures(): number {
    return this.posterior().nFeatures;
  }

  // The results below are read-only and made once per fit (or step): the same object on every access.

  /** The expected mixture weights, length K (scikit-learn's `weights_`). */
  get weights(): Float64Array {
    return this.shown('weights', (p) => readOnlyArray(posteriorMixture(p).weights));
  }

  /** The posterior means m_k, K x D (frozen, `data` read-only). */
  get means(): Matrix64 {
    return this.shown(
      'means',
      (p) => new Matrix64(Float64Array.from(p.means), p.nComponents, p.nFeatures, true),
    );
  }

  /** scikit-learn's `covariances_` (W_k^-1 / nu_k) in its shapes: full K x D x D, tied D x D, diag K x D, spherical K. */
  get covariances(): Float64Array {
    return this.shown('covariances', (p) => readOnlyArray(covariancesAsArray(posteriorMixture(p))));
  }

  /** Inverses of {@link covariances} (scikit-learn's `precisions_`). */
  get precisions(): Float64Array {
    return this.shown('precisions', (p) =>
      readOnlyArray(precisionsOf(p, plainArray(this.covariances), false)),
    );
  }

  /** Upper Cholesky factors of {@link precisions} (`precisions_cholesky_`). */
  get precisionsCholesky(): Float64Array {
    return this.shown('precisionsCholesky', (p) =>
      readOnlyArray(precisionsOf(p, plainArray(this.covariances), true)),
    );
  }

  /**
   * The weights' posterior (`weight_concentration_`): with the Dirichlet process prior the K first
   * Beta parameters then the K second ones (2K values), with the Dirichlet distribution K values.
   */
  get weightConcentration(): Float64Array {
    return this.shown('weightConcentration', (p) => readOnlyArray(Float64Array.from(p.weightConcentration)));
  }

  /** beta_k, the means' posterior precisions (`mean_precision_`), length K. */
  get meanPrecision(): Float64Array {
    return this.shown('meanPrecision', (p) => readOnlyArray(Float64Array.from(p.meanPrecision)));
  }

  /** nu_k, the Wishart posteriors' degrees of freedom (`degrees_of_freedom_`), length K (tied: repeated). */
  get degreesOfFreedom(): Float64Array {
    return this.shown('degreesOfFreedom', (p) => readOnlyArray(Float64Array.from(p.degreesOfFreedom)));
  }

  /** The result `key` of the current posterior, made on its first access. */
  private shown<T>(key: string, make: (p: VariationalPosterior) => T): T {
    const p = this.posterior();
    return this.results.get(key, p, () => make(p));
  }

  /** Most likely component of each sample. */
  async predict(x: MatrixInput): Promise<Int32Array> {
    return (await this.evaluate(x, { responsibilities: false, labels: true })).labels!;
  }

  /** Responsibilities under the posterior, N x K. */
  async predictProba(x: MatrixInput): Promise<Matrix64> {
    const r = await this.evaluate(x, { responsibilities: true });
    return new Matrix64(r.responsibilities!, r.logLikelihood.length, this.posterior().nComponents);
  }

  /**
   * Per sample, scikit-learn's `score_samples`: log sum_k exp(E[log pi_k] + E[log N(x | mu_k,
   * Lambda_k)]) under the posterior (not a predictive density).
   */
  async scoreSamples(x: MatrixInput): Promise<Float64Array> {
    return (await this.evaluate(x, { responsibilities: false })).logLikelihood;
  }

  /** Mean of {@link scoreSamples} (weighted by `options.sampleWeight` when given). */
  async score(x: MatrixInput, options: WeightOptions = {}): Promise<number> {
    checkOptionKeys('score options', options, WEIGHT_OPTIONS);
    const m = toMatrix(x);
    const weights = sampleWeights(options.sampleWeight, m.rows);
    const ll = await this.scoreSamples(m);
    let s = 0;
    for (let n = 0; n < ll.length; n++) {
      const w = weights ? weights[n] : 1;
      if (w !== 0) s += w * ll[n];
    }
    return s / weightTotal(weights, m.rows);
  }

  /** Draws n samples from the mixture of the expected weights, the means and `covariances` (scikit-learn's `sample`). */
  sample(n: number): { x: Matrix64; labels: Int32Array } {
    return this.sampleChunks(n, n).next().value as { x: Matrix64; labels: Int32Array };
  }

  /** The rows of `sample(n)`, drawn at most `chunkRows` at a time: for n too large to hold at once. */
  *sampleChunks(n: number, chunkRows: number): Generator<{ x: Matrix64; labels: Int32Array }> {
    checkSampleSize(n, chunkRows);
    const p = posteriorMixture(this.posterior());
    for (const { x, labels } of sampleMixtureChunks(
      p,
      n,
      new Random(this.options.seed ^ 0x5bd1e995),
      chunkRows,
    ))
      yield { x: new Matrix64(x, labels.length, p.nFeatures), labels };
  }

  private liveRun(): VariationalRun {
    if (!this.run) throw disposedDuringFit();
    return this.run;
  }

  protected viewLabels(): ViewLabels | null {
    if (this.run) return { kind: 'mixture', params: this.run.componentParams };
    return this.fitted ? { kind: 'mixture', params: variationalComponentParameters(this.fitted) } : null;
  }

  protected override onSamplesReleased(): void {
    this.run = null;
  }

  private posterior(): VariationalPosterior {
    if (!this.fitted) throw usageError('this BayesianGaussianMixture is not fitted yet; call fit(X) first');
    return this.fitted;
  }

  private async evaluate(x: MatrixInput, options: EStepOptions) {
    const p = this.posterior();
    const m = toMatrix(x);
    if (m.cols !== p.nFeatures) {
      throw dataError(
        `X has ${m.cols} features but the model was fitted with ${p.nFeatures}; pass data with ${p.nFeatures} columns`,
      );
    }
    return this.withSamples(m, (data) => data.eStep(variationalComponentParameters(p), options));
  }
}
