import { arrayLength, family, shapeText } from '../core/families.js';
import { choleskyPacked, packedIndex } from '../core/linalg.js';
import type { CovarianceType } from '../core/names.js';
import type { Random } from '../core/random.js';
import type { ComponentParameters, MomentSums } from '../core/statistics.js';
import { dataError, usageError } from '../errors.js';

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

/** Length of the `covariances` array of a family. */
export function covarianceLength(type: CovarianceType, k: number, d: number): number {
  return family(type).storedLength(k, d);
}

/** Floor added to every N_k so that an empty component divides by a tiny number, not zero. */
export const EMPTY_COMPONENT_FLOOR = 10 * Number.EPSILON;

/**
 * The M-step in float64: weights, means and covariances of the family (with regCovar on the
 * diagonal) from sums taken around the shifts c_k. Second moments are corrected by the mean's
 * offset from c_k, which is small, so little cancels.
 */
export function mStep(
  stats: MomentSums,
  shifts: Float64Array,
  regCovar: number,
  type: CovarianceType,
): GmmParameters {
  const { nComponents: K, nFeatures: D } = stats;
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
  const { covariances, jittered } = family(type).covarianceStep({ stats, nk, total, delta, regCovar });
  return { covarianceType: type, nComponents: K, nFeatures: D, weights, means, covariances, jittered };
}

/**
 * What the E-step needs: log-weights, means, and the Cholesky factors of the precisions (full
 * and tied: packed lower, K x D(D+1)/2, tied repeated per component; diag and spherical:
 * 1/sigma, K x D). Throws an actionable error when a covariance is not positive definite.
 */
export function toComponentParameters(p: GmmParameters): ComponentParameters {
  const { nComponents: K, nFeatures: D, covarianceType: type } = p;
  const logWeights = Float64Array.from(p.weights, Math.log);
  const logDet = new Float64Array(K);
  const precisionCholesky = family(type).precisionFactors(p.covariances, K, D, logDet);
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

/** Number of free parameters, for BIC and AIC (scikit-learn's count). */
export function freeParameterCount(type: CovarianceType, k: number, d: number): number {
  return covarianceLength(type, k, d) + k * d + (k - 1);
}

/** Shifts for the next pass: the current means rounded to float32 so every backend uses the same c_k. */
export function shiftsFor(p: { readonly means: Float64Array }): Float64Array {
  return Float64Array.from(p.means, Math.fround);
}

/** Covariances in scikit-learn's shapes, flat: full K x D x D, tied D x D, diag K x D, spherical K. */
export function covariancesAsArray(p: GmmParameters): Float64Array {
  return family(p.covarianceType).toArray(p.covariances, p.nComponents, p.nFeatures);
}

/** The full D x D covariance (packed) of component k, whatever the family. */
export function componentCovariance(p: GmmParameters, k: number): Float64Array {
  return family(p.covarianceType).componentCovariance(p.covariances, k, p.nFeatures);
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
  const expected = arrayLength(type, k, d);
  if (flat.length !== expected) {
    throw dataError(`'${type}' covariances need ${shapeText(type)} = ${expected} values, got ${flat.length}`);
  }
  return family(type).fromArray(flat, k, d);
}

/** The checks of `sample(n)` and its chunked form. */
export function checkSampleSize(n: number, chunkRows: number): void {
  if (!Number.isInteger(n) || n < 1) throw usageError(`sample(n) needs an integer n >= 1, got ${n}`);
  if (!Number.isInteger(chunkRows) || chunkRows < 1)
    throw usageError(`sampleChunks(n, chunkRows) needs an integer chunkRows >= 1, got ${chunkRows}`);
}

/**
 * n samples drawn from the mixture (n x D), with the component of each, at most `chunkRows` at a
 * time (the same draws from `rng`, in order, whatever `chunkRows`): n too large to hold at once
 * is drawn a chunk at a time.
 */
export function* sampleMixtureChunks(
  p: GmmParameters,
  n: number,
  rng: Random,
  chunkRows: number,
): Generator<{ x: Float64Array; labels: Int32Array }> {
  const d = p.nFeatures;
  const chol = [];
  for (let k = 0; k < p.nComponents; k++) chol.push(choleskyPacked(componentCovariance(p, k), d)!);
  const z = new Float64Array(d);
  for (let first = 0; first < n; first += chunkRows) {
    const rows = Math.min(chunkRows, n - first);
    const x = new Float64Array(rows * d);
    const labels = new Int32Array(rows);
    for (let s = 0; s < rows; s++) {
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
    yield { x, labels };
  }
}
