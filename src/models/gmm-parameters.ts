import type { ComponentParameters, SufficientStatistics } from '../backends/backend.js';
import { WebGpuEmError } from '../errors.js';
import { choleskyPacked, invertLowerPacked, packedIndex, packedSize } from './linalg.js';

/** Parameters of a full-covariance Gaussian mixture, float64, covariances packed lower. */
export interface GmmParameters {
  /** Components whose covariance needed extra diagonal jitter in the M-step that made them (0 if none). */
  readonly jittered?: number;
  readonly nComponents: number;
  readonly nFeatures: number;
  /** w_k, length K, summing to 1. */
  readonly weights: Float64Array;
  /** mu_k, K x D. */
  readonly means: Float64Array;
  /** Sigma_k, packed lower, K x D(D+1)/2. */
  readonly covariances: Float64Array;
}

/**
 * Diagonal jitter tried, relative to a component's second-moment scale, when a covariance is not
 * factorisable: float32 sums of a nearly singular covariance (fewer distinct samples than
 * features) can round to an indefinite matrix by about 1e-7 of that scale, more than regCovar.
 */
const JITTER_STEPS = [1e-7, 1e-6, 1e-5, 1e-4, 1e-3];

/** Floor added to every N_k so that an empty component divides by a tiny number, not zero. */
export const EMPTY_COMPONENT_FLOOR = 10 * Number.EPSILON;

/**
 * The M-step in float64: weights, means and covariances (with regCovar on the diagonal) from
 * sums taken around the shifts c_k. The second moment is corrected by the mean's offset from
 * c_k, which is small, so little cancels.
 */
export function mStep(stats: SufficientStatistics, shifts: Float64Array, regCovar: number): GmmParameters {
  const { nComponents: K, nFeatures: D } = stats;
  const P = packedSize(D);
  const weights = new Float64Array(K);
  const means = new Float64Array(K * D);
  const covariances = new Float64Array(K * P);
  const delta = new Float64Array(D);
  let total = 0;
  for (let k = 0; k < K; k++) {
    const nk = stats.nk[k] + EMPTY_COMPONENT_FLOOR;
    weights[k] = nk;
    total += nk;
    for (let i = 0; i < D; i++) {
      delta[i] = stats.firstMoment[k * D + i] / nk;
      means[k * D + i] = shifts[k * D + i] + delta[i];
    }
    for (let i = 0; i < D; i++) {
      for (let j = 0; j <= i; j++) {
        const idx = k * P + packedIndex(i, j);
        let c = stats.secondMoment[idx] / nk - delta[i] * delta[j];
        if (i === j) c = Math.max(c, 0) + regCovar;
        covariances[idx] = c;
      }
    }
  }
  for (let k = 0; k < K; k++) weights[k] /= total;
  let jittered = 0;
  if (regCovar > 0) {
    for (let k = 0; k < K; k++) {
      if (choleskyPacked(covariances, D, k * P)) continue;
      let scale = 0;
      for (let i = 0; i < D; i++) scale += stats.secondMoment[k * P + packedIndex(i, i)] / (stats.nk[k] + EMPTY_COMPONENT_FLOOR);
      scale = Math.max(scale / D, regCovar);
      for (const step of JITTER_STEPS) {
        for (let i = 0; i < D; i++) covariances[k * P + packedIndex(i, i)] += step * scale;
        if (choleskyPacked(covariances, D, k * P)) {
          jittered++;
          break;
        }
      }
    }
  }
  return { nComponents: K, nFeatures: D, weights, means, covariances, jittered };
}

/**
 * What the E-step needs: log-weights, means, and the Cholesky factors of the precisions. Throws
 * an actionable error when a covariance is not positive definite.
 */
export function toComponentParameters(p: GmmParameters): ComponentParameters {
  const { nComponents: K, nFeatures: D } = p;
  const P = packedSize(D);
  const precisionCholesky = new Float64Array(K * P);
  const logDet = new Float64Array(K);
  const logWeights = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    const c = choleskyPacked(p.covariances, D, k * P);
    if (!c) {
      throw new WebGpuEmError(
        'numerical',
        `the covariance of component ${k} is not positive definite (ill-defined empirical covariance); ` +
          'decrease nComponents, increase regCovar, or scale the input data',
      );
    }
    const m = invertLowerPacked(c, D);
    precisionCholesky.set(m, k * P);
    let ld = 0;
    for (let i = 0; i < D; i++) ld += Math.log(m[packedIndex(i, i)]);
    logDet[k] = ld;
    logWeights[k] = Math.log(p.weights[k]);
  }
  return {
    nComponents: K,
    nFeatures: D,
    logWeights,
    means: p.means,
    precisionCholesky,
    logDetPrecisionCholesky: logDet,
  };
}

/** Number of free parameters, for BIC and AIC. */
export function freeParameterCount(k: number, d: number): number {
  return k * packedSize(d) + k * d + (k - 1);
}

/** Shifts for the next pass: the current means rounded to float32 so every backend uses the same c_k. */
export function shiftsFor(p: GmmParameters): Float64Array {
  return Float64Array.from(p.means, Math.fround);
}
