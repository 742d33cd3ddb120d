import { defaultOf } from '../core/option-schema.js';
import { GAUSSIAN_MIXTURE_SCHEMA } from './gaussian-mixture-options.js';
import { covariancePriorFromArray, family, priorLength } from '../core/families.js';
import type { CovarianceType } from '../core/names.js';
import { dataError, usageError, WebGpuEmError } from '../errors.js';
import {
  BGMM_FORMAT,
  GMM_FORMAT,
  gmmModelToJson,
  KMEANS_FORMAT,
  kmeansModelToJson,
  parseModel,
  type ModelSpec,
} from './model-file.js';
import { covariancesAsArray, type GmmParameters } from './gmm-parameters.js';
import { checkChoice } from '../core/names.js';
import { covariancePriorArray } from './bayesian-mixture-options.js';
import {
  posteriorMixture,
  WEIGHT_CONCENTRATION_PRIOR_TYPES,
  type VariationalPosterior,
  type VariationalPriors,
  type WeightConcentrationPriorType,
} from './variational.js';

// Model objects to and from the versioned model files (webgpu-em/gmm@1, webgpu-em/bgmm@1,
// webgpu-em/kmeans@1).

/** Which class reads each format, for messages that send the reader to the right one. */
const READER: Record<string, string> = {
  [GMM_FORMAT]: 'GaussianMixture.fromJSON',
  [KMEANS_FORMAT]: 'KMeans.fromJSON',
  [BGMM_FORMAT]: 'BayesianGaussianMixture.fromJSON',
};

/**
 * Parses a model (or a result object with a `model` field) and checks it is in `format`: a model
 * of another format is refused with a message that names both.
 */
export function readModelJson(json: unknown, format: string, source: string): ModelSpec {
  const text = typeof json === 'string' ? parseText(json, source) : json;
  const spec = parseModel(text, source);
  if (spec.format !== format) {
    throw dataError(
      `${source}: this is a ${spec.format} model but ${READER[format]} reads ${format}; load it with ${READER[spec.format]} (the CLI's predict, score and sample read either)`,
    );
  }
  return spec;
}

/** A gmm@1 model as a GaussianMixture is built from it: parameters, default options, columns. */
export function mixtureFromJson(json: unknown, source: string) {
  const spec = readModelJson(json, GMM_FORMAT, source);
  if (!spec.weights || !spec.covariances || !spec.covarianceType) {
    throw dataError(
      `${source}: the model has means only; a mixture to predict with needs weights, covariances and covarianceType (refit and save it)`,
    );
  }
  const type: CovarianceType = spec.covarianceType;
  const k = spec.nComponents;
  const d = spec.nFeatures;
  const regCovar = savedRegCovar(modelObject(json), source);
  return {
    model: {
      weights: spec.weights,
      means: spec.means,
      covariances: family(type).fromFullMatrices(spec.covariances, k, d),
    },
    defaults: { covarianceType: type, ...(regCovar !== undefined ? { regCovar } : {}) },
    columns: spec.columns,
  };
}

/** A mixture as a gmm@1 object: covariances in scikit-learn's shapes, regCovar, the column names. */
export function mixtureToJson(
  p: GmmParameters,
  covariances: Float64Array,
  regCovar: number,
  names: readonly string[] | null,
): Record<string, unknown> {
  const columns = checkFeatureNames(names, p.nFeatures);
  return gmmModelToJson({
    covarianceType: p.covarianceType,
    nFeatures: p.nFeatures,
    weights: p.weights,
    means: p.means,
    covariances,
    extra: { regCovar, ...(columns ? { columns } : {}) },
  });
}

/** The model object of a model or of a result object with a `model` field. */
function modelObject(json: unknown): object {
  const obj = typeof json === 'string' ? (JSON.parse(json) as unknown) : json;
  if (typeof obj !== 'object' || obj === null) return {};
  const inner = (obj as { model?: unknown; format?: unknown }).model;
  return !('format' in obj) && typeof inner === 'object' && inner !== null ? inner : obj;
}

function parseText(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw dataError(
      `${source}: invalid JSON (${(e as Error).message}); pass the text toJSON() gave, or its object`,
    );
  }
}

/** k-means centres (K x D, flat) as a kmeans@1 object, with the column names. */
export function centresToJson(
  centres: Float64Array,
  d: number,
  names: readonly string[] | null,
): Record<string, unknown> {
  const columns = checkFeatureNames(names, d);
  return kmeansModelToJson({ nFeatures: d, means: centres, extra: columns ? { columns } : {} });
}

/** Runs `load`; a model it finds unusable (a covariance not positive definite) is a data error of `source`. */
export function loadingFrom<T>(source: string, load: () => T): T {
  try {
    return load();
  } catch (e) {
    if (e instanceof WebGpuEmError && e.kind === 'numerical') throw dataError(`${source}: ${e.message}`);
    throw e;
  }
}

/** The column names a model keeps: D strings, or null. */
export function checkFeatureNames(names: readonly string[] | null, d: number): string[] | null {
  if (names === null) return null;
  if (!Array.isArray(names) || names.length !== d || names.some((n) => typeof n !== 'string')) {
    throw usageError(`featureNames must be ${d} strings (one per feature) or null`);
  }
  return [...names];
}

/**
 * A variational posterior as a bgmm@1 object: what a gmm@1 file holds (the expected weights, the
 * means, scikit-learn's `covariances_`), then the posterior's own parameters and the priors.
 */
export function bayesianToJson(
  post: VariationalPosterior,
  priors: VariationalPriors | null,
  regCovar: number,
  names: readonly string[] | null,
): Record<string, unknown> {
  const columns = checkFeatureNames(names, post.nFeatures);
  const mixture = posteriorMixture(post);
  const list = (a: Float64Array) => Array.from(a);
  return gmmModelToJson({
    format: BGMM_FORMAT,
    covarianceType: post.covarianceType,
    nFeatures: post.nFeatures,
    weights: mixture.weights,
    means: post.means,
    covariances: covariancesAsArray(mixture),
    extra: {
      regCovar,
      weightConcentrationPriorType: post.weightConcentrationPriorType,
      weightConcentration: list(post.weightConcentration),
      meanPrecision: list(post.meanPrecision),
      degreesOfFreedom: list(post.degreesOfFreedom),
      ...(priors
        ? {
            priors: {
              weightConcentrationPrior: priors.weightConcentrationPrior,
              meanPrecisionPrior: priors.meanPrecisionPrior,
              meanPrior: list(priors.meanPrior),
              degreesOfFreedomPrior: priors.degreesOfFreedomPrior,
              // In scikit-learn's shape: full and tied D x D (flat), diag D, spherical one value.
              covariancePrior: list(
                covariancePriorArray(post.covarianceType, priors.covariancePrior, post.nFeatures),
              ),
            },
          }
        : {}),
      ...(columns ? { columns } : {}),
    },
  });
}

/** A bgmm@1 model read back: the posterior (every field checked), the priors when saved, regCovar, columns. */
export function bayesianFromJson(json: unknown, source: string) {
  const spec = readModelJson(json, BGMM_FORMAT, source);
  if (!spec.weights || !spec.covariances || !spec.covarianceType) {
    throw dataError(
      `${source}: a bgmm@1 model needs weights, covariances and covarianceType (refit and save it)`,
    );
  }
  const type: CovarianceType = spec.covarianceType;
  const k = spec.nComponents;
  const d = spec.nFeatures;
  const o = modelObject(json) as Record<string, unknown>;
  const priorType = o.weightConcentrationPriorType as WeightConcentrationPriorType;
  try {
    checkChoice('weightConcentrationPriorType', priorType, WEIGHT_CONCENTRATION_PRIOR_TYPES);
  } catch (e) {
    throw dataError(`${source}: ${(e as Error).message}`);
  }
  const numbers = (name: string, length: number, floor: number): Float64Array => {
    const v = o[name];
    if (
      !Array.isArray(v) ||
      v.length !== length ||
      v.some((e) => typeof e !== 'number' || !(e > floor) || !Number.isFinite(e))
    ) {
      throw dataError(
        `${source}: ${name} must be ${length} finite numbers > ${floor}; refit and save the model`,
      );
    }
    return Float64Array.from(v as number[]);
  };
  const posterior: VariationalPosterior = {
    covarianceType: type,
    nComponents: k,
    nFeatures: d,
    weightConcentrationPriorType: priorType,
    weightConcentration: numbers('weightConcentration', priorType === 'dirichlet_process' ? 2 * k : k, 0),
    meanPrecision: numbers('meanPrecision', k, 0),
    means: spec.means,
    degreesOfFreedom: numbers('degreesOfFreedom', k, d - 1),
    covariances: family(type).fromArray(family(type).fromFullMatrices(spec.covariances, k, d), k, d),
  };
  // The file's weights are the posterior's expected weights: a file whose two disagree (edited
  // by hand, say) would predict with weights other than those it shows.
  const expected = posteriorMixture(posterior).weights;
  for (let j = 0; j < k; j++) {
    if (!(Math.abs(expected[j] - spec.weights[j]) <= 1e-6)) {
      throw dataError(
        `${source}: weights[${j}] is ${spec.weights[j]} but the posterior (weightConcentration) gives ${expected[j]}; the weights and the posterior disagree: refit and save the model`,
      );
    }
  }
  const regCovar = savedRegCovar(o, source);
  return { posterior, priors: readPriors(o.priors, posterior, source), regCovar, columns: spec.columns };
}

/** A model's saved regCovar: absent (the default), or a finite number >= 0; anything else is refused. */
function savedRegCovar(o: unknown, source: string): number | undefined {
  const saved = (o as { regCovar?: unknown }).regCovar;
  if (saved === undefined || saved === null) return undefined;
  if (typeof saved !== 'number' || !Number.isFinite(saved) || saved < 0) {
    throw dataError(
      `${source}: regCovar is ${typeof saved === 'string' ? JSON.stringify(saved.slice(0, 40)) : String(saved)}; it must be a finite number >= 0 (or left out for ${defaultOf(GAUSSIAN_MIXTURE_SCHEMA, 'regCovar')})`,
    );
  }
  return saved;
}

/** The saved priors, or null when the file has none (they are not needed to predict). */
function readPriors(v: unknown, post: VariationalPosterior, source: string): VariationalPriors | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v))
    throw dataError(`${source}: priors must be an object (the priors a bgmm@1 model was fitted with)`);
  const p = v as Record<string, unknown>;
  const d = post.nFeatures;
  // Each prior within its domain (as the options are checked), so that a refit from them is valid.
  const num = (name: string, floor: number) => {
    const e = p[name];
    if (typeof e !== 'number' || !Number.isFinite(e) || !(e > floor))
      throw dataError(`${source}: priors.${name} must be a finite number > ${floor}, got ${String(e)}`);
    return e;
  };
  const arr = (name: string, length: number) => {
    const e = p[name];
    if (
      !Array.isArray(e) ||
      e.length !== length ||
      e.some((x) => typeof x !== 'number' || !Number.isFinite(x))
    )
      throw dataError(`${source}: priors.${name} must be ${length} finite numbers`);
    return Float64Array.from(e as number[]);
  };
  const cov = arr('covariancePrior', priorLength(post.covarianceType, d));
  let covariancePrior: Float64Array | null;
  try {
    covariancePrior = covariancePriorFromArray(post.covarianceType, cov, d);
  } catch (e) {
    throw dataError(`${source}: priors.covariancePrior: ${(e as Error).message}`);
  }
  if (!covariancePrior)
    throw dataError(`${source}: priors.covariancePrior is not positive definite; refit and save the model`);
  return {
    weightConcentrationPriorType: post.weightConcentrationPriorType,
    weightConcentrationPrior: num('weightConcentrationPrior', 0),
    meanPrecisionPrior: num('meanPrecisionPrior', 0),
    meanPrior: arr('meanPrior', d),
    degreesOfFreedomPrior: num('degreesOfFreedomPrior', d - 1),
    covariancePrior,
  };
}
