import { yieldIfDue } from '../core/turns.js';
import { family } from '../core/families.js';
import { packedIndex, packedSize } from '../core/linalg.js';
import type { CovarianceType } from '../core/names.js';
import { nearestCentre } from '../core/nearest.js';
import type { Random } from '../core/random.js';
import type { MomentSums, StatisticsKind } from '../core/statistics.js';
import type { Matrix } from '../data/matrix.js';
import { mStep, type GmmParameters } from './gmm-parameters.js';

// Every mixture start as sums: each `init` becomes a hard assignment (given labels, or each
// sample's nearest initial centre) or a soft one (random responsibilities), and its statistics;
// each model then applies its own M-step to them (EM's below, the variational one in
// variational.ts), as scikit-learn's `_initialize` does from its responsibilities.

/** Sums of initial responsibilities around shifts c_k, for an M-step (EM's or the variational one). */
export interface InitialSums {
  readonly stats: MomentSums;
  readonly shifts: Float64Array;
}

/** Multiply-adds of the host's assignment between looks at the clock (as the CPU backend's passes). */
const WORK_PER_CHECK = 1 << 18;

/** The nearest of K centres (K x D) for every sample, in float64 (core/nearest.ts). */
export function nearestCentres(x: Matrix, centres: Float64Array): Int32Array {
  const labels = new Int32Array(x.rows);
  labelRows(x, centres, 0, x.rows, labels);
  return labels;
}

/**
 * {@link nearestCentres} in blocks, letting the event loop run when the process's slice is used
 * up (turns.ts), so that a stop during a large initialisation is honoured: the labels are the same.
 */
export async function assignToCentres(
  x: Matrix,
  centres: Float64Array,
  signal?: AbortSignal,
): Promise<Int32Array> {
  const labels = new Int32Array(x.rows);
  const block = Math.max(1, Math.floor(WORK_PER_CHECK / Math.max(1, centres.length)));
  for (let from = 0; from < x.rows; from += block) {
    await yieldIfDue();
    signal?.throwIfAborted();
    labelRows(x, centres, from, Math.min(x.rows, from + block), labels);
  }
  return labels;
}

function labelRows(x: Matrix, centres: Float64Array, from: number, to: number, labels: Int32Array): void {
  const d = x.cols;
  const k = centres.length / d;
  for (let r = from; r < to; r++) labels[r] = nearestCentre(x.data, d, r, centres, k)[0];
}

/**
 * The sums of one-hot responsibilities from hard labels (rows of weight zero left out), around
 * `shifts` when given, else around each label's own mean (computed first, in float64, so data
 * far from the origin keeps its digits; an empty label is centred on the data's mean).
 */
export function labelSums(
  x: Matrix,
  labels: Int32Array,
  k: number,
  weights: Float64Array | null = null,
  /** The second moments to sum: 'diagonal' for diag and spherical. */
  layout: StatisticsKind = 'packed',
  shifts: Float64Array = labelMeans(x, labels, k, weights),
): InitialSums {
  const { rows: n, cols: d, data } = x;
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

/** Each label's weighted mean (the data's mean for a label no sample of positive weight has). */
function labelMeans(x: Matrix, labels: Int32Array, k: number, weights: Float64Array | null): Float64Array {
  const { rows: n, cols: d, data } = x;
  const means = new Float64Array(k * d);
  const count = new Float64Array(k);
  for (let r = 0; r < n; r++) {
    const w = weights ? weights[r] : 1;
    if (w === 0) continue;
    const c = labels[r];
    count[c] += w;
    for (let i = 0; i < d; i++) means[c * d + i] += w * data[r * d + i];
  }
  const centre = columnMeans(x, weights);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < d; i++) means[c * d + i] = count[c] > 0 ? means[c * d + i] / count[c] : centre[i];
  }
  return means;
}

/** The sums of uniform random responsibilities (scikit-learn's 'random'), normalised per sample. */
export function randomResponsibilitySums(
  x: Matrix,
  k: number,
  rng: Random,
  weights: Float64Array | null = null,
  /** The second moments to sum: 'diagonal' for diag and spherical. */
  layout: StatisticsKind = 'packed',
): InitialSums {
  const { rows: n, cols: d, data } = x;
  const P = layout === 'diagonal' ? d : packedSize(d);
  const shifts = new Float64Array(k * d);
  const centre = columnMeans(x, weights);
  for (let c = 0; c < k; c++) shifts.set(centre, c * d);
  const nk = new Float64Array(k);
  const first = new Float64Array(k * d);
  const second = new Float64Array(k * P);
  const resp = new Float64Array(k);
  let total = 0;
  for (let r = 0; r < n; r++) {
    const w = weights ? weights[r] : 1;
    // A row of weight zero draws nothing: the stream is that of the data without it.
    if (w === 0) continue;
    total += w;
    let s = 0;
    for (let c = 0; c < k; c++) s += resp[c] = rng.uniform();
    for (let c = 0; c < k; c++)
      accumulate(data, r, shifts, c, (w * resp[c]) / s, nk, first, second, d, layout);
  }
  return { stats: packedStats(k, d, total, nk, first, second, layout), shifts };
}

/**
 * EM's M-step of a start. A component no sample was assigned to stays at its shift (its centre,
 * or the data's mean for an empty label) with the covariance of the whole data set, in the
 * family's own shape (tied has one shared covariance already).
 */
export function parametersFromSums(
  x: Matrix,
  { stats, shifts }: InitialSums,
  regCovar: number,
  type: CovarianceType,
  weights: Float64Array | null = null,
): GmmParameters {
  const params = mStep(stats, shifts, regCovar, type);
  const empty = [...stats.nk.keys()].filter((c) => stats.nk[c] === 0);
  if (empty.length > 0) {
    const d = x.cols;
    const whole = dataCovariance(x, regCovar, weights);
    for (const c of empty) {
      params.means.set(shifts.subarray(c * d, c * d + d), c * d);
      family(type).setComponentCovariance(params.covariances, c, d, whole);
    }
  }
  return params;
}

/** Sums of initial responsibilities as the M-step reads them (packed or diagonal second moments). */
export function packedStats(
  k: number,
  d: number,
  weightSum: number,
  nk: Float64Array,
  first: Float64Array,
  second: Float64Array,
  layout: StatisticsKind = 'packed',
): MomentSums {
  return {
    nComponents: k,
    nFeatures: d,
    weightSum,
    logLikelihoodSum: 0,
    nk,
    firstMoment: first,
    secondMomentLayout: layout,
    secondMoment: second,
  };
}

/** Adds sample r with weight w to component c's sums around its shift. */
export function accumulate(
  data: Float32Array,
  r: number,
  shifts: Float64Array,
  c: number,
  w: number,
  nk: Float64Array,
  first: Float64Array,
  second: Float64Array,
  d: number,
  layout: StatisticsKind = 'packed',
): void {
  const P = packedSize(d);
  nk[c] += w;
  for (let i = 0; i < d; i++) {
    const di = data[r * d + i] - shifts[c * d + i];
    first[c * d + i] += w * di;
    if (layout === 'diagonal') {
      second[c * d + i] += w * di * di;
      continue;
    }
    for (let j = 0; j <= i; j++)
      second[c * P + packedIndex(i, j)] += w * di * (data[r * d + j] - shifts[c * d + j]);
  }
}

/** Weighted column means (plain means without weights). */
export function columnMeans(x: Matrix, weights: Float64Array | null = null): Float64Array {
  const m = new Float64Array(x.cols);
  let total = 0;
  for (let r = 0; r < x.rows; r++) {
    const w = weights ? weights[r] : 1;
    total += w;
    for (let i = 0; i < x.cols; i++) m[i] += w * x.data[r * x.cols + i];
  }
  for (let i = 0; i < x.cols; i++) m[i] /= total;
  return m;
}

/** Covariance of all samples (weighted; packed lower), plus regCovar on the diagonal. */
export function dataCovariance(
  x: Matrix,
  regCovar: number,
  weights: Float64Array | null = null,
): Float64Array {
  const d = x.cols;
  const mean = columnMeans(x, weights);
  const cov = new Float64Array(packedSize(d));
  let total = 0;
  for (let r = 0; r < x.rows; r++) {
    const w = weights ? weights[r] : 1;
    total += w;
    for (let i = 0; i < d; i++) {
      const di = w * (x.data[r * d + i] - mean[i]);
      for (let j = 0; j <= i; j++) cov[packedIndex(i, j)] += di * (x.data[r * d + j] - mean[j]);
    }
  }
  for (let p = 0; p < cov.length; p++) cov[p] /= total;
  for (let i = 0; i < d; i++) cov[packedIndex(i, i)] += regCovar;
  return cov;
}
