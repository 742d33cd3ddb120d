import { dataError } from '../errors.js';

// Hard labels a caller starts a mixture from (scikit-learn's `_initialize` from one-hot
// responsibilities; its 'kmeans' init does that with k-means labels): init-sums.ts sums them.

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

/** Hard labels to start from: one integer in [0, K) per sample. */
export interface InitialLabels {
  readonly labels: ArrayLike<number>;
}
