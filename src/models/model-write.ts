import { arrayLength, family } from '../core/families.js';
import { COVARIANCE_TYPES, type CovarianceType } from '../core/names.js';
import { dataError, usageError } from '../errors.js';

// Writing model files: the fields of each format, in a fixed order, every number finite.

export const GMM_FORMAT = 'webgpu-em/gmm@1';
export const KMEANS_FORMAT = 'webgpu-em/kmeans@1';
/** A Bayesian (variational) mixture: a gmm@1 model plus its posterior and priors. */
export const BGMM_FORMAT = 'webgpu-em/bgmm@1';
/** A family's JSON shape for messages: '[K][D][D]'. */
export const jsonShape = (type: CovarianceType) =>
  family(type)
    .dims.map((d) => `[${d}]`)
    .join('');
/** The covariance types for messages: '"full", "tied", "diag", "spherical"'. */
export const TYPE_LIST = COVARIANCE_TYPES.map((t) => `"${t}"`).join(', ');

const RESERVED_KEYS = ['format', 'covarianceType', 'nFeatures', 'weights', 'means', 'covariances'];

/**
 * Serialises a Gaussian mixture as a `webgpu-em/gmm@1` JSON object (nested arrays). `covariances` is
 * flat in the covariance type's natural shape: full K*D*D, tied D*D, diag K*D, spherical K. Keys of
 * `extra` are appended after the model fields (they may not replace them).
 */
export function gmmModelToJson(p: {
  covarianceType: CovarianceType;
  nFeatures: number;
  weights: ArrayLike<number>;
  means: ArrayLike<number>;
  covariances: ArrayLike<number>;
  extra?: Record<string, unknown>;
  /** gmm@1, or bgmm@1 for a Bayesian mixture (whose posterior comes in `extra`). */
  format?: typeof GMM_FORMAT | typeof BGMM_FORMAT;
}): Record<string, unknown> {
  const type = p.covarianceType;
  if (!COVARIANCE_TYPES.includes(type)) {
    throw usageError(`covarianceType must be one of ${TYPE_LIST}; got ${JSON.stringify(type)}`);
  }
  const D = checkFeatures(p.nFeatures);
  const K = p.weights.length;
  if (K < 1) throw usageError('gmmModelToJson: weights is empty; a model needs at least one component');
  checkLength(p.means, K * D, 'means', `K x D = ${K} x ${D}`);
  const covLength = arrayLength(type, K, D);
  checkLength(
    p.covariances,
    covLength,
    'covariances',
    `${jsonShape(type)} for "${type}" (K = ${K}, D = ${D})`,
  );
  const weights = toList(p.weights, 'weights');
  const means = chunk(toList(p.means, 'means'), D);
  const cov = toList(p.covariances, 'covariances');
  // Nested by the family's dims, innermost first: every dim after the first is D.
  let covariances: unknown[] = cov;
  for (let level = 1; level < family(type).dims.length; level++) covariances = chunk(covariances, D);
  return {
    format: p.format ?? GMM_FORMAT,
    covarianceType: type,
    nFeatures: D,
    weights,
    means,
    covariances,
    ...checkExtra(p.extra),
  };
}

/** Serialises k-means centroids (flat K*D) as a `webgpu-em/kmeans@1` JSON object. */
export function kmeansModelToJson(p: {
  nFeatures: number;
  means: ArrayLike<number>;
  extra?: Record<string, unknown>;
}): Record<string, unknown> {
  const D = checkFeatures(p.nFeatures);
  if (p.means.length === 0 || p.means.length % D !== 0) {
    throw usageError(
      `kmeansModelToJson: means has ${p.means.length} values, not a positive multiple of nFeatures = ${D}`,
    );
  }
  return {
    format: KMEANS_FORMAT,
    nFeatures: D,
    means: chunk(toList(p.means, 'means'), D),
    ...checkExtra(p.extra),
  };
}

function checkFeatures(d: number): number {
  if (!Number.isInteger(d) || d < 1) throw usageError(`nFeatures must be a positive integer; got ${d}`);
  return d;
}

function checkLength(a: ArrayLike<number>, n: number, name: string, shape: string): void {
  if (a.length !== n) throw usageError(`${name} has ${a.length} values but ${shape} needs ${n}`);
}

function checkExtra(extra: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!extra) return {};
  for (const key of RESERVED_KEYS) {
    if (key in extra) throw usageError(`extra may not contain the model field "${key}"`);
  }
  return extra;
}

/** Plain numbers, refusing non-finite values (JSON.stringify would silently write them as null). */
function toList(a: ArrayLike<number>, name: string): number[] {
  const out = new Array<number>(a.length);
  for (let i = 0; i < a.length; i++) {
    const v = Number(a[i]);
    if (!Number.isFinite(v)) {
      throw dataError(
        `cannot save the model: ${name}[${i}] (flat index) is ${v}; the fit produced a non-finite value, so refit (e.g. with more regularisation) instead of saving it`,
      );
    }
    out[i] = v;
  }
  return out;
}

function chunk<T>(a: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < a.length; i += size) out.push(a.slice(i, i + size));
  return out;
}
