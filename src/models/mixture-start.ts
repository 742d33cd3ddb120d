import type { BoundData } from '../backends/backend.js';
import type { Random } from '../core/random.js';
import type { Matrix } from '../data/matrix.js';
import { positiveRows } from '../data/weights.js';
import { dataError } from '../errors.js';
import type { ResolvedMixtureOptions } from './gaussian-mixture-options.js';
import type { GmmParameters } from './gmm-parameters.js';
import type { CovarianceType, InitMethod } from '../core/names.js';
import { family } from '../core/families.js';
import { kmeansPlusPlus, randomFromDataCentres, readInitialModel } from './init.js';
import { checkLabels, type InitialLabels } from './init-labels.js';
import {
  assignToCentres,
  labelSums,
  parametersFromSums,
  randomResponsibilitySums,
  type InitialSums,
} from './init-sums.js';
import { KMeans } from './kmeans.js';
import { plainArray } from './results.js';

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

/** The starting parameters of a fit, as its `init` option says: given, or EM's M-step of its sums. */
export async function initialParameters(
  options: ResolvedMixtureOptions,
  rng: Random,
  m: Matrix,
  bound: BoundData,
  signal?: AbortSignal,
): Promise<GmmParameters> {
  const { init, nComponents: k, regCovar, covarianceType: type } = options;
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
  // EM's starts from centres sum around the centres (the variational one around each label's
  // mean): each keeps the sums, and so the fits, it has always had.
  const around = { aroundCentres: true, signal };
  let sums: InitialSums;
  if (typeof init === 'object' && !('labels' in init)) {
    const read = readInitialModel(init, k, m.cols, type);
    if ('params' in read) return read.params;
    sums = await centreSums(m, read.centres, bound.weights, type, around);
  } else {
    sums = await initialSums(init, k, rng, m, bound, type, around);
  }
  return parametersFromSums(m, sums, regCovar, type, bound.weights);
}

/** Where a start's sums from centres are taken, and the signal that stops a long assignment. */
export interface SumsOptions {
  /** Around the centres themselves (EM's starts), not each label's mean (the default). */
  readonly aroundCentres?: boolean;
  readonly signal?: AbortSignal;
}

/**
 * The sums of a fit's initial responsibilities (scikit-learn's `_initialize`), to which each
 * model applies its own M-step: from the given labels, random responsibilities, or each sample's
 * nearest initial centre.
 */
export async function initialSums(
  init: InitMethod | InitialLabels,
  k: number,
  rng: Random,
  m: Matrix,
  bound: BoundData,
  type: CovarianceType,
  options: SumsOptions = {},
): Promise<InitialSums> {
  const w = bound.weights;
  const layout = family(type).statistics;
  if (typeof init === 'object') return labelSums(m, checkLabels(init.labels, m.rows, k), k, w, layout);
  if (init === 'random') return randomResponsibilitySums(m, k, rng, w, layout);
  return centreSums(m, await initialCentres(init, k, rng, m, bound), w, type, options);
}

/** The sums of each sample's nearest centre (float64 on the host, yielding as it goes). */
async function centreSums(
  m: Matrix,
  centres: Float64Array,
  weights: Float64Array | null,
  type: CovarianceType,
  { aroundCentres = false, signal }: SumsOptions,
): Promise<InitialSums> {
  const labels = await assignToCentres(m, centres, signal);
  const k = centres.length / m.cols;
  const layout = family(type).statistics;
  return labelSums(m, labels, k, weights, layout, aroundCentres ? centres : undefined);
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
      return plainArray(km.clusterCenters.data); // the centres themselves, not their read-only view
    }
    case 'random-from-data':
      return randomFromDataCentres(m, k, rng, bound.weights);
  }
}
