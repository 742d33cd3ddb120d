import type { BoundData, ComponentParameters } from '../backends/backend.js';
import { checkOptionKeys, DEFAULT_COVARIANCE_TYPE } from '../core/names.js';
import { Random } from '../core/random.js';
import { toMatrix, type Matrix, type MatrixInput } from '../data/matrix.js';
import { isGpuRows, isRowSource, type DataInput } from '../data/row-source.js';
import { sampleWeights } from '../data/weights.js';
import { dataError, usageError } from '../errors.js';
import { emRun, type EmRun, type IterationRecord } from './em.js';
import {
  FIT_OPTIONS,
  resolveMixtureOptions,
  WEIGHT_OPTIONS,
  type WeightOptions,
  type FitOptions,
  type GaussianMixtureOptions,
  type ResolvedMixtureOptions,
} from './gaussian-mixture-options.js';
import { freeParameterCount, toComponentParameters, type GmmParameters } from './gmm-parameters.js';
import { readInitialModel, type InitialModel } from './init.js';
import { meansColumns } from './means-input.js';
import { initialParameters } from './mixture-start.js';
import { MixtureModel } from './mixture-model.js';
import { loadingFrom, mixtureFromJson, mixtureToJson } from './model-json.js';
import { plainArray } from './results.js';
import { STREAM_SEED } from './streamed-data.js';

export type {
  CovarianceType,
  FitOptions,
  GaussianMixtureOptions,
  InitMethod,
  WeightOptions,
} from './gaussian-mixture-options.js';

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
export class GaussianMixture extends MixtureModel<IterationRecord, GmmParameters, EmRun> {
  readonly options: Readonly<ResolvedMixtureOptions>;
  protected override readonly lowerBoundHint = '; use score(X)';

  constructor(options: GaussianMixtureOptions) {
    const resolved = resolveMixtureOptions(options);
    super(resolved.backend, resolved, 'model', 'GaussianMixture', resolved);
    this.options = resolved;
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
    const d = meansColumns(model.means, k);
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
    // A row source or a GPU buffer: initialisation on a seeded sample, EM passes over all of it.
    const k = this.options.nComponents;
    const stream =
      isRowSource(x) || isGpuRows(x)
        ? await this.openStream(x, k, this.options.seed ^ STREAM_SEED, options)
        : null;
    const matrix = stream ? stream.scan.sample : toMatrix(x as MatrixInput);
    const weights = stream ? stream.scan.sampleWeights : sampleWeights(options.sampleWeight, matrix.rows);
    const from = this.options.warmStart && this.fitted ? this.fitted : undefined;
    try {
      await this.restartLoop(
        from ? 1 : this.options.nInit,
        options,
        () => this.start(matrix, weights, from, options.signal, stream?.data),
        async (best) => (options.labels === false || stream ? null : this.labelsUnder(matrix, best.fitted!)),
      );
    } finally {
      stream?.data.dispose();
    }
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

  protected initialParameters(
    matrix: Matrix,
    data: BoundData,
    rng: Random,
    signal?: AbortSignal,
  ): Promise<GmmParameters> {
    return initialParameters(this.options, rng, matrix, data, signal);
  }

  protected newRun(data: BoundData, initial: GmmParameters): EmRun {
    return emRun(data, initial, this.options);
  }

  protected componentParameters(p: GmmParameters): ComponentParameters {
    return toComponentParameters(p);
  }

  protected mixtureOf(p: GmmParameters): GmmParameters {
    return p;
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

  /** Number of free parameters of the model. */
  freeParameters(): number {
    const p = this.params();
    return freeParameterCount(p.covarianceType, p.nComponents, p.nFeatures);
  }

  /** Takes another model's fitted parameters and fit record (not its backend). */
  adoptFit(other: GaussianMixture): void {
    this.fitted = other.params();
    this.runState = { ...other.runState };
    this.fitLabels = other.fitLabels;
  }
}
