import { family } from '../core/families.js';
import type { CovarianceType } from '../core/names.js';
import { digamma, logBeta, logGamma } from '../core/special.js';
import type { ComponentParameters, MomentSums } from '../core/statistics.js';
import { EMPTY_COMPONENT_FLOOR, mStep, type GmmParameters } from './gmm-parameters.js';

// The variational posterior of a Bayesian Gaussian mixture, in float64, with scikit-learn's
// BayesianGaussianMixture as the specification (`_estimate_weights`, `_estimate_means`,
// `_estimate_wishart_*`, `_estimate_log_prob`, `_compute_lower_bound`): the M-step from the
// same sums as EM's, the E-step as EM's with per-component constants, and the lower bound.

/** The weights' prior: a stick-breaking Dirichlet process or a finite Dirichlet distribution. */
export const WEIGHT_CONCENTRATION_PRIOR_TYPES = ['dirichlet_process', 'dirichlet_distribution'] as const;
/** The `weightConcentrationPriorType` option: `'dirichlet_process'` or `'dirichlet_distribution'`. */
export type WeightConcentrationPriorType = (typeof WEIGHT_CONCENTRATION_PRIOR_TYPES)[number];

/** The priors, resolved (defaults from the data filled in). */
export interface VariationalPriors {
  readonly weightConcentrationPriorType: WeightConcentrationPriorType;
  /** gamma_0 (Dirichlet process) or alpha_0 (Dirichlet distribution), > 0. */
  readonly weightConcentrationPrior: number;
  /** beta_0 > 0. */
  readonly meanPrecisionPrior: number;
  /** m_0, length D. */
  readonly meanPrior: Float64Array;
  /** nu_0 > D - 1. */
  readonly degreesOfFreedomPrior: number;
  /** W_0^-1 in the family's storage: full and tied one packed triangle, diag D values, spherical 1. */
  readonly covariancePrior: Float64Array;
}

/** The variational posterior: what a Bayesian mixture's model file records. */
export interface VariationalPosterior {
  readonly covarianceType: CovarianceType;
  readonly nComponents: number;
  readonly nFeatures: number;
  readonly weightConcentrationPriorType: WeightConcentrationPriorType;
  /** Dirichlet process: the K first (1 + N_k) then the K second Beta parameters; Dirichlet: K values. */
  readonly weightConcentration: Float64Array;
  /** beta_k, length K. */
  readonly meanPrecision: Float64Array;
  /** m_k, K x D. */
  readonly means: Float64Array;
  /** nu_k, length K (tied: one value, repeated). */
  readonly degreesOfFreedom: Float64Array;
  /** W_k^-1 / nu_k in the family's storage (scikit-learn's `covariances_`). */
  readonly covariances: Float64Array;
  /** Components whose sample covariance needed jitter beyond regCovar (0 if none). */
  readonly jittered?: number;
}

/**
 * The M-step (scikit-learn's `_m_step`, and `_initialize` from initial responsibilities): N_k,
 * the means x_k and covariances S_k (with regCovar) as EM's M-step gives them, then the
 * posterior of the weights, the means and the precisions.
 */
export function variationalMStep(
  stats: MomentSums,
  shifts: Float64Array,
  priors: VariationalPriors,
  regCovar: number,
  type: CovarianceType,
): VariationalPosterior {
  const { nComponents: K, nFeatures: D } = stats;
  const sample = mStep(stats, shifts, regCovar, type);
  const nk = Float64Array.from(stats.nk, (n) => n + EMPTY_COMPONENT_FLOOR);
  const beta0 = priors.meanPrecisionPrior;
  const m0 = priors.meanPrior;
  const meanPrecision = Float64Array.from(nk, (n) => beta0 + n);
  const means = new Float64Array(K * D);
  // x_k - m_0, K x D.
  const diff = new Float64Array(K * D);
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < D; i++) {
      const xk = sample.means[k * D + i];
      diff[k * D + i] = xk - m0[i];
      means[k * D + i] = (beta0 * m0[i] + nk[k] * xk) / meanPrecision[k];
    }
  }
  let nkSum = 0;
  for (const n of nk) nkSum += n;
  const f = family(type);
  // A shared covariance pools the counts: one nu for every component.
  const degreesOfFreedom = f.shared
    ? new Float64Array(K).fill(priors.degreesOfFreedomPrior + nkSum / K)
    : Float64Array.from(nk, (n) => priors.degreesOfFreedomPrior + n);
  const covariances = f.wishartCovariances({
    sk: sample.covariances,
    nk,
    diff,
    beta: meanPrecision,
    nu: degreesOfFreedom,
    beta0,
    prior: priors.covariancePrior,
    d: D,
  });
  return {
    covarianceType: type,
    nComponents: K,
    nFeatures: D,
    weightConcentrationPriorType: priors.weightConcentrationPriorType,
    weightConcentration: weightConcentration(nk, priors),
    meanPrecision,
    means,
    degreesOfFreedom,
    covariances,
    jittered: sample.jittered ?? 0,
  };
}

/** scikit-learn's `_estimate_weights`. */
function weightConcentration(nk: Float64Array, priors: VariationalPriors): Float64Array {
  const K = nk.length;
  const g0 = priors.weightConcentrationPrior;
  if (priors.weightConcentrationPriorType === 'dirichlet_distribution')
    return Float64Array.from(nk, (n) => g0 + n);
  const out = new Float64Array(2 * K);
  // Second parameters: gamma_0 plus the counts of the later components.
  let tail = 0;
  for (let k = K - 1; k >= 0; k--) {
    out[k] = 1 + nk[k];
    out[K + k] = g0 + tail;
    tail += nk[k];
  }
  return out;
}

/** E[log pi_k] under the posterior (scikit-learn's `_estimate_log_weights`). */
export function expectedLogWeights(post: VariationalPosterior): Float64Array {
  const K = post.nComponents;
  const a = post.weightConcentration;
  const out = new Float64Array(K);
  if (post.weightConcentrationPriorType === 'dirichlet_distribution') {
    let sum = 0;
    for (const v of a) sum += v;
    const psiSum = digamma(sum);
    for (let k = 0; k < K; k++) out[k] = digamma(a[k]) - psiSum;
    return out;
  }
  // Stick breaking: E[log v_k] + sum_{j<k} E[log (1 - v_j)].
  let before = 0;
  for (let k = 0; k < K; k++) {
    const psiSum = digamma(a[k] + a[K + k]);
    out[k] = digamma(a[k]) - psiSum + before;
    before += digamma(a[K + k]) - psiSum;
  }
  return out;
}

/** E[log det Lambda_k] - D log 2 - log det W_k: sum_i psi((nu_k - i) / 2). */
function digammaSum(nu: number, D: number): number {
  let s = 0;
  for (let i = 0; i < D; i++) s += digamma(0.5 * (nu - i));
  return s;
}

/**
 * What the E-step kernels take: EM's parameters with the variational expectations folded into
 * the per-component constant (scikit-learn's `_estimate_log_prob` + `_estimate_log_weights`).
 * The precision factors are those of `covariances` (= (nu_k W_k)^-1), so the Mahalanobis term is
 * nu_k (x - m_k)^T W_k (x - m_k); the constant adds E[log pi_k], -D/2 log nu_k (which turns
 * log det of nu_k W_k into that of W_k), and (D log 2 + sum_i psi((nu_k - i)/2) - D / beta_k) / 2.
 */
export function variationalComponentParameters(post: VariationalPosterior): ComponentParameters {
  const { nComponents: K, nFeatures: D, covarianceType: type } = post;
  const logDet = new Float64Array(K);
  const precisionCholesky = family(type).precisionFactors(post.covariances, K, D, logDet);
  const logWeights = expectedLogWeights(post);
  for (let k = 0; k < K; k++) {
    const nu = post.degreesOfFreedom[k];
    const logLambda = D * Math.LN2 + digammaSum(nu, D);
    logWeights[k] += -0.5 * D * Math.log(nu) + 0.5 * (logLambda - D / post.meanPrecision[k]);
  }
  return {
    covarianceType: type,
    nComponents: K,
    nFeatures: D,
    logWeights,
    means: post.means,
    precisionCholesky,
    logDetPrecisionCholesky: logDet,
  };
}

/**
 * scikit-learn's `_compute_lower_bound`: the evidence lower bound up to its constant, a total
 * over the samples (not a mean), from the posterior after an M-step and sum r log r of the
 * responsibilities that M-step used.
 */
export function variationalLowerBound(post: VariationalPosterior, respLogRespSum: number): number {
  const { nComponents: K, nFeatures: D, covarianceType: type } = post;
  const logDet = new Float64Array(K);
  family(type).precisionFactors(post.covariances, K, D, logDet);
  // -log B(W_k, nu_k) without its pi term (as scikit-learn's `_log_wishart_norm`), W_k from log det.
  const wishartNorm = (k: number) => {
    const nu = post.degreesOfFreedom[k];
    const logDetChol = logDet[k] - 0.5 * D * Math.log(nu);
    let g = 0;
    for (let i = 0; i < D; i++) g += logGamma(0.5 * (nu - i));
    return -(nu * logDetChol + nu * D * 0.5 * Math.LN2 + g);
  };
  let logWishart = 0;
  if (family(type).shared) logWishart = K * wishartNorm(0);
  else for (let k = 0; k < K; k++) logWishart += wishartNorm(k);
  const a = post.weightConcentration;
  let logNormWeight = 0;
  if (post.weightConcentrationPriorType === 'dirichlet_process') {
    for (let k = 0; k < K; k++) logNormWeight -= logBeta(a[k], a[K + k]);
  } else {
    let sum = 0;
    for (const v of a) {
      sum += v;
      logNormWeight -= logGamma(v);
    }
    logNormWeight += logGamma(sum);
  }
  let logBetaSum = 0;
  for (const b of post.meanPrecision) logBetaSum += Math.log(b);
  return -respLogRespSum - logWishart - logNormWeight - 0.5 * D * logBetaSum;
}

/** The expected mixture weights (scikit-learn's `weights_`), summing to 1. */
export function posteriorWeights(post: VariationalPosterior): Float64Array {
  const K = post.nComponents;
  const a = post.weightConcentration;
  const w = new Float64Array(K);
  if (post.weightConcentrationPriorType === 'dirichlet_distribution') {
    w.set(a);
  } else {
    // E[v_k] prod_{j<k} E[1 - v_j].
    let rest = 1;
    for (let k = 0; k < K; k++) {
      const sum = a[k] + a[K + k];
      w[k] = (a[k] / sum) * rest;
      rest *= a[K + k] / sum;
    }
  }
  let total = 0;
  for (const v of w) total += v;
  for (let k = 0; k < K; k++) w[k] /= total;
  return w;
}

/**
 * The posterior as a mixture's parameters: expected weights, the means m_k and scikit-learn's
 * `covariances_`, for sampling and for the shapes users read.
 */
export function posteriorMixture(post: VariationalPosterior): GmmParameters {
  return {
    covarianceType: post.covarianceType,
    nComponents: post.nComponents,
    nFeatures: post.nFeatures,
    weights: posteriorWeights(post),
    means: post.means,
    covariances: post.covariances,
  };
}
