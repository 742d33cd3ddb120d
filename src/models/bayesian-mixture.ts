import type { BoundData, ComponentParameters } from '../backends/backend.js';
import { checkOptionKeys, optionKeys } from '../core/names.js';
import { Random } from '../core/random.js';
import { toMatrix, type Matrix, type MatrixInput } from '../data/matrix.js';
import { sampleWeights, type SampleWeightInput } from '../data/weights.js';
import { usageError } from '../errors.js';
import {
  covariancePriorArray,
  resolveBayesianOptions,
  resolvePriors,
  type BayesianGaussianMixtureOptions,
  type ResolvedBayesianOptions,
} from './bayesian-mixture-options.js';
import { WEIGHT_OPTIONS, type WeightOptions } from './gaussian-mixture-options.js';
import type { GmmParameters } from './gmm-parameters.js';
import { initialSums } from './mixture-start.js';
import { MixtureModel, type MixtureFit } from './mixture-model.js';
import { bayesianFromJson, bayesianToJson, loadingFrom } from './model-json.js';
import { readOnlyArray } from './results.js';
import { variationalRun, type VariationalIterationRecord, type VariationalRun } from './variational-run.js';
import {
  posteriorMixture,
  variationalComponentParameters,
  variationalMStep,
  type VariationalPosterior,
  type VariationalPriors,
} from './variational.js';

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

/** What a fit keeps: the mixture's, and the priors resolved from its X. */
type BayesianFit = MixtureFit<VariationalPosterior, VariationalIterationRecord> & {
  priors: VariationalPriors | null;
};

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
export class BayesianGaussianMixture extends MixtureModel<
  VariationalIterationRecord,
  VariationalPosterior,
  VariationalRun
> {
  readonly options: Readonly<ResolvedBayesianOptions>;
  private fittedPriors: VariationalPriors | null = null;
  /** The priors of the run being started, resolved from its X before the samples are bound. */
  private startPriors: VariationalPriors | null = null;

  constructor(options: BayesianGaussianMixtureOptions) {
    const resolved = resolveBayesianOptions(options);
    super(resolved.backend, resolved, 'BayesianGaussianMixture', 'BayesianGaussianMixture', resolved);
    this.options = resolved;
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
    return bayesianToJson(this.params(), this.priors, this.options.regCovar, this.featureNames);
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
    const from = this.options.warmStart && this.fitted ? this.fitted : undefined;
    await this.restartLoop(
      from ? 1 : this.options.nInit,
      options,
      () => this.start(matrix, weights, from, options.signal),
      async (best) => (options.labels === false ? null : this.labelsUnder(matrix, best.fitted!)),
    );
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

  protected override beforeBind(matrix: Matrix, weights: Float64Array | null): void {
    // scikit-learn checks the priors against every X it fits.
    this.startPriors = resolvePriors(this.options, matrix, weights);
  }

  protected async initialParameters(
    matrix: Matrix,
    data: BoundData,
    rng: Random,
    signal?: AbortSignal,
  ): Promise<VariationalPosterior> {
    const o = this.options;
    const { stats, shifts } = await initialSums(o.init, o.nComponents, rng, matrix, data, o.covarianceType, {
      signal,
    });
    return variationalMStep(stats, shifts, this.startPriors!, o.regCovar, o.covarianceType);
  }

  protected newRun(data: BoundData, initial: VariationalPosterior): VariationalRun {
    const run = variationalRun(data, initial, this.startPriors!, this.options);
    this.fittedPriors = this.startPriors;
    return run;
  }

  protected componentParameters(p: VariationalPosterior): ComponentParameters {
    return variationalComponentParameters(p);
  }

  protected mixtureOf(p: VariationalPosterior): GmmParameters {
    return posteriorMixture(p);
  }

  protected override saveFit(): BayesianFit {
    return { ...super.saveFit(), priors: this.fittedPriors };
  }

  protected override restoreFit(saved: BayesianFit): void {
    super.restoreFit(saved);
    this.fittedPriors = saved.priors;
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
}
