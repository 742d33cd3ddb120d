import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backends/cpu/cpu-backend.js';
import { mStep, shiftsFor, toComponentParameters, type GmmParameters } from '../src/models/gmm-parameters.js';
import {
  choleskyPacked,
  invertLowerPacked,
  packedIndex,
  packedSize,
  unpackSymmetric,
} from '../src/core/linalg.js';
import { parametersFromCentres } from '../src/models/init.js';
import { Random } from '../src/core/random.js';
import { makeBlobs, maxAbsDiff, kmeansPlusPlusCpu } from './helpers/data.js';

/** Textbook density through an explicit inverse and determinant (Gauss-Jordan), independent of the Cholesky path. */
function logDensityNaive(
  x: ArrayLike<number>,
  mean: ArrayLike<number>,
  cov: Float64Array,
  d: number,
): number {
  const a = Array.from({ length: d }, (_, i) => [
    ...Array.from({ length: d }, (_, j) => cov[i * d + j]),
    ...Array.from({ length: d }, (_, j) => (i === j ? 1 : 0)),
  ]);
  let det = 1;
  for (let c = 0; c < d; c++) {
    let p = c;
    for (let r = c + 1; r < d; r++) if (Math.abs(a[r][c]) > Math.abs(a[p][c])) p = r;
    if (p !== c) {
      [a[p], a[c]] = [a[c], a[p]];
      det = -det;
    }
    det *= a[c][c];
    const piv = a[c][c];
    for (let j = 0; j < 2 * d; j++) a[c][j] /= piv;
    for (let r = 0; r < d; r++) {
      if (r === c) continue;
      const f = a[r][c];
      for (let j = 0; j < 2 * d; j++) a[r][j] -= f * a[c][j];
    }
  }
  let maha = 0;
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) maha += (x[i] - mean[i]) * a[i][d + j] * (x[j] - mean[j]);
  return -0.5 * (d * Math.log(2 * Math.PI) + Math.log(det) + maha);
}

function randomParameters(k: number, d: number, seed: number): GmmParameters {
  const rng = new Random(seed);
  const P = packedSize(d);
  const covariances = new Float64Array(k * P);
  for (let c = 0; c < k; c++) {
    // A A^T + I is symmetric positive definite.
    const a = Float64Array.from({ length: d * d }, () => rng.normal());
    for (let i = 0; i < d; i++) {
      for (let j = 0; j <= i; j++) {
        let s = i === j ? 1 : 0;
        for (let t = 0; t < d; t++) s += a[i * d + t] * a[j * d + t];
        covariances[c * P + packedIndex(i, j)] = s;
      }
    }
  }
  const w = Float64Array.from({ length: k }, () => 0.2 + rng.uniform());
  const total = w.reduce((s, v) => s + v, 0);
  return {
    covarianceType: 'full',
    nComponents: k,
    nFeatures: d,
    weights: w.map((v) => v / total),
    means: Float64Array.from({ length: k * d }, () => rng.normal() * 3),
    covariances,
  };
}

describe('float64 linear algebra', () => {
  it('Cholesky and triangular inverse reproduce the matrix and the identity', () => {
    const d = 5;
    const p = randomParameters(1, d, 3);
    const c = choleskyPacked(p.covariances, d)!;
    const m = invertLowerPacked(c, d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j <= i; j++) {
        let cc = 0;
        for (let t = 0; t <= j; t++) cc += c[packedIndex(i, t)] * c[packedIndex(j, t)];
        expect(cc).toBeCloseTo(p.covariances[packedIndex(i, j)], 10);
        let mc = 0;
        for (let t = j; t <= i; t++) mc += m[packedIndex(i, t)] * c[packedIndex(t, j)];
        expect(mc).toBeCloseTo(i === j ? 1 : 0, 10);
      }
    }
  });

  it('reports a matrix that is not positive definite', () => {
    expect(choleskyPacked(Float64Array.from([1, 2, 1]), 2)).toBeNull();
  });
});

describe('CPU reference backend', () => {
  it('matches the textbook density and the direct sums', async () => {
    const k = 3;
    const d = 4;
    const p = randomParameters(k, d, 11);
    const x = makeBlobs({ n: 200, d, k, seed: 5 });
    const bound = await new CpuBackend().bindData(x);
    const cp = toComponentParameters(p);
    const shifts = shiftsFor(p);
    const stats = await bound.sufficientStatistics(cp, shifts);
    const full = new Float64Array(k * d * d);
    for (let c = 0; c < k; c++) unpackSymmetric(p.covariances, d, full, c * d * d, c * packedSize(d));

    let ll = 0;
    const nk = new Float64Array(k);
    const first = new Float64Array(k * d);
    for (let n = 0; n < x.rows; n++) {
      const row = x.data.subarray(n * d, n * d + d);
      const joint = Array.from(
        { length: k },
        (_, c) =>
          Math.exp(logDensityNaive(row, p.means.subarray(c * d), full.subarray(c * d * d), d)) * p.weights[c],
      );
      const px = joint.reduce((s, v) => s + v, 0);
      ll += Math.log(px);
      for (let c = 0; c < k; c++) {
        nk[c] += joint[c] / px;
        for (let i = 0; i < d; i++) first[c * d + i] += (joint[c] / px) * (row[i] - shifts[c * d + i]);
      }
    }
    expect(stats.logLikelihoodSum).toBeCloseTo(ll, 8);
    expect(maxAbsDiff(stats.nk, nk)).toBeLessThan(1e-9);
    expect(maxAbsDiff(stats.firstMoment, first)).toBeLessThan(1e-8);
    const e = await bound.eStep(cp, { responsibilities: true });
    expect(e.logLikelihood!.reduce((s, v) => s + v, 0)).toBeCloseTo(ll, 8);
  });

  it('M-step recovers the weighted mean and covariance whatever the shift', async () => {
    const x = makeBlobs({ n: 500, d: 3, k: 2, offset: 1e4, seed: 2 });
    const rng = new Random(4);
    const init = parametersFromCentres(x, await kmeansPlusPlusCpu(x, 2, rng), 1e-6);
    const bound = await new CpuBackend().bindData(x);
    const cp = toComponentParameters(init);
    const a = mStep(await bound.sufficientStatistics(cp, shiftsFor(init)), shiftsFor(init), 1e-6, 'full');
    const zero = new Float64Array(init.means.length);
    const b = mStep(await bound.sufficientStatistics(cp, zero), zero, 1e-6, 'full');
    expect(maxAbsDiff(a.means, b.means)).toBeLessThan(1e-7);
    // Sums around 0 of data at 1e4 cancel ~8 digits even in float64; around the mean they don't.
    expect(maxAbsDiff(a.covariances, b.covariances)).toBeLessThan(1e-4);
    expect(maxAbsDiff(a.weights, b.weights)).toBeLessThan(1e-12);
  });
});
