import { dataError, WebGpuEmError } from '../errors.js';
import { choleskyPacked, invertLowerPacked, packedIndex, packedSize, unpackSymmetric } from './linalg.js';
import { COVARIANCE_TYPES, type CovarianceType } from './names.js';
import type { MomentSums, StatisticsKind } from './statistics.js';

/**
 * Each covariance family's maths in one entry, as scikit-learn picks `_estimate_gaussian_covariances_*`
 * and `_compute_precision_cholesky` by covariance type: sizes, scikit-learn's shape, the covariance
 * step of the M-step, the precision factors of the E-step, and for the Bayesian mixture the Wishart
 * step and the covariance prior's shape and default. Every other module asks this table; a new
 * family is a new entry (and, for the GPU, a kernel that reads its `statistics` layout).
 *
 * Storage (GmmParameters.covariances): full K packed lower triangles (K x D(D+1)/2), tied one
 * triangle, diag K x D variances, spherical K variances.
 */
export interface CovarianceFamily {
  readonly name: CovarianceType;
  /**
   * The second moments a backend sums and the layout of the precision factors: 'packed' (every
   * pair, D(D+1)/2 per component) or 'diagonal' (D per component, no D x D work per sample).
   */
  readonly statistics: StatisticsKind;
  /**
   * Second moments summed per component (D(D+1)/2 packed, D diagonal): with the D first moments
   * and the count, what every backend and the host's M-step hold per component, so what a fit's
   * capacity is measured in.
   */
  secondMoments(d: number): number;
  /** scikit-learn's shape of `covariances_`, outermost first: full ['K', 'D', 'D'], spherical ['K']. */
  readonly dims: readonly ('K' | 'D')[];
  /** Length of the stored covariances. */
  storedLength(k: number, d: number): number;
  /** The covariance step of the M-step, from sums taken around shifts that are `delta` from the means. */
  covarianceStep(input: CovarianceStepInput): { covariances: Float64Array; jittered: number };
  /** Cholesky factors of the precisions (tied repeated per component), filling log det per component. */
  precisionFactors(covariances: Float64Array, k: number, d: number, logDet: Float64Array): Float64Array;
  /** The packed D x D covariance of component c. */
  componentCovariance(covariances: Float64Array, c: number, d: number): Float64Array;
  /**
   * Gives component c the packed covariance `packed`, as near as the family allows (spherical:
   * its mean variance; tied: unchanged, since the covariance is shared).
   */
  setComponentCovariance(covariances: Float64Array, c: number, d: number, packed: Float64Array): void;
  /** Stored covariances in scikit-learn's shape, flat. */
  toArray(covariances: Float64Array, k: number, d: number): Float64Array;
  /** scikit-learn's shape (flat) into storage, checking symmetry and positivity. */
  fromArray(flat: Float64Array, k: number, d: number): Float64Array;
  /** K full D x D matrices (flat) into scikit-learn's shape of this family. */
  fromFullMatrices(full: Float64Array, k: number, d: number): Float64Array;
  /**
   * One covariance shared by every component (tied): a Bayesian mixture's posterior then has
   * one pooled count of degrees of freedom and one Wishart normaliser, counted K times.
   */
  readonly shared: boolean;
  /** The Wishart step of the variational M-step (scikit-learn's `_estimate_wishart_*`). */
  wishartCovariances(input: WishartStepInput): Float64Array;
  /**
   * One packed D x D covariance in this family's storage of one component (the shape of a
   * covariance prior): full and tied the matrix, diag its diagonal, spherical its mean variance.
   */
  fromCovariance(packed: Float64Array, d: number): Float64Array;
}

/**
 * What the Wishart step is given, K components of D features; its result is W_k^-1 / nu_k in
 * the family's storage (scikit-learn's `covariances_` of a Bayesian mixture).
 */
export interface WishartStepInput {
  /** The sample covariances S_k of the M-step (with regCovar), in storage. */
  readonly sk: Float64Array;
  /** N_k with the empty-component floor, length K. */
  readonly nk: Float64Array;
  /** x_k - m_0 (sample means minus the means' prior), K x D. */
  readonly diff: Float64Array;
  /** beta_k, length K. */
  readonly beta: Float64Array;
  /** nu_k, length K. */
  readonly nu: Float64Array;
  /** beta_0. */
  readonly beta0: number;
  /** W_0^-1 in the storage of one component. */
  readonly prior: Float64Array;
  readonly d: number;
}

/** What the covariance step of the M-step is given. */
export interface CovarianceStepInput {
  readonly stats: MomentSums;
  /** N_k with the empty-component floor, length K. */
  readonly nk: Float64Array;
  /** Sum of nk. */
  readonly total: number;
  /** mean_k - c_k, K x D. */
  readonly delta: Float64Array;
  readonly regCovar: number;
}

/**
 * Diagonal jitter tried, relative to a component's second-moment scale, when a covariance is not
 * factorisable: float32 sums of a nearly singular covariance (fewer distinct samples than
 * features) can round to an indefinite matrix by about 1e-7 of that scale, more than regCovar.
 */
const JITTER_STEPS = [1e-7, 1e-6, 1e-5, 1e-4, 1e-3];

/** One K x D x D or D x D family with packed triangles: `shared` is tied. */
function triangular(name: 'full' | 'tied', shared: boolean): CovarianceFamily {
  const blocksOf = (k: number) => (shared ? 1 : k);
  return {
    name,
    statistics: 'packed',
    secondMoments: packedSize,
    dims: shared ? ['D', 'D'] : ['K', 'D', 'D'],
    storedLength: (k, d) => blocksOf(k) * packedSize(d),
    covarianceStep({ stats, nk, total, delta, regCovar }) {
      if (stats.secondMomentLayout !== 'packed')
        throw new Error(`'${name}' covariances need packed second moments`);
      const { nComponents: K, nFeatures: D } = stats;
      const P = packedSize(D);
      const covariances = new Float64Array(blocksOf(K) * P);
      for (let k = 0; k < K; k++) {
        const out = shared ? 0 : k * P;
        // full: the covariance; tied: this component's share of the pooled scatter.
        const scale = shared ? 1 : 1 / nk[k];
        for (let i = 0; i < D; i++) {
          for (let j = 0; j <= i; j++) {
            const s = stats.secondMoment[k * P + packedIndex(i, j)];
            covariances[out + packedIndex(i, j)] += scale * (s - nk[k] * delta[k * D + i] * delta[k * D + j]);
          }
        }
      }
      let jittered = 0;
      for (let b = 0; b < blocksOf(K); b++) {
        for (let i = 0; i < D; i++) {
          const idx = b * P + packedIndex(i, i);
          if (shared) for (let j = 0; j <= i; j++) covariances[b * P + packedIndex(i, j)] /= total;
          covariances[idx] = Math.max(covariances[idx], 0) + regCovar;
        }
        if (regCovar > 0 && !choleskyPacked(covariances, D, b * P)) {
          if (jitterUntilFactorisable(covariances, D, b * P)) jittered++;
        }
      }
      return { covariances, jittered };
    },
    precisionFactors(covariances, K, D, logDet) {
      const P = packedSize(D);
      const factors = new Float64Array(K * P);
      for (let k = 0; k < K; k++) {
        if (shared && k > 0) {
          factors.copyWithin(k * P, 0, P);
          logDet[k] = logDet[0];
          continue;
        }
        const c = choleskyPacked(covariances, D, shared ? 0 : k * P);
        if (!c) throw notPositiveDefinite(k);
        const m = invertLowerPacked(c, D);
        factors.set(m, k * P);
        for (let i = 0; i < D; i++) logDet[k] += Math.log(m[packedIndex(i, i)]);
      }
      return factors;
    },
    componentCovariance(covariances, c, d) {
      const P = packedSize(d);
      const at = shared ? 0 : c * P;
      return covariances.slice(at, at + P);
    },
    setComponentCovariance(covariances, c, d, packed) {
      if (!shared) covariances.set(packed, c * packedSize(d));
    },
    toArray(covariances, k, d) {
      const out = new Float64Array(blocksOf(k) * d * d);
      for (let b = 0; b < blocksOf(k); b++)
        unpackSymmetric(covariances, d, out, b * d * d, b * packedSize(d));
      return out;
    },
    fromArray(flat, k, d) {
      const P = packedSize(d);
      const out = new Float64Array(blocksOf(k) * P);
      for (let b = 0; b < blocksOf(k); b++) {
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
    },
    fromFullMatrices: (full, k, d) => (shared ? full.slice(0, d * d) : full),
    shared,
    wishartCovariances({ sk, nk, diff, beta, nu, beta0, prior, d: D }) {
      const K = nk.length;
      const P = packedSize(D);
      const out = new Float64Array(blocksOf(K) * P);
      let nkSum = 0;
      for (const n of nk) nkSum += n;
      for (let k = 0; k < K; k++) {
        const at = shared ? 0 : k * P;
        // full: N_k beta_0 / beta_k (x_k - m_0)(x_k - m_0)^T; tied: the sum of those over K.
        const scale = ((shared ? 1 / K : 1) * nk[k] * beta0) / beta[k];
        for (let i = 0; i < D; i++)
          for (let j = 0; j <= i; j++)
            out[at + packedIndex(i, j)] += scale * diff[k * D + i] * diff[k * D + j];
      }
      for (let b = 0; b < blocksOf(K); b++) {
        const weight = shared ? nkSum / K : nk[b];
        for (let p = 0; p < P; p++)
          out[b * P + p] = (out[b * P + p] + prior[p] + weight * sk[b * P + p]) / nu[b];
      }
      return out;
    },
    fromCovariance: (packed) => Float64Array.from(packed),
  };
}

/** A family with one variance per feature (diag) or per component (spherical). */
function diagonal(name: 'diag' | 'spherical', spherical: boolean): CovarianceFamily {
  /** Variance of feature i of component c in storage. */
  const at = (covariances: Float64Array, c: number, i: number, d: number) =>
    spherical ? covariances[c] : covariances[c * d + i];
  return {
    name,
    statistics: 'diagonal',
    secondMoments: (d) => d,
    dims: spherical ? ['K'] : ['K', 'D'],
    storedLength: (k, d) => (spherical ? k : k * d),
    covarianceStep({ stats, nk, delta, regCovar }) {
      const { nComponents: K, nFeatures: D } = stats;
      const covariances = new Float64Array(spherical ? K : K * D);
      for (let k = 0; k < K; k++) {
        let sum = 0;
        for (let i = 0; i < D; i++) {
          const v = Math.max(secondDiagonal(stats, k, i) / nk[k] - delta[k * D + i] ** 2, 0) + regCovar;
          if (!spherical) covariances[k * D + i] = v;
          sum += v;
        }
        if (spherical) covariances[k] = sum / D;
      }
      return { covariances, jittered: 0 };
    },
    precisionFactors(covariances, K, D, logDet) {
      const factors = new Float64Array(K * D);
      for (let k = 0; k < K; k++) {
        for (let i = 0; i < D; i++) {
          const v = at(covariances, k, i, D);
          if (!(v > 0) || !Number.isFinite(v)) throw notPositiveDefinite(k);
          const s = 1 / Math.sqrt(v);
          factors[k * D + i] = s;
          logDet[k] += Math.log(s);
        }
      }
      return factors;
    },
    componentCovariance(covariances, c, d) {
      const out = new Float64Array(packedSize(d));
      for (let i = 0; i < d; i++) out[packedIndex(i, i)] = at(covariances, c, i, d);
      return out;
    },
    setComponentCovariance(covariances, c, d, packed) {
      if (spherical) {
        let mean = 0;
        for (let i = 0; i < d; i++) mean += packed[packedIndex(i, i)] / d;
        covariances[c] = mean;
      } else {
        for (let i = 0; i < d; i++) covariances[c * d + i] = packed[packedIndex(i, i)];
      }
    },
    toArray: (covariances) => Float64Array.from(covariances),
    fromArray(flat) {
      flat.forEach((v, i) => {
        if (!(v > 0)) throw dataError(`${name} covariance value ${i} is ${v}; variances must be > 0`);
      });
      return Float64Array.from(flat);
    },
    fromFullMatrices: (full, k, d) =>
      spherical
        ? Float64Array.from({ length: k }, (_, c) => full[c * d * d])
        : Float64Array.from({ length: k * d }, (_, e) => full[Math.floor(e / d) * d * d + (e % d) * (d + 1)]),
    shared: false,
    wishartCovariances({ sk, nk, diff, beta, nu, beta0, prior, d: D }) {
      const K = nk.length;
      const out = new Float64Array(spherical ? K : K * D);
      for (let k = 0; k < K; k++) {
        if (spherical) {
          let square = 0;
          for (let i = 0; i < D; i++) square += diff[k * D + i] ** 2;
          out[k] = (prior[0] + nk[k] * (sk[k] + ((beta0 / beta[k]) * square) / D)) / nu[k];
          continue;
        }
        for (let i = 0; i < D; i++) {
          const e = k * D + i;
          out[e] = (prior[i] + nk[k] * (sk[e] + (beta0 / beta[k]) * diff[e] ** 2)) / nu[k];
        }
      }
      return out;
    },
    fromCovariance(packed, d) {
      const variances = Float64Array.from({ length: d }, (_, i) => packed[packedIndex(i, i)]);
      return spherical ? Float64Array.of(variances.reduce((a, b) => a + b, 0) / d) : variances;
    },
  };
}

/** Every family, in the order of COVARIANCE_TYPES. */
export const FAMILIES: { readonly [T in CovarianceType]: CovarianceFamily } = {
  full: triangular('full', false),
  tied: triangular('tied', true),
  diag: diagonal('diag', false),
  spherical: diagonal('spherical', true),
};

/** The family of a covariance type. */
export function family(type: CovarianceType): CovarianceFamily {
  const f = (FAMILIES as Record<string, CovarianceFamily | undefined>)[type];
  if (!f) throw new Error(`unknown covariance type '${String(type)}'; use ${COVARIANCE_TYPES.join(', ')}`);
  return f;
}

/** True for the families whose precision is diagonal (no D x D work per sample and component). */
export const isDiagonal = (type: CovarianceType): boolean => family(type).statistics === 'diagonal';

/** Length of scikit-learn's `covariances_` of a family: the product of its dims. */
export function arrayLength(type: CovarianceType, k: number, d: number): number {
  return family(type).dims.reduce((n, dim) => n * (dim === 'K' ? k : d), 1);
}

/** scikit-learn's shape of a family for messages: 'K x D x D'. */
export const shapeText = (type: CovarianceType): string => family(type).dims.join(' x ');

/** scikit-learn's shape of a family's covariance prior, one component's: no dims is a number. */
export const priorDims = (type: CovarianceType): readonly 'D'[] =>
  family(type).dims.filter((dim): dim is 'D' => dim === 'D');

/** Number of values of a family's covariance prior, flat (full and tied D x D, diag D, spherical 1). */
export const priorLength = (type: CovarianceType, d: number): number => d ** priorDims(type).length;

/**
 * A covariance prior from scikit-learn's shape (flat) into the family's storage of one
 * component; null when it is not positive definite. Throws a data error naming what is wrong
 * when it is not symmetric or a variance is not positive.
 */
export function covariancePriorFromArray(
  type: CovarianceType,
  flat: Float64Array,
  d: number,
): Float64Array | null {
  const f = family(type);
  const stored = f.fromArray(flat, 1, d);
  try {
    f.precisionFactors(stored, 1, d, new Float64Array(1));
  } catch (e) {
    if (e instanceof WebGpuEmError && e.kind === 'numerical') return null;
    throw e;
  }
  return stored;
}

/**
 * Each component's covariance as a full D x D matrix (row-major), from a mixture's
 * `covariances` in scikit-learn's shape of its family (flat): tied repeats the shared matrix,
 * diag and spherical put their variances on the diagonal. For drawing components (ellipses).
 */
export function covarianceMatrices(
  covarianceType: CovarianceType,
  covariances: ArrayLike<number>,
  nComponents: number,
  nFeatures: number,
): Float64Array[] {
  const f = family(covarianceType);
  const d = nFeatures;
  const stored = f.fromArray(Float64Array.from(covariances), nComponents, d);
  return Array.from({ length: nComponents }, (_, c) => {
    const out = new Float64Array(d * d);
    unpackSymmetric(f.componentCovariance(stored, c, d), d, out);
    return out;
  });
}

/** Second moment (i, i) of component k, whichever layout the statistics have. */
function secondDiagonal(stats: MomentSums, k: number, i: number): number {
  const d = stats.nFeatures;
  return stats.secondMomentLayout === 'packed'
    ? stats.secondMoment[k * packedSize(d) + packedIndex(i, i)]
    : stats.secondMoment[k * d + i];
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
