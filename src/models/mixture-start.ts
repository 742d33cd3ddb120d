import type { BoundData } from '../backends/backend.js';
import type { Random } from '../core/random.js';
import type { Matrix } from '../data/matrix.js';
import { positiveRows } from '../data/weights.js';
import { dataError } from '../errors.js';
import type { ResolvedMixtureOptions } from './gaussian-mixture-options.js';
import type { GmmParameters } from './gmm-parameters.js';
import type { CovarianceType, InitMethod } from '../core/names.js';
import { family } from '../core/families.js';
import {
  kmeansPlusPlus,
  parametersFromCentres,
  parametersFromRandomResponsibilities,
  randomFromDataCentres,
  randomResponsibilitySums,
  readInitialModel,
  type InitialSums,
} from './init.js';
import {
  checkLabels,
  labelSums,
  nearestCentres,
  parametersFromLabels,
  type InitialLabels,
} from './init-labels.js';
import { KMeans } from './kmeans.js';

// Where a mixture fit starts: the checks of its samples and its initial parameters.

/** Most second-moment sums (K x the family's per-component count) a fit may hold: 1 GiB of float64. */
const MAX_COVARIANCE_SUMS = 2 ** 27;

/** Enough samples (of positive weight) for K components, and covariance sums that fit in memory. */
export function checkMixtureSamples(
  m: Matrix,
  weights: Float64Array | null,
  k: number,
  type: CovarianceType,
): void {
  const rows = positiveRows(m, weights);
  if (rows < k) {
    throw dataError(
      `X has ${rows} samples${weights ? ' of positive weight' : ''} but nComponents = ${k}; need at least as many samples as components (lower K or add data)`,
    );
  }
  // Initialisation and the host's M-step hold K x (D(D+1)/2 or D) second moments in float64.
  const perComponent = family(type).secondMoments(m.cols);
  const sums = k * perComponent;
  if (sums > MAX_COVARIANCE_SUMS) {
    const shape = perComponent === m.cols ? 'K x D' : 'K x D(D+1)/2';
    throw dataError(
      `K = ${k} components of D = ${m.cols} features need ${shape} = ${sums} covariance sums, over the limit of ` +
        `${MAX_COVARIANCE_SUMS} (1 GiB of float64) for '${type}' covariances; reduce the features (e.g. PCA) or the components`,
    );
  }
}

/** The starting parameters of a fit, as its `init` option says. */
export async function initialParameters(
  options: ResolvedMixtureOptions,
  rng: Random,
  m: Matrix,
  bound: BoundData,
): Promise<GmmParameters> {
  const { init, nComponents: k, regCovar, covarianceType: type } = options;
  const w = bound.weights;
  if (typeof init === 'object' && 'parameters' in init) {
    const p = init.parameters;
    if (p.nComponents !== k || p.nFeatures !== m.cols || p.covarianceType !== type) {
      throw dataError(
        `the initial model has K = ${p.nComponents}, D = ${p.nFeatures}, '${p.covarianceType}' covariances but this fit has ` +
          `K = ${k}, D = ${m.cols}, '${type}'; use a matching model`,
      );
    }
    return p;
  }
  if (typeof init === 'object' && 'labels' in init) {
    return parametersFromLabels(m, checkLabels(init.labels, m.rows, k), k, regCovar, type, w);
  }
  if (typeof init === 'object') {
    const read = readInitialModel(init, k, m.cols, type);
    return 'params' in read ? read.params : parametersFromCentres(m, read.centres, regCovar, type, w);
  }
  if (init === 'random') return parametersFromRandomResponsibilities(m, k, rng, regCovar, type, w);
  return parametersFromCentres(m, await initialCentres(init, k, rng, m, bound), regCovar, type, w);
}

/**
 * The sums of a fit's initial responsibilities (for a variational M-step, as scikit-learn's
 * `_initialize`): from the given labels, random responsibilities, or each sample's nearest
 * initial centre.
 */
export async function initialSums(
  init: InitMethod | InitialLabels,
  k: number,
  rng: Random,
  m: Matrix,
  bound: BoundData,
  type: CovarianceType,
): Promise<InitialSums> {
  const w = bound.weights;
  const layout = family(type).statistics;
  if (typeof init === 'object') return labelSums(m, checkLabels(init.labels, m.rows, k), k, w, layout);
  if (init === 'random') return randomResponsibilitySums(m, k, rng, w, layout);
  const centres = await initialCentres(init, k, rng, m, bound);
  return labelSums(m, nearestCentres(m, centres), k, w, layout);
}

/** K initial centres by one of the centre-based methods. */
async function initialCentres(
  init: Exclude<InitMethod, 'random'>,
  k: number,
  rng: Random,
  m: Matrix,
  bound: BoundData,
): Promise<Float64Array> {
  switch (init) {
    case 'kmeans++':
      return kmeansPlusPlus(bound, m, k, rng);
    case 'kmeans': {
      // scikit-learn's default: responsibilities from a k-means run, on the samples already
      // bound (this KMeans never creates a backend of its own).
      const km = new KMeans({ nClusters: k, seed: rng.fork() >>> 1 });
      // The bound samples carry their weights: the k-means run is weighted as this fit is.
      km.useSamples({ matrix: m, data: bound });
      await km.fit(m);
      return km.clusterCenters.data;
    }
    case 'random-from-data':
      return randomFromDataCentres(m, k, rng, bound.weights);
  }
}
