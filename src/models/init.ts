import { WebGpuEmError } from '../errors.js';
import type { BoundData } from '../backends/backend.js';
import type { Matrix } from '../data/matrix.js';
import { dataError } from '../errors.js';
import { family } from '../core/families.js';
import { DEFAULT_COVARIANCE_TYPE, type CovarianceType } from '../core/names.js';
import { covariancesFromArray, type GmmParameters } from './gmm-parameters.js';
import type { Random } from '../core/random.js';
import { weightTotal } from '../data/weights.js';
import { labelSums, nearestCentres, parametersFromSums } from './init-sums.js';
import { meansArray, type MeansInput } from './means-input.js';

/**
 * Parameters to start EM from, as users write them: flat row-major arrays or nested arrays.
 * `weights` and `covariances` may be omitted together: then they are estimated from each
 * sample's nearest mean.
 */
export interface InitialModel {
  /** K x D: flat, nested, or a matrix such as a fitted model's `means`. */
  readonly means: MeansInput;
  /** K. */
  readonly weights?: ArrayLike<number> | null;
  /** Covariances in the family's scikit-learn shape: full K x D x D, tied D x D, diag K x D, spherical K. */
  readonly covariances?: ArrayLike<number> | ArrayLike<ArrayLike<ArrayLike<number>>> | null;
}

/**
 * A row drawn with probability proportional to its weight: the first whose running weight sum
 * exceeds u times the total. With unit weights it is floor(u N), the row `rng.integer(N)` draws
 * from the same u, so weights of one fit as no weights do, and zero weights as dropped rows.
 * Rows in `exclude` count as weight zero (a draw among the rest).
 */
export function weightedRow(
  weights: Float64Array | null,
  n: number,
  u: number,
  total?: number,
  exclude?: ReadonlySet<number>,
): number {
  if (!weights && !exclude) return Math.floor(u * n);
  const weight = (r: number) => (exclude?.has(r) ? 0 : weights ? weights[r] : 1);
  let sum = exclude ? undefined : total;
  if (sum === undefined) {
    sum = 0;
    for (let r = 0; r < n; r++) if (weight(r) > 0) sum += weight(r);
  }
  let target = u * sum;
  let last = -1;
  for (let r = 0; r < n; r++) {
    const w = weight(r);
    if (!(w > 0)) continue;
    last = r;
    target -= w;
    if (target < 0) return r;
  }
  if (last < 0) throw new WebGpuEmError('data', 'no sample of positive weight is left to draw from');
  return last;
}

/**
 * Greedy k-means++ (Arthur and Vassilvitskii, with scikit-learn's 2 + ln K candidates per step):
 * each new centre is drawn with probability proportional to the squared distance to the
 * nearest centre chosen so far, and of the candidates the one that lowers the total most is
 * kept. The distances are computed and held by the backend (on the GPU for large N); only the
 * draws happen here. With sample weights (the bound data's) the first centre is drawn by weight
 * and the others by weight x distance, as scikit-learn's `kmeans_plusplus` with
 * `sample_weight`: the draws of duplicated samples.
 */
export async function kmeansPlusPlus(
  bound: BoundData,
  x: Matrix,
  k: number,
  rng: Random,
): Promise<Float64Array> {
  const { rows: n, cols: d, data } = x;
  const centres = new Float64Array(k * d);
  const row = (r: number) => Float64Array.from(data.subarray(r * d, r * d + d));
  const weights = bound.weights;
  const first = weightedRow(weights, n, rng.uniform());
  centres.set(row(first), 0);
  let { state } = await bound.seedingStep([row(first)], null);
  const trials = 2 + Math.floor(Math.log(k));
  try {
    for (let c = 1; c < k; c++) {
      // The step's draws, all from the same state: the uniforms in the order one draw at a time took them.
      const us = Array.from({ length: trials }, () => rng.uniform());
      const candidates =
        state.potential > 0 ? await state.samples(us) : us.map((u) => weightedRow(weights, n, u));
      const kept = await bound.seedingStep(candidates.map(row), state);
      state.release();
      state = kept.state;
      centres.set(row(candidates[kept.index]), c * d);
    }
  } finally {
    state.release();
  }
  return centres;
}

/** K distinct samples, drawn uniformly (by weight, among those of positive weight), as centres. */
export function randomFromDataCentres(
  x: Matrix,
  k: number,
  rng: Random,
  weights: Float64Array | null = null,
): Float64Array {
  const { rows: n, cols: d, data } = x;
  const chosen = new Set<number>();
  const centres = new Float64Array(k * d);
  const total = weightTotal(weights, n);
  for (let c = 0; c < k; c++) {
    let row = weightedRow(weights, n, rng.uniform(), total);
    // Redraws are cheap while the chosen rows hold little of the weight; when they hold nearly
    // all of it (one heavy row), draw among the rest directly instead of redrawing for ever.
    for (let attempt = 0; chosen.has(row); attempt++) {
      row =
        attempt < DISTINCT_REDRAWS
          ? weightedRow(weights, n, rng.uniform(), total)
          : weightedRow(weights, n, rng.uniform(), undefined, chosen);
    }
    chosen.add(row);
    for (let i = 0; i < d; i++) centres[c * d + i] = data[row * d + i];
  }
  return centres;
}

/** Redraws of an already chosen row before drawing among the others directly. */
const DISTINCT_REDRAWS = 32;

/**
 * EM's start from centres: each sample's nearest centre (float64), the sums of that assignment
 * around the centres, then {@link parametersFromSums} (a centre no sample is nearest to keeps its
 * position, with the whole data's covariance). Synchronous, for tests and the bench; fits take
 * the same path through `initialParameters` (mixture-start.ts).
 */
export function parametersFromCentres(
  x: Matrix,
  centres: Float64Array,
  regCovar: number,
  type: CovarianceType = DEFAULT_COVARIANCE_TYPE,
  weights: Float64Array | null = null,
): GmmParameters {
  const k = centres.length / x.cols;
  const sums = labelSums(x, nearestCentres(x, centres), k, weights, family(type).statistics, centres);
  return parametersFromSums(x, sums, regCovar, type, weights);
}

/**
 * Checks a user's initial model against K and D and turns it into parameters (or, for a
 * means-only model, centres to estimate them from).
 */
export function readInitialModel(
  model: InitialModel,
  k: number,
  d: number,
  type: CovarianceType = DEFAULT_COVARIANCE_TYPE,
): { centres: Float64Array } | { params: GmmParameters } {
  const means = flatten(meansArray(model.means, k, d, 'init.means', 'nComponents x nFeatures'), 'init.means');
  if (means.length !== k * d) {
    throw dataError(
      `the initial model has ${means.length} mean values but nComponents x nFeatures = ${k} x ${d} = ${k * d}; ` +
        'fit with the K and the number of columns the model was made for',
    );
  }
  const hasW = model.weights != null;
  const hasC = model.covariances != null;
  if (!hasW && !hasC) return { centres: means };
  if (hasW !== hasC)
    throw dataError('the initial model has weights or covariances but not both; give both or neither');
  const weights = flatten(model.weights!, 'init.weights');
  if (weights.length !== k) throw dataError(`the initial model has ${weights.length} weights, expected ${k}`);
  let total = 0;
  for (let c = 0; c < k; c++) {
    if (!(weights[c] >= 0)) throw dataError(`init.weights[${c}] = ${weights[c]} must be >= 0`);
    total += weights[c];
  }
  if (!(total > 0)) throw dataError('init.weights sum to 0; give positive weights');
  for (let c = 0; c < k; c++) weights[c] /= total;
  const covariances = covariancesFromArray(type, flatten(model.covariances!, 'init.covariances'), k, d);
  return { params: { covarianceType: type, nComponents: k, nFeatures: d, weights, means, covariances } };
}

function flatten(v: ArrayLike<unknown>, what: string): Float64Array {
  const out: number[] = [];
  const walk = (a: unknown, path: string): void => {
    if (typeof a === 'number') {
      if (!Number.isFinite(a)) throw dataError(`${path} = ${a} is not a finite number`);
      out.push(a);
    } else if (a != null && typeof a === 'object' && 'length' in a) {
      const arr = a as ArrayLike<unknown>;
      for (let i = 0; i < arr.length; i++) walk(arr[i], `${path}[${i}]`);
    } else {
      throw dataError(`${path} is ${String(a)}, expected a number or an array of numbers`);
    }
  };
  walk(v, what);
  return Float64Array.from(out);
}
