import type { Matrix } from '../../src/data/matrix.js';

/** Integer weights 1..3 by a fixed pattern, and X with each row repeated that many times in place. */
export function duplicated(x: Matrix): { weights: Float64Array; repeated: Matrix } {
  const weights = Float64Array.from({ length: x.rows }, (_, r) => 1 + ((r * 7) % 3));
  const rows: number[] = [];
  weights.forEach((w, r) => {
    for (let t = 0; t < w; t++) rows.push(r);
  });
  return { weights, repeated: pick(x, rows) };
}

/**
 * Zero weights on every third row and on `outliers` extra rows far from everything (appended
 * at the front), and X without those rows.
 */
export function withDropped(x: Matrix, outliers = 3): { x: Matrix; weights: Float64Array; kept: Matrix } {
  const d = x.cols;
  const data = new Float32Array((x.rows + outliers) * d);
  for (let o = 0; o < outliers; o++) for (let i = 0; i < d; i++) data[o * d + i] = 1e4 * (o + 1);
  data.set(x.data, outliers * d);
  const all: Matrix = { data, rows: x.rows + outliers, cols: d };
  const weights = Float64Array.from({ length: all.rows }, (_, r) => (r < outliers || r % 3 === 1 ? 0 : 1));
  const keep = [...weights.keys()].filter((r) => weights[r] > 0);
  return { x: all, weights, kept: pick(all, keep) };
}

/** The rows of X at `rows`, in that order. */
export function pick(x: Matrix, rows: readonly number[]): Matrix {
  const d = x.cols;
  const data = new Float32Array(rows.length * d);
  rows.forEach((r, i) => data.set(x.data.subarray(r * d, r * d + d), i * d));
  return { data, rows: rows.length, cols: d };
}

/** Largest |a - b| relative to the largest |b| (1 when b is all zero). */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return m / (scale || 1);
}
