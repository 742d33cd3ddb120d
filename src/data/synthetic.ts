import { Random } from '../core/random.js';
import type { Matrix } from './matrix.js';

/** Shape of a synthetic data set of Gaussian blobs. */
export interface BlobsOptions {
  n: number;
  d: number;
  k: number;
  /** Distance scale between cluster centres. */
  spread?: number;
  /** Added to every value (data far from the origin). */
  offset?: number;
  seed?: number;
}

/**
 * Seeded Gaussian blobs with correlated, unequal covariances (x = centre + A z with a random A),
 * so full covariance matters.
 */
export function makeBlobs({
  n,
  d,
  k,
  spread = 6,
  offset = 0,
  seed = 1,
}: BlobsOptions): Matrix & { labels: Int32Array } {
  const rng = new Random(seed);
  const centres = Float64Array.from({ length: k * d }, () => rng.normal() * spread);
  const mixing = Float64Array.from({ length: k * d * d }, () => rng.normal() * 0.6);
  for (let c = 0; c < k; c++) for (let i = 0; i < d; i++) mixing[c * d * d + i * d + i] += 1;
  const data = new Float32Array(n * d);
  const labels = new Int32Array(n);
  const z = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    const c = r % k;
    labels[r] = c;
    for (let i = 0; i < d; i++) z[i] = rng.normal();
    for (let i = 0; i < d; i++) {
      let v = centres[c * d + i] + offset;
      for (let j = 0; j < d; j++) v += mixing[c * d * d + i * d + j] * z[j];
      data[r * d + i] = v;
    }
  }
  return { data, rows: n, cols: d, labels };
}
