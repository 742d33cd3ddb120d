import { family } from '../core/families.js';
import { packedSize } from '../core/linalg.js';
import { DEFAULT_COVARIANCE_TYPE, type CovarianceType } from '../core/names.js';
import type { Matrix } from '../data/matrix.js';
import { dataError } from '../errors.js';
import type { StatisticsKind } from '../core/statistics.js';
import { mStep, type GmmParameters } from './gmm-parameters.js';
import {
  accumulate,
  columnMeans,
  dataCovariance,
  packedStats,
  squaredDistance,
  type InitialSums,
} from './init.js';

// Starting a mixture from hard labels: scikit-learn's `_initialize` from one-hot
// responsibilities (its 'kmeans' init does that with k-means labels).

/** Checks hard labels (one integer in [0, K) per sample) and copies them into an Int32Array. */
export function checkLabels(labels: ArrayLike<number>, n: number, k: number): Int32Array {
  if (!labels || typeof labels.length !== 'number')
    throw dataError('initial labels must be a list of integers, one per sample');
  if (labels.length !== n) {
    throw dataError(
      `there are ${labels.length} initial labels but X has ${n} samples; give one label per sample`,
    );
  }
  const out = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const v = labels[r];
    if (!Number.isInteger(v) || v < 0 || v >= k) {
      throw dataError(`initial label ${r} is ${v}; labels must be integers from 0 to K - 1 = ${k - 1}`);
    }
    out[r] = v;
  }
  return out;
}

/**
 * The sums of one-hot responsibilities from hard labels, around each label's own mean (computed
 * first, in float64, so data far from the origin keeps its digits); an empty label is centred
 * on the data's mean.
 */
export function labelSums(
  x: Matrix,
  labels: Int32Array,
  k: number,
  weights: Float64Array | null = null,
  /** The second moments to sum: 'diagonal' for diag and spherical. */
  layout: StatisticsKind = 'packed',
): InitialSums {
  const { rows: n, cols: d, data } = x;
  const shifts = new Float64Array(k * d);
  const count = new Float64Array(k);
  for (let r = 0; r < n; r++) {
    const w = weights ? weights[r] : 1;
    if (w === 0) continue;
    const c = labels[r];
    count[c] += w;
    for (let i = 0; i < d; i++) shifts[c * d + i] += w * data[r * d + i];
  }
  const centre = columnMeans(x, weights);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < d; i++) shifts[c * d + i] = count[c] > 0 ? shifts[c * d + i] / count[c] : centre[i];
  }
  const P = layout === 'diagonal' ? d : packedSize(d);
  const nk = new Float64Array(k);
  const first = new Float64Array(k * d);
  const second = new Float64Array(k * P);
  let total = 0;
  for (let r = 0; r < n; r++) {
    const w = weights ? weights[r] : 1;
    if (w === 0) continue;
    total += w;
    accumulate(data, r, shifts, labels[r], w, nk, first, second, d, layout);
  }
  return { stats: packedStats(k, d, total, nk, first, second, layout), shifts };
}

/** Hard labels to start from: one integer in [0, K) per sample. */
export interface InitialLabels {
  readonly labels: ArrayLike<number>;
}

/**
 * EM's M-step from hard labels (one-hot responsibilities). A label no sample has gets the data's
 * mean and covariance, as an empty centre does in {@link parametersFromCentres}.
 */
export function parametersFromLabels(
  x: Matrix,
  labels: Int32Array,
  k: number,
  regCovar: number,
  type: CovarianceType = DEFAULT_COVARIANCE_TYPE,
  weights: Float64Array | null = null,
): GmmParameters {
  const { stats, shifts } = labelSums(x, labels, k, weights, family(type).statistics);
  const params = mStep(stats, shifts, regCovar, type);
  const empty = [...stats.nk.keys()].filter((c) => stats.nk[c] === 0);
  if (empty.length > 0) {
    const whole = dataCovariance(x, regCovar, weights);
    for (const c of empty) family(type).setComponentCovariance(params.covariances, c, x.cols, whole);
  }
  return params;
}

/** The nearest of K centres (K x D) for every sample, in float64. */
export function nearestCentres(x: Matrix, centres: Float64Array): Int32Array {
  const { rows: n, cols: d, data } = x;
  const k = centres.length / d;
  const labels = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    let bestDist = Infinity;
    for (let c = 0; c < k; c++) {
      const dist = squaredDistance(data, r, centres, c, d);
      if (dist < bestDist) {
        bestDist = dist;
        labels[r] = c;
      }
    }
  }
  return labels;
}
