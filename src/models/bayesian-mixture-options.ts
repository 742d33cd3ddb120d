import { covariancePriorFromArray, family, priorDims, priorLength } from '../core/families.js';
import { GMM_INIT_METHODS, type CovarianceType } from '../core/names.js';
import {
  choice,
  integer,
  number,
  resolveSchema,
  value,
  type OptionsOf,
  type ResolvedOf,
} from '../core/option-schema.js';
import type { Matrix } from '../data/matrix.js';
import { dataError, usageError } from '../errors.js';
import { columnMeans, dataCovariance } from './init-sums.js';
import type { InitialLabels } from './init-labels.js';
import { MIXTURE_SCHEMA, mixtureInit, RUN_SCHEMA } from './options.js';
import {
  WEIGHT_CONCENTRATION_PRIOR_TYPES,
  type VariationalPriors,
  type WeightConcentrationPriorType,
} from './variational.js';

export type { WeightConcentrationPriorType };

/** A prior's value must be above 0. */
const positive = (help: string, sklearn: string, defaultText?: string) =>
  number({ above: 0, help, sklearn, defaultText });

/** Every option of {@link BayesianGaussianMixture}, declared once (see core/option-schema.ts). */
export const BAYESIAN_MIXTURE_SCHEMA = {
  /** The most components K (>= 1); the posterior leaves the ones the data does not need near weight 0. */
  nComponents: integer({
    required: true,
    min: 1,
    cli: { flags: ['-k', '--n-components'] },
    help: 'the most components; those the data does not need get weight near 0',
    sklearn: 'n_components',
  }),
  ...MIXTURE_SCHEMA,
  /**
   * Initial responsibilities: 'kmeans++' (default: each sample's nearest k-means++ centre),
   * 'kmeans' (a k-means run's clusters, scikit-learn's default), 'random', 'random-from-data',
   * or `{ labels }` (one label in [0, K) per sample: the same start as scikit-learn given those
   * labels as one-hot responsibilities).
   */
  init: {
    ...mixtureInit<InitialLabels>(' or { labels }'),
    /** What it takes besides a method: `{ labels }`. */
    check: (v: unknown) => {
      if (!v || typeof v !== 'object' || !('labels' in v))
        throw usageError(`init must be one of ${GMM_INIT_METHODS.join(', ')} or { labels }`);
    },
  },
  /** 'dirichlet_process' (stick breaking, components in order of use) or 'dirichlet_distribution'. */
  weightConcentrationPriorType: choice()(WEIGHT_CONCENTRATION_PRIOR_TYPES, {
    default: 'dirichlet_process',
    cli: { flags: ['--weight-concentration-prior-type'] },
    help: "the weights' prior",
    sklearn: 'weight_concentration_prior_type',
  }),
  /** gamma_0 of the weights' prior (> 0); default 1 / nComponents. Small values switch components off. */
  weightConcentrationPrior: {
    ...positive(
      "gamma_0 of the weights' prior (smaller: fewer components)",
      'weight_concentration_prior',
      '1/K',
    ),
    cli: { flags: ['--weight-concentration-prior'] },
  },
  /** beta_0, the precision of the means' prior (> 0). */
  meanPrecisionPrior: number({
    above: 0,
    default: 1,
    cli: { flags: ['--mean-precision-prior'] },
    help: "beta_0, the precision of the means' prior",
    sklearn: 'mean_precision_prior',
  }),
  /** m_0, the means' prior (D values); default the data's mean. */
  meanPrior: value<ArrayLike<number>>()({
    defaultText: "the data's mean",
    cli: { flags: ['--mean-prior'], list: true },
    help: 'm_0, D values A,B,...',
    sklearn: 'mean_prior',
  }),
  /** nu_0, the Wishart prior's degrees of freedom (> D - 1); default D. */
  degreesOfFreedomPrior: {
    ...positive('nu_0, greater than D - 1', 'degrees_of_freedom_prior', 'D'),
    cli: { flags: ['--degrees-of-freedom-prior'] },
  },
  /**
   * The covariance prior W_0^-1: full and tied a D x D matrix (nested or flat), diag D values,
   * spherical a number (or a list of one); default the data's covariance (ddof 1), its diagonal
   * or its mean variance.
   */
  covariancePrior: value<number | ArrayLike<number> | ArrayLike<ArrayLike<number>>>()({
    defaultText: "the data's covariance",
    cli: { flags: ['--covariance-prior'], list: true },
    help: 'W_0^-1: D x D values (full, tied), D (diag) or one (spherical)',
    sklearn: 'covariance_prior',
  }),
  ...RUN_SCHEMA,
} as const;

/**
 * Options of {@link BayesianGaussianMixture}, named, defaulted and meant as in scikit-learn,
 * except `init` ('kmeans++' here, 'kmeans' there) and `seed` (0; scikit-learn's None draws anew).
 * Each option's default and range: docs/options.md.
 */
// An interface (not a type alias) so that the API reference lists each option with its doc comment.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface BayesianGaussianMixtureOptions extends OptionsOf<typeof BAYESIAN_MIXTURE_SCHEMA> {}

/** The options with defaults filled in; the priors that default to the data's stay undefined. */
export type ResolvedBayesianOptions = ResolvedOf<typeof BAYESIAN_MIXTURE_SCHEMA>;

/** Fills in the defaults and checks every option; each mistake is a usage error naming it. */
export function resolveBayesianOptions(o: BayesianGaussianMixtureOptions): ResolvedBayesianOptions {
  return resolveSchema('BayesianGaussianMixture', BAYESIAN_MIXTURE_SCHEMA, o);
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
