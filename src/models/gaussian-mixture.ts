import type { BoundData, EStepOptions, EStepResult, ViewLabels } from '../backends/backend.js';
import { Random } from '../core/random.js';
import { toMatrix, type Matrix, type MatrixInput } from '../data/matrix.js';
import { isGpuRows, isRowSource, type DataInput } from '../data/row-source.js';
import { concatResults, STREAM_SEED } from './streamed-data.js';
import { dataError, usageError } from '../errors.js';
import { EmRun, type IterationRecord } from './em.js';
import {
  FIT_OPTIONS,
  resolveMixtureOptions,
  WEIGHT_OPTIONS,
  type WeightOptions,
  type FitOptions,
  type GaussianMixtureOptions,
  type ResolvedMixtureOptions,
} from './gaussian-mixture-options.js';
import {
  covariancesAsArray,
  freeParameterCount,
  checkSampleSize,
  sampleMixtureChunks,
  toComponentParameters,
  type GmmParameters,
} from './gmm-parameters.js';
import { readInitialModel, type InitialModel } from './init.js';
import { checkMixtureSamples, initialParameters } from './mixture-start.js';
import { loadingFrom, mixtureFromJson, mixtureToJson } from './model-json.js';
import { precisionsOf } from './precisions.js';
import { disposedDuringFit, IterativeModel } from './model-base.js';
import { frozenRecords, Matrix64, plainArray, readOnlyArray } from './results.js';

export type {
  CovarianceType,
  FitOptions,
  GaussianMixtureOptions,
  InitMethod,
  WeightOptions,
} from './gaussian-mixture-options.js';
import { checkOptionKeys, DEFAULT_COVARIANCE_TYPE } from '../core/names.js';
import { sampleWeights, weightTotal } from '../data/weights.js';

interface RunState {
  converged: boolean;
  nIter: number;
  lowerBound: number;
  history: readonly IterationRecord[];
}

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
export class GaussianMixture extends IterativeModel<IterationRecord> {
  readonly options: Readonly<ResolvedMixtureOptions>;
  private fitted: GmmParameters | null = null;
  private run: EmRun | null = null;
  private runState: RunState = { converged: false, nIter: 0, lowerBound: -Infinity, history: [] };
  private rng: Random;

  constructor(options: GaussianMixtureOptions) {
    const resolved = resolveMixtureOptions(options);
    super(resolved.backend, resolved, 'model', resolved.covarianceType, resolved.nComponents);
    this.options = resolved;
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
    const read = readInitialModel(model, k, d, options.covarianceType ?? DEFAULT_COVARIANCE_TYPE);
    if (!('params' in read))
      throw usageError('fromParameters needs weights and covariances as well as means');
    const gmm = new GaussianMixture({ ...options, nComponents: k, init: model });
    toComponentParameters(read.params); // rejects covariances that are not positive definite
    gmm.fitted = read.params;
    return gmm;
  }

  /**
   * A model saved by {@link toJSON} (its object or its JSON text; a result object with a `model`
   * field is read too), ready to predict, score and sample without a fit. A model in another
   * format (a k-means model, another version) is refused with a message naming both.
   * `options` as for {@link fromParameters}; `regCovar` defaults to the saved one.
   */
  static fromJSON(
    json: unknown,
    options: Omit<GaussianMixtureOptions, 'nComponents' | 'init' | 'covarianceType'> = {},
    source = 'GaussianMixture.fromJSON',
  ): GaussianMixture {
    const { model, defaults, columns } = mixtureFromJson(json, source);
    const gmm = loadingFrom(source, () => GaussianMixture.fromParameters(model, { ...defaults, ...options }));
    gmm.featureNames = columns;
    return gmm;
  }

  /**
   * The model as a `webgpu-em/gmm@1` object (what the command line saves): covariances in
   * scikit-learn's shapes, regCovar, and `columns` when {@link featureNames} is set.
   * `JSON.stringify(model)` calls it; {@link fromJSON} reads it back.
   */
  toJSON(): Record<string, unknown> {
    return mixtureToJson(
      this.params(),
      plainArray(this.covariances),
      this.options.regCovar,
      this.featureNames,
    );
  }

  /** Fits the model to X and returns the component of each sample (the labels of the fit, a copy of yours). */
  async fitPredict(x: MatrixInput, options: Omit<FitOptions, 'labels'> = {}): Promise<Int32Array> {
    await this.fit(x, options);
    return this.labels.slice();
  }

  /**
   * Fits the mixture to X ({ data, rows, cols } row-major, or number[][]). With nInit > 1 the
   * initialisation with the best lower bound wins. Resolves to this model.
   */
  async fit(x: DataInput, options: FitOptions = {}): Promise<this> {
    return this.exclusive('fit()', () => this.fitNow(x, options));
  }

  private async fitNow(x: DataInput, options: FitOptions): Promise<this> {
    checkOptionKeys('fit()', options, FIT_OPTIONS);
    // Samples left bound by initialize() were bound without this fit's signal: bind afresh.
    this.releaseOwnedSamples();
    // Every fit draws its initialisations from the seed afresh: refitting gives the same result.
    this.rng = new Random(this.options.seed);
    // A row source or a GPU buffer: initialisation on a seeded sample, EM passes over all of it.
    const k = this.options.nComponents;
    const stream =
      isRowSource(x) || isGpuRows(x)
        ? await this.openStream(x, k, this.options.seed ^ STREAM_SEED, options)
        : null;
    const matrix = stream ? stream.scan.sample : toMatrix(x as MatrixInput);
    const weights = stream ? stream.scan.sampleWeights : sampleWeights(options.sampleWeight, matrix.rows);
    let best: { params: GmmParameters; state: RunState } | null = null;
    const warm = this.options.warmStart && this.fitted !== null;
    const restarts = warm ? 1 : this.options.nInit;
    // A fit that fails or is aborted leaves the model as it was.
    const previous = { fitted: this.fitted, runState: this.runState, labels: this.fitLabels };
    try {
      for (let initIndex = 0; initIndex < restarts; initIndex++) {
        await this.start(matrix, weights, warm ? this.fitted! : undefined, options.signal, stream?.data);
        while (!this.liveRun().done) {
          options.signal?.throwIfAborted();
          const record = await this.stepNow();
          options.onIteration?.({ ...record, initIndex });
        }
        if (!best || this.runState.lowerBound > best.state.lowerBound) {
          best = { params: this.fitted!, state: { ...this.runState } };
        }
      }
      // The labels under the final parameters, on the samples still bound (scikit-learn's fit_predict).
      const keep = best!.params;
      this.fitLabels =
        options.labels === false || stream
          ? null
          : (
              await this.withSamples(matrix, (data) =>
                data.eStep(toComponentParameters(keep), { responsibilities: false, labels: true }),
              )
            ).labels!;
    } catch (error) {
      this.fitted = previous.fitted;
      this.runState = previous.runState;
      this.fitLabels = previous.labels;
      throw error;
    } finally {
      // The samples are bound once for every restart, and freed with the fit.
      this.run = null;
      stream?.data.dispose();
      this.releaseOwnedSamples();
    }
    this.fitted = best!.params;
    this.runState = best!.state;
    return this;
  }

  /**
   * Starts a stepwise fit: validates X, binds it to the backend (once: the samples stay bound
   * until another X, the end of a fit or dispose) and draws the initial parameters (the next
   * draw of the seeded stream, so repeated calls give the nInit restarts), or starts from
   * `from`. Follow with {@link step} until {@link done}. `options.sampleWeight` weighs the
   * samples as in {@link fit}.
   */
  async initialize(x: MatrixInput, from?: GmmParameters, options: WeightOptions = {}): Promise<void> {
    checkOptionKeys('initialize()', options, WEIGHT_OPTIONS);
    await this.exclusive('initialize()', () => {
      const m = toMatrix(x);
      return this.start(m, sampleWeights(options.sampleWeight, m.rows), from);
    });
  }

  private async start(
    matrix: Matrix,
    weights: Float64Array | null,
    from?: GmmParameters,
    signal?: AbortSignal,
    /** Streamed data the EM passes run on (initialisation runs on `matrix`, its sample). */
    streamed?: BoundData,
  ): Promise<void> {
    checkMixtureSamples(matrix, weights, this.options.nComponents, this.options.covarianceType);
    this.run = null;
    if (from && from.nFeatures !== matrix.cols) {
      throw dataError(
        `X has ${matrix.cols} features but the model has ${from.nFeatures}; warm starts need the same features`,
      );
    }
    const data = await this.bindSamples(matrix, weights, signal);
    try {
      // Every limit of the backend for this K is checked here, before any seeding work.
      await data.prepare(this.options.nComponents, this.options.covarianceType);
      const initial =
        from ?? (await initialParameters(this.options, new Random(this.rng.fork()), matrix, data, signal));
      this.run = new EmRun(streamed ?? data, initial, this.options);
      this.fitted = initial;
    } catch (error) {
      this.releaseOwnedSamples();
      throw error;
    }
    this.runState = { converged: false, nIter: 0, lowerBound: -Infinity, history: [] };
  }

  /** Runs one EM iteration of the fit started by {@link initialize}. */
  async step(): Promise<IterationRecord> {
    return this.exclusive('step()', () => this.stepNow());
  }

  private async stepNow(): Promise<IterationRecord> {
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

  protected viewLabels(): ViewLabels | null {
    if (this.run) return { kind: 'mixture', params: this.run.componentParams };
    return this.fitted ? { kind: 'mixture', params: toComponentParameters(this.fitted) } : null;
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
   * scikit-learn's `lower_bound_`: mean log-likelihood per sample at the last E-step. Known after
   * `fit` only: a model loaded from a file or made from parameters has none (an error, never
   * -Infinity).
   */
  get lowerBound(): number {
    const { lowerBound } = this.runState;
    if (!Number.isFinite(lowerBound)) {
      throw usageError(
        'lowerBound is known after fit(X) only (this GaussianMixture was loaded from a model or not fitted); use score(X)',
      );
    }
    return lowerBound;
  }

  /** One record per iteration of the best initialisation (frozen, the same array until the next step or fit). */
  get history(): readonly IterationRecord[] {
    const state = this.runState;
    return this.results.get('history', state, () => frozenRecords(state.history));
  }

  /** Number of features D seen by fit. */
  get nFeatures(): number {
    return this.params().nFeatures;
  }

  // The results below are read-only and made once per fit (or step): the same object on every access.

  /** Mixture weights, length K. */
  get weights(): Float64Array {
    return this.shown('weights', (p) => readOnlyArray(Float64Array.from(p.weights)));
  }

  /** Component means, K x D (frozen, `data` read-only). */
  get means(): Matrix64 {
    return this.shown(
      'means',
      (p) => new Matrix64(Float64Array.from(p.means), p.nComponents, p.nFeatures, true),
    );
  }

  /**
   * Covariances in scikit-learn's shapes, flat row-major: full K x D x D, tied D x D, diag K x D,
   * spherical K.
   */
  get covariances(): Float64Array {
    return this.shown('covariances', (p) => readOnlyArray(covariancesAsArray(p)));
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
  private shown<T>(key: string, make: (p: GmmParameters) => T): T {
    const p = this.params();
    return this.results.get(key, p, () => make(p));
  }

  /** The current parameters (packed covariances), for model files and warm starts. */
  get parameters(): GmmParameters {
    return this.params();
  }

  /** Most likely component of each sample. */
  async predict(x: DataInput): Promise<Int32Array> {
    return (await this.evaluate(x, { responsibilities: false, labels: true })).labels!;
  }

  /** Responsibilities p(k | x_n), N x K. */
  async predictProba(x: DataInput): Promise<Matrix64> {
    const result = await this.evaluate(x, { responsibilities: true });
    return new Matrix64(result.responsibilities!, result.logLikelihood.length, this.params().nComponents);
  }

  /** log p(x_n) under the model, per sample. */
  async scoreSamples(x: DataInput): Promise<Float64Array> {
    return (await this.evaluate(x, { responsibilities: false })).logLikelihood;
  }

  /** Mean log-likelihood per sample (weighted by `options.sampleWeight` when given). */
  async score(x: DataInput, options: WeightOptions = {}): Promise<number> {
    return (await this.weightedLogLikelihood(x, options)).mean;
  }

  /**
   * Bayesian information criterion on X (lower is better). With `options.sampleWeight` the
   * sample count n is the weight sum, as for the duplicated samples.
   */
  async bic(x: DataInput, options: WeightOptions = {}): Promise<number> {
    return (await this.informationCriteria(x, options)).bic;
  }

  /** Akaike information criterion on X (lower is better), weighted as {@link bic}. */
  async aic(x: DataInput, options: WeightOptions = {}): Promise<number> {
    return (await this.informationCriteria(x, options)).aic;
  }

  /**
   * BIC and AIC on X from one pass over the data: -2 sum_n w_n log p(x_n) + p log n (or 2p)
   * with n = sum_n w_n (N without weights): the criteria of the data with each sample repeated
   * w_n times.
   */
  async informationCriteria(
    x: DataInput,
    options: WeightOptions = {},
  ): Promise<{ bic: number; aic: number }> {
    const { mean, total } = await this.weightedLogLikelihood(x, options);
    const deviance = -2 * mean * total;
    const p = this.freeParameters();
    return { bic: deviance + p * Math.log(total), aic: deviance + 2 * p };
  }

  private async weightedLogLikelihood(
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

  /** Number of free parameters of the model. */
  freeParameters(): number {
    const p = this.params();
    return freeParameterCount(p.covarianceType, p.nComponents, p.nFeatures);
  }

  /** Draws n samples from the fitted mixture (seeded), with the component of each. */
  sample(n: number): { x: Matrix64; labels: Int32Array } {
    return this.sampleChunks(n, n).next().value as { x: Matrix64; labels: Int32Array };
  }

  /** The rows of `sample(n)`, drawn at most `chunkRows` at a time: for n too large to hold at once. */
  *sampleChunks(n: number, chunkRows: number): Generator<{ x: Matrix64; labels: Int32Array }> {
    checkSampleSize(n, chunkRows);
    const p = this.params();
    for (const { x, labels } of sampleMixtureChunks(
      p,
      n,
      new Random(this.options.seed ^ 0x5bd1e995),
      chunkRows,
    ))
      yield { x: new Matrix64(x, labels.length, p.nFeatures), labels };
  }

  /** Takes another model's fitted parameters and fit record (not its backend). */
  adoptFit(other: GaussianMixture): void {
    this.fitted = other.params();
    this.runState = { ...other.runState };
    this.fitLabels = other.fitLabels;
  }

  /** The running fit's EM run; gone when the model was disposed during the fit. */
  private liveRun(): EmRun {
    if (!this.run) throw disposedDuringFit();
    return this.run;
  }

  protected override onSamplesReleased(): void {
    this.run = null;
  }

  private params(): GmmParameters {
    if (!this.fitted) throw usageError('this GaussianMixture is not fitted yet; call fit(X) first');
    return this.fitted;
  }

  private async evaluate(x: DataInput, options: EStepOptions): Promise<EStepResult> {
    const p = this.params();
    if (isRowSource(x)) {
      const parts = await this.mapChunks(x, p.nComponents, (c) => this.evaluate(c.matrix, options));
      return {
        logLikelihood: concatResults(
          parts.map((r) => r.logLikelihood),
          Float64Array,
        ),
        responsibilities: options.responsibilities
          ? concatResults(
              parts.map((r) => r.responsibilities!),
              Float64Array,
            )
          : null,
        labels: options.labels
          ? concatResults(
              parts.map((r) => r.labels!),
              Int32Array,
            )
          : null,
      };
    }
    if (isGpuRows(x)) {
      this.checkFeatures(x.cols);
      return this.withGpuRows(x, (data) => data.eStep(toComponentParameters(p), options));
    }
    const m = toMatrix(x);
    this.checkFeatures(m.cols);
    return this.withSamples(m, (data) => data.eStep(toComponentParameters(p), options));
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
