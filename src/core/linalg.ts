/**
 * Small dense float64 linear algebra for the M-step. Symmetric and triangular matrices of
 * size D are stored packed lower-triangular, row-major: element (i, j), j <= i, at i(i+1)/2 + j.
 */

/** Number of entries in a packed lower triangle of a D x D matrix. */
export const packedSize = (d: number): number => (d * (d + 1)) / 2;

/** Index of (i, j), j <= i, in a packed lower triangle. */
export const packedIndex = (i: number, j: number): number => (i * (i + 1)) / 2 + j;

/**
 * Cholesky factor C (packed lower) of a packed symmetric matrix A = C C^T, or null when A is
 * not positive definite.
 */
export function choleskyPacked(a: Float64Array, d: number, aOffset = 0): Float64Array | null {
  const c = new Float64Array(packedSize(d));
  for (let i = 0; i < d; i++) {
    const ri = packedIndex(i, 0);
    for (let j = 0; j <= i; j++) {
      const rj = packedIndex(j, 0);
      let s = a[aOffset + ri + j];
      for (let k = 0; k < j; k++) s -= c[ri + k] * c[rj + k];
      if (i === j) {
        if (!(s > 0) || !Number.isFinite(s)) return null;
        c[ri + i] = Math.sqrt(s);
      } else {
        c[ri + j] = s / c[rj + j];
      }
    }
  }
  return c;
}

/** Inverse of a packed lower-triangular matrix (itself lower-triangular). */
export function invertLowerPacked(c: Float64Array, d: number): Float64Array {
  const m = new Float64Array(packedSize(d));
  for (let col = 0; col < d; col++) {
    // Forward substitution for column `col` of C^-1.
    for (let i = col; i < d; i++) {
      let s = i === col ? 1 : 0;
      const ri = packedIndex(i, 0);
      for (let k = col; k < i; k++) s -= c[ri + k] * m[packedIndex(k, col)];
      m[ri + col] = s / c[ri + i];
    }
  }
  return m;
}

/** Expands a packed symmetric matrix into a full row-major D x D array (written at `out[offset]`). */
export function unpackSymmetric(
  p: ArrayLike<number>,
  d: number,
  out: Float64Array,
  offset = 0,
  pOffset = 0,
): void {
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      const v = p[pOffset + packedIndex(i, j)];
      out[offset + i * d + j] = v;
      out[offset + j * d + i] = v;
    }
  }
}
