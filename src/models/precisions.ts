import { family } from '../core/families.js';
import type { CovarianceType } from '../core/names.js';
import { dataError } from '../errors.js';

/**
 * scikit-learn's `precisions_` (`cholesky` false) or `precisions_cholesky_` (true) from
 * covariances in its shapes (full K x D x D, tied D x D, diag K x D, spherical K), in float64.
 * The Cholesky form is upper triangular, with precision = U Uᵀ, as scikit-learn's.
 */
export function precisionsOf(
  p: { covarianceType: CovarianceType; nComponents: number; nFeatures: number },
  covariances: Float64Array,
  cholesky: boolean,
): Float64Array {
  const { covarianceType: type, nComponents: k, nFeatures: d } = p;
  if (family(type).statistics === 'diagonal') {
    return covariances.map((v) => (cholesky ? 1 / Math.sqrt(v) : 1 / v));
  }
  const matrices = family(type).dims[0] === 'K' ? k : 1;
  const out = new Float64Array(matrices * d * d);
  for (let m = 0; m < matrices; m++) {
    const inverse = inverseCholesky(covariances.subarray(m * d * d, (m + 1) * d * d), d, m);
    const o = m * d * d;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        // U = (L⁻¹)ᵀ; precision = (L⁻¹)ᵀ L⁻¹.
        if (cholesky) out[o + i * d + j] = inverse[j * d + i];
        else {
          let s = 0;
          for (let t = Math.max(i, j); t < d; t++) s += inverse[t * d + i] * inverse[t * d + j];
          out[o + i * d + j] = s;
        }
      }
    }
  }
  return out;
}

/** L⁻¹ (dense lower triangular) of the Cholesky factor L of a D x D covariance. */
function inverseCholesky(a: Float64Array, d: number, index: number): Float64Array {
  const l = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    let s = a[j * d + j];
    for (let t = 0; t < j; t++) s -= l[j * d + t] ** 2;
    if (!(s > 0)) {
      throw dataError(
        `covariance ${index} is not positive definite (Cholesky pivot ${j} is ${s}); refit with a larger regCovar`,
      );
    }
    l[j * d + j] = Math.sqrt(s);
    for (let i = j + 1; i < d; i++) {
      let t = a[i * d + j];
      for (let q = 0; q < j; q++) t -= l[i * d + q] * l[j * d + q];
      l[i * d + j] = t / l[j * d + j];
    }
  }
  const inv = new Float64Array(d * d);
  for (let c = 0; c < d; c++) {
    for (let i = c; i < d; i++) {
      let s = i === c ? 1 : 0;
      for (let t = c; t < i; t++) s -= l[i * d + t] * inv[t * d + c];
      inv[i * d + c] = s / l[i * d + i];
    }
  }
  return inv;
}
