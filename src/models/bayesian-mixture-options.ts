import type { GpuOptions } from '../backends/select.js';
import { covariancePriorFromArray, family, priorDims, priorLength } from '../core/families.js';
import {
  BACKEND_CHOICES,
  checkChoice,
  checkOptionKeys,
  COVARIANCE_TYPES,
  GMM_INIT_METHODS,
  optionKeys,
  type BackendChoice,
  type CovarianceType,
  type InitMethod,
} from '../core/names.js';
import type { Matrix } from '../data/matrix.js';
import { dataError, usageError } from '../errors.js';
import { columnMeans, dataCovariance } from './init-sums.js';
import type { InitialLabels } from './init-labels.js';
import { checkLoopOptions } from './options.js';
import {
  WEIGHT_CONCENTRATION_PRIOR_TYPES,
  type VariationalPriors,
  type WeightConcentrationPriorType,
} from './variational.js';

export type { WeightConcentrationPriorType };

/**
 * Options of {@link BayesianGaussianMixture}, named, defaulted and meant as in scikit-learn,
 * except `init` ('kmeans++' here, 'kmeans' there) and `seed` (0; scikit-learn's None draws anew).
 */
export interface BayesianGaussianMixtureOptions {
  /** The most components K (>= 1); the posterior leaves the ones the data does not need near weight 0. */
  nComponents: number;
  /** Covariance family: 'full' (default), 'tied', 'diag' or 'spherical'. */
  covarianceType?: CovarianceType;
  /** Stop when the lower bound (a total over the samples) changes by less than this; default 1e-3. */
  tol?: number;
  /** Added to every sample covariance's diagonal; default 1e-6. */
  regCovar?: number;
  /** Most iterations per initialisation; default 100. */
  maxIter?: number;
  /** Number of initialisations; the one with the best lower bound is kept. Default 1. */
  nInit?: number;
  /**
   * Initial responsibilities: 'kmeans++' (default: each sample's nearest k-means++ centre),
   * 'kmeans' (a k-means run's clusters, scikit-learn's default), 'random', 'random-from-data',
   * or `{ labels }` (one label in [0, K) per sample: the same start as scikit-learn given those
   * labels as one-hot responsibilities).
   */
  init?: InitMethod | InitialLabels;
  /** 'dirichlet_process' (default: stick breaking, components in order of use) or 'dirichlet_distribution'. */
  weightConcentrationPriorType?: WeightConcentrationPriorType;
  /** gamma_0 of the weights' prior (> 0); default 1 / nComponents. Small values switch components off. */
  weightConcentrationPrior?: number;
  /** beta_0, the precision of the means' prior (> 0); default 1. */
  meanPrecisionPrior?: number;
  /** m_0, the means' prior (D values); default the data's mean. */
  meanPrior?: ArrayLike<number>;
  /** nu_0, the Wishart prior's degrees of freedom (> D - 1); default D. */
  degreesOfFreedomPrior?: number;
  /**
   * The covariance prior W_0^-1: full and tied a D x D matrix (nested or flat), diag D values,
   * spherical a number (or a list of one); default the data's covariance (ddof 1), its diagonal
   * or its mean variance.
   */
  covariancePrior?: number | ArrayLike<number> | ArrayLike<ArrayLike<number>>;
  /** Each fit() after the first continues from the current posterior (nInit ignored). Default false. */
  warmStart?: boolean;
  /** Seed of every random choice. Default 0. */
  seed?: number;
  /** 'auto' (default) uses WebGPU when an adapter exists, else the float64 CPU backend. */
  backend?: BackendChoice;
  /** A GPUDevice to use instead of creating one (it is not destroyed by dispose()). */
  device?: GPUDevice;
  /** Node only: the Dawn adapter to use, by name. */
  adapter?: string;
}

/** Every option's name, held to the interface by the compiler; unknown keys are refused. */
export const BAYESIAN_MIXTURE_OPTIONS = optionKeys<BayesianGaussianMixtureOptions>({
  nComponents: true,
  covarianceType: true,
  tol: true,
  regCovar: true,
  maxIter: true,
  nInit: true,
  init: true,
  weightConcentrationPriorType: true,
  weightConcentrationPrior: true,
  meanPrecisionPrior: true,
  meanPrior: true,
  degreesOfFreedomPrior: true,
  covariancePrior: true,
  warmStart: true,
  seed: true,
  backend: true,
  device: true,
  adapter: true,
});

/** The options with defaults filled in; the priors that default to the data's stay undefined. */
export type ResolvedBayesianOptions = Required<
  Omit<
    BayesianGaussianMixtureOptions,
    | 'device'
    | 'adapter'
    | 'weightConcentrationPrior'
    | 'meanPrior'
    | 'degreesOfFreedomPrior'
    | 'covariancePrior'
  >
> &
  Pick<
    BayesianGaussianMixtureOptions,
    'weightConcentrationPrior' | 'meanPrior' | 'degreesOfFreedomPrior' | 'covariancePrior'
  > &
  GpuOptions;

const positiveOption = (name: string, v: number | undefined) => {
  if (v !== undefined && (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)))
    throw usageError(`${name} must be a finite number > 0, got ${String(v)}`);
};

/** Fills in the defaults and checks every option; each mistake is a usage error naming it. */
export function resolveBayesianOptions(o: BayesianGaussianMixtureOptions): ResolvedBayesianOptions {
  if (!o || typeof o !== 'object')
    throw usageError('BayesianGaussianMixture needs an options object: { nComponents }');
  checkOptionKeys('BayesianGaussianMixture', o, BAYESIAN_MIXTURE_OPTIONS);
  const r: ResolvedBayesianOptions = {
    nComponents: o.nComponents,
    covarianceType: o.covarianceType ?? COVARIANCE_TYPES[0],
    tol: o.tol ?? 1e-3,
    regCovar: o.regCovar ?? 1e-6,
    maxIter: o.maxIter ?? 100,
    nInit: o.nInit ?? 1,
    init: o.init ?? GMM_INIT_METHODS[0],
    weightConcentrationPriorType: o.weightConcentrationPriorType ?? WEIGHT_CONCENTRATION_PRIOR_TYPES[0],
    weightConcentrationPrior: o.weightConcentrationPrior,
    meanPrecisionPrior: o.meanPrecisionPrior ?? 1,
    meanPrior: o.meanPrior,
    degreesOfFreedomPrior: o.degreesOfFreedomPrior,
    covariancePrior: o.covariancePrior,
    warmStart: o.warmStart ?? false,
    seed: o.seed ?? 0,
    backend: o.backend ?? BACKEND_CHOICES[0],
    device: o.device,
    adapter: o.adapter,
  };
  if (!Number.isInteger(r.nComponents) || r.nComponents < 1) {
    throw usageError(`nComponents must be an integer >= 1, got ${r.nComponents}`);
  }
  checkChoice('covarianceType', r.covarianceType, COVARIANCE_TYPES);
  checkChoice(
    'weightConcentrationPriorType',
    r.weightConcentrationPriorType,
    WEIGHT_CONCENTRATION_PRIOR_TYPES,
  );
  if (!(r.regCovar >= 0) || !Number.isFinite(r.regCovar))
    throw usageError(`regCovar must be a finite number >= 0, got ${r.regCovar}`);
  positiveOption('weightConcentrationPrior', r.weightConcentrationPrior);
  positiveOption('meanPrecisionPrior', r.meanPrecisionPrior);
  positiveOption('degreesOfFreedomPrior', r.degreesOfFreedomPrior);
  checkLoopOptions(r);
  if (typeof r.init === 'string') checkChoice('init', r.init, GMM_INIT_METHODS, ' or { labels }');
  else if (!r.init || typeof r.init !== 'object' || !('labels' in r.init))
    throw usageError(`init must be one of ${GMM_INIT_METHODS.join(', ')} or { labels }`);
  return r;
}

/**
 * The priors for data X (scikit-learn's `_check_parameters`): the given ones checked against D,
 * the others from the data (weighted when the fit is): the mean, and the covariance with ddof 1
 * (the weight sum minus one as the divisor), its diagonal (diag) or mean variance (spherical).
 */
export function resolvePriors(
  o: ResolvedBayesianOptions,
  x: Matrix,
  weights: Float64Array | null,
): VariationalPriors {
  const d = x.cols;
  const type = o.covarianceType;
  const nu0 = o.degreesOfFreedomPrior ?? d;
  if (!(nu0 > d - 1)) {
    throw usageError(`degreesOfFreedomPrior must be greater than D - 1 = ${d - 1}, got ${nu0}`);
  }
  const meanPrior = o.meanPrior !== undefined ? vector('meanPrior', o.meanPrior, d) : columnMeans(x, weights);
  return {
    weightConcentrationPriorType: o.weightConcentrationPriorType,
    weightConcentrationPrior: o.weightConcentrationPrior ?? 1 / o.nComponents,
    meanPrecisionPrior: o.meanPrecisionPrior,
    meanPrior,
    degreesOfFreedomPrior: nu0,
    covariancePrior:
      o.covariancePrior !== undefined
        ? covariancePrior(type, o.covariancePrior, d)
        : dataPrior(type, x, weights),
  };
}

function vector(name: string, v: ArrayLike<number>, d: number): Float64Array {
  const out = Float64Array.from(v as ArrayLike<number>);
  if (out.length !== d) throw usageError(`${name} needs D = ${d} values, got ${out.length}`);
  out.forEach((e, i) => {
    if (!Number.isFinite(e)) throw usageError(`${name}[${i}] is ${e}; give finite numbers`);
  });
  return out;
}

/**
 * A user's covariance prior in the family's storage, checked (symmetric positive definite, or
 * variances > 0): a number where the family's prior is one value, else its scikit-learn shape,
 * nested or flat (a list of one value for a one-value prior too, as the model file holds it).
 */
function covariancePrior(
  type: CovarianceType,
  v: NonNullable<BayesianGaussianMixtureOptions['covariancePrior']>,
  d: number,
): Float64Array {
  const dims = priorDims(type);
  const length = priorLength(type, d);
  const what = `covariancePrior of '${type}' covariances`;
  if (typeof v === 'number' && dims.length > 0) throw usageError(`${what} must be an array, not a number`);
  const flat =
    typeof v === 'number'
      ? Float64Array.of(v)
      : Float64Array.from(
          Array.from(v as ArrayLike<unknown>).flatMap((e) =>
            typeof e === 'number' ? [e] : Array.from(e as ArrayLike<number>),
          ),
        );
  if (flat.length !== length) {
    const need = dims.length > 0 ? `${dims.join(' x ')} = ${length} values` : 'one number';
    throw usageError(`${what} needs ${need}, got ${flat.length}`);
  }
  flat.forEach((e, i) => {
    if (!Number.isFinite(e)) throw usageError(`covariancePrior[${i}] is ${e}; give finite numbers`);
  });
  let stored: Float64Array | null;
  try {
    stored = covariancePriorFromArray(type, flat, d);
  } catch (e) {
    throw usageError(`covariancePrior: ${(e as Error).message}`);
  }
  if (!stored) throw usageError('covariancePrior must be positive definite');
  return stored;
}

/** scikit-learn's default covariance prior from the data. */
function dataPrior(type: CovarianceType, x: Matrix, weights: Float64Array | null): Float64Array {
  const d = x.cols;
  let total = 0;
  for (let r = 0; r < x.rows; r++) total += weights ? weights[r] : 1;
  if (!(total > 1)) {
    throw dataError('the default covariancePrior needs more than one sample (ddof 1); give covariancePrior');
  }
  const cov = dataCovariance(x, 0, weights).map((v) => (v * total) / (total - 1));
  return family(type).fromCovariance(cov, d);
}

/** The covariance prior in scikit-learn's shape (full and tied D x D, diag D, spherical one value). */
export function covariancePriorArray(type: CovarianceType, stored: Float64Array, d: number): Float64Array {
  return family(type).toArray(stored, 1, d);
}
