import type { ComponentParameters, SufficientStatistics } from '../backends/backend.js';
import { dataError, WebGpuEmError } from '../errors.js';
import { choleskyPacked, invertLowerPacked, packedIndex, packedSize, unpackSymmetric } from './linalg.js';

/** Covariance families, as in scikit-learn. */
export type CovarianceType = 'full' | 'tied' | 'diag' | 'spherical';

export const COVARIANCE_TYPES: readonly CovarianceType[] = ['full', 'tied', 'diag', 'spherical'];

/** Parameters of a Gaussian mixture, float64. */
export interface GmmParameters {
  readonly covarianceType: CovarianceType;
  readonly nComponents: number;
  readonly nFeatures: number;
  /** w_k, length K, summing to 1. */
  readonly weights: Float64Array;
  /** mu_k, K x D. */
  readonly means: Float64Array;
  /**
   * full: K packed lower triangles (K x D(D+1)/2); tied: one packed triangle; diag: K x D
   * variances; spherical: K variances.
   */
  readonly covariances: Float64Array;
  /** Components whose covariance needed diagonal jitter beyond regCovar in the M-step (0 if none). */
  readonly jittered?: number;
}

/** True for the families whose precision is diagonal (no D x D work per sample and component). */
export const isDiagonal = (type: CovarianceType): boolean => type === 'diag' || type === 'spherical';

/** Length of the `covariances` array of a family. */
export function covarianceLength(type: CovarianceType, k: number, d: number): number {
  switch (type) {
    case 'full':
      return k * packedSize(d);
    case 'tied':
      return packedSize(d);
    case 'diag':
      return k * d;
    case 'spherical':
      return k;
  }
}

/**
 * Diagonal jitter tried, relative to a component's second-moment scale, when a covariance is not
 * factorisable: float32 sums of a nearly singular covariance (fewer distinct samples than
 * features) can round to an indefinite matrix by about 1e-7 of that scale, more than regCovar.
 */
const JITTER_STEPS = [1e-7, 1e-6, 1e-5, 1e-4, 1e-3];

/** Floor added to every N_k so that an empty component divides by a tiny number, not zero. */
export const EMPTY_COMPONENT_FLOOR = 10 * Number.EPSILON;

/** Second moment (i, i) of component k, whichever layout the statistics have. */
function secondDiagonal(stats: SufficientStatistics, k: number, i: number): number {
  const d = stats.nFeatures;
  return stats.secondMomentLayout === 'packed'
    ? stats.secondMoment[k * packedSize(d) + packedIndex(i, i)]
    : stats.secondMoment[k * d + i];
}

/**
 * The M-step in float64: weights, means and covariances of the family (with regCovar on the
 * diagonal) from sums taken around the shifts c_k. Second moments are corrected by the mean's
 * offset from c_k, which is small, so little cancels.
 */
export function mStep(
  stats: SufficientStatistics,
  shifts: Float64Array,
  regCovar: number,
  type: CovarianceType,
): GmmParameters {
  const { nComponents: K, nFeatures: D } = stats;
  if (!isDiagonal(type) && stats.secondMomentLayout !== 'packed') {
    throw new Error(`'${type}' covariances need packed second moments`);
  }
  const P = packedSize(D);
  const weights = new Float64Array(K);
  const means = new Float64Array(K * D);
  const delta = new Float64Array(K * D);
  const nk = new Float64Array(K);
  let total = 0;
  for (let k = 0; k < K; k++) {
    nk[k] = stats.nk[k] + EMPTY_COMPONENT_FLOOR;
    total += nk[k];
    for (let i = 0; i < D; i++) {
      delta[k * D + i] = stats.firstMoment[k * D + i] / nk[k];
      means[k * D + i] = shifts[k * D + i] + delta[k * D + i];
    }
  }
  for (let k = 0; k < K; k++) weights[k] = nk[k] / total;

  const covariances = new Float64Array(covarianceLength(type, K, D));
  let jittered = 0;
  if (type === 'full' || type === 'tied') {
    for (let k = 0; k < K; k++) {
      const out = type === 'full' ? k * P : 0;
      // full: the covariance; tied: this component's share of the pooled scatter.
      const scale = type === 'full' ? 1 / nk[k] : 1;
      for (let i = 0; i < D; i++) {
        for (let j = 0; j <= i; j++) {
          const s = stats.secondMoment[k * P + packedIndex(i, j)];
          covariances[out + packedIndex(i, j)] += scale * (s - nk[k] * delta[k * D + i] * delta[k * D + j]);
        }
      }
    }
    const blocks = type === 'full' ? K : 1;
    for (let b = 0; b < blocks; b++) {
      for (let i = 0; i < D; i++) {
        const idx = b * P + packedIndex(i, i);
        if (type === 'tied') for (let j = 0; j <= i; j++) covariances[b * P + packedIndex(i, j)] /= total;
        covariances[idx] = Math.max(covariances[idx], 0) + regCovar;
      }
      if (regCovar > 0 && !choleskyPacked(covariances, D, b * P)) {
        if (jitterUntilFactorisable(covariances, D, b * P)) jittered++;
      }
    }
  } else {
    for (let k = 0; k < K; k++) {
      let sum = 0;
      for (let i = 0; i < D; i++) {
        const v = Math.max(secondDiagonal(stats, k, i) / nk[k] - delta[k * D + i] ** 2, 0) + regCovar;
        if (type === 'diag') covariances[k * D + i] = v;
        sum += v;
      }
      if (type === 'spherical') covariances[k] = sum / D;
    }
  }
  return { covarianceType: type, nComponents: K, nFeatures: D, weights, means, covariances, jittered };
}

/** Adds growing diagonal jitter (relative to the mean variance) until the matrix factorises. */
function jitterUntilFactorisable(cov: Float64Array, d: number, offset: number): boolean {
  let scale = 0;
  for (let i = 0; i < d; i++) scale += Math.abs(cov[offset + packedIndex(i, i)]);
  scale /= d;
  if (!(scale > 0)) return false;
  for (const step of JITTER_STEPS) {
    for (let i = 0; i < d; i++) cov[offset + packedIndex(i, i)] += step * scale;
    if (choleskyPacked(cov, d, offset)) return true;
  }
  return false;
}

const notPositiveDefinite = (k: number) =>
  new WebGpuEmError(
    'numerical',
    `the covariance of component ${k} is not positive definite (ill-defined empirical covariance); ` +
      'decrease nComponents, increase regCovar, or scale the input data',
  );

/**
 * What the E-step needs: log-weights, means, and the Cholesky factors of the precisions (full
 * and tied: packed lower, K x D(D+1)/2, tied repeated per component; diag and spherical:
 * 1/sigma, K x D). Throws an actionable error when a covariance is not positive definite.
 */
export function toComponentParameters(p: GmmParameters): ComponentParameters {
  const { nComponents: K, nFeatures: D, covarianceType: type } = p;
  const logWeights = Float64Array.from(p.weights, Math.log);
  const logDet = new Float64Array(K);
  const precisionCholesky = isDiagonal(type)
    ? diagonalPrecisionFactors(p, logDet)
    : triangularPrecisionFactors(p, logDet);
  return {
    covarianceType: type,
    nComponents: K,
    nFeatures: D,
    logWeights,
    means: p.means,
    precisionCholesky,
    logDetPrecisionCholesky: logDet,
  };
}

/** diag and spherical: 1 / sigma per feature (K x D); fills logDet. */
function diagonalPrecisionFactors(p: GmmParameters, logDet: Float64Array): Float64Array {
  const { nComponents: K, nFeatures: D } = p;
  const factors = new Float64Array(K * D);
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < D; i++) {
      const v = p.covarianceType === 'diag' ? p.covariances[k * D + i] : p.covariances[k];
      if (!(v > 0) || !Number.isFinite(v)) throw notPositiveDefinite(k);
      const s = 1 / Math.sqrt(v);
      factors[k * D + i] = s;
      logDet[k] += Math.log(s);
    }
  }
  return factors;
}

/** full and tied: inverse Cholesky factors, packed lower (tied repeated per component); fills logDet. */
function triangularPrecisionFactors(p: GmmParameters, logDet: Float64Array): Float64Array {
  const { nComponents: K, nFeatures: D, covarianceType: type } = p;
  const P = packedSize(D);
  const factors = new Float64Array(K * P);
  for (let k = 0; k < K; k++) {
    if (type === 'tied' && k > 0) {
      factors.copyWithin(k * P, 0, P);
      logDet[k] = logDet[0];
      continue;
    }
    const c = choleskyPacked(p.covariances, D, type === 'full' ? k * P : 0);
    if (!c) throw notPositiveDefinite(k);
    const m = invertLowerPacked(c, D);
    factors.set(m, k * P);
    for (let i = 0; i < D; i++) logDet[k] += Math.log(m[packedIndex(i, i)]);
  }
  return factors;
}

/** Number of free parameters, for BIC and AIC (scikit-learn's count). */
export function freeParameterCount(type: CovarianceType, k: number, d: number): number {
  return covarianceLength(type, k, d) + k * d + (k - 1);
}

/** Shifts for the next pass: the current means rounded to float32 so every backend uses the same c_k. */
export function shiftsFor(p: GmmParameters): Float64Array {
  return Float64Array.from(p.means, Math.fround);
}

/** Covariances in scikit-learn's shapes, flat: full K x D x D, tied D x D, diag K x D, spherical K. */
export function covariancesAsArray(p: GmmParameters): Float64Array {
  const d = p.nFeatures;
  if (isDiagonal(p.covarianceType)) return Float64Array.from(p.covariances);
  const blocks = p.covarianceType === 'full' ? p.nComponents : 1;
  const out = new Float64Array(blocks * d * d);
  for (let b = 0; b < blocks; b++) unpackSymmetric(p.covariances, d, out, b * d * d, b * packedSize(d));
  return out;
}

/** The full D x D covariance (packed) of component k, whatever the family. */
export function componentCovariance(p: GmmParameters, k: number): Float64Array {
  const d = p.nFeatures;
  const P = packedSize(d);
  switch (p.covarianceType) {
    case 'full':
      return p.covariances.slice(k * P, (k + 1) * P);
    case 'tied':
      return p.covariances.slice(0, P);
    default: {
      const out = new Float64Array(P);
      for (let i = 0; i < d; i++) {
        out[packedIndex(i, i)] = p.covarianceType === 'diag' ? p.covariances[k * d + i] : p.covariances[k];
      }
      return out;
    }
  }
}

/**
 * Reads covariances given in a family's scikit-learn shape (flat) into the packed storage of
 * GmmParameters, checking length, symmetry and positivity.
 */
export function covariancesFromArray(
  type: CovarianceType,
  flat: Float64Array,
  k: number,
  d: number,
): Float64Array {
  const expected = { full: k * d * d, tied: d * d, diag: k * d, spherical: k }[type];
  const shape = { full: 'K x D x D', tied: 'D x D', diag: 'K x D', spherical: 'K' }[type];
  if (flat.length !== expected) {
    throw dataError(`'${type}' covariances need ${shape} = ${expected} values, got ${flat.length}`);
  }
  if (isDiagonal(type)) {
    flat.forEach((v, i) => {
      if (!(v > 0)) throw dataError(`${type} covariance value ${i} is ${v}; variances must be > 0`);
    });
    return Float64Array.from(flat);
  }
  const blocks = type === 'full' ? k : 1;
  const P = packedSize(d);
  const out = new Float64Array(blocks * P);
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < d; i++) {
      for (let j = 0; j <= i; j++) {
        const a = flat[b * d * d + i * d + j];
        const c = flat[b * d * d + j * d + i];
        if (Math.abs(a - c) > 1e-6 * Math.max(1, Math.abs(a), Math.abs(c))) {
          throw dataError(`covariance ${b} is not symmetric at (${i}, ${j}): ${a} vs ${c}`);
        }
        out[b * P + packedIndex(i, j)] = 0.5 * (a + c);
      }
    }
  }
  return out;
}
