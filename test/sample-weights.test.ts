import { describe, expect, it } from 'vitest';
import {
  COVARIANCE_TYPES,
  GaussianMixture,
  KMeans,
  selectGaussianMixture,
  WebGpuEmError,
} from '../src/index.js';
import { makeBlobs } from './helpers/data.js';
import { duplicated, relDiff, withDropped } from './helpers/weights.js';

const cpu = { backend: 'cpu' as const };

/**
 * On the float64 reference the weighted sums and the sums over repeated rows differ only in
 * the order of additions (w x term against term + term), so the fits agree to ~1e-13 of
 * their scale after 15 iterations; 1e-9 leaves room for EM's amplification, no more.
 */
const SAME_FIT = 1e-9;

describe('sample weights on the CPU reference', () => {
  const x = makeBlobs({ n: 600, d: 3, k: 3, seed: 5, spread: 5 });

  for (const covarianceType of COVARIANCE_TYPES) {
    it(`integer weights fit as repeated rows (${covarianceType}, k-means++ init)`, async () => {
      const { weights, repeated } = duplicated(x);
      const options = { nComponents: 3, covarianceType, tol: 0, maxIter: 15, ...cpu };
      const a = await new GaussianMixture(options).fit(x, { sampleWeight: weights });
      const b = await new GaussianMixture(options).fit(repeated);
      expect(relDiff(a.weights, b.weights)).toBeLessThan(SAME_FIT);
      expect(relDiff(a.means.data, b.means.data)).toBeLessThan(SAME_FIT);
      expect(relDiff(a.covariances, b.covariances)).toBeLessThan(SAME_FIT);
      expect(Math.abs(a.lowerBound - b.lowerBound)).toBeLessThan(SAME_FIT * Math.abs(b.lowerBound));
      const bic = await a.bic(x, { sampleWeight: weights });
      expect(Math.abs(bic - (await b.bic(repeated)))).toBeLessThan(1e-8 * Math.abs(bic));
    });
  }

  for (const init of ['kmeans++', 'kmeans', 'random', 'random-from-data'] as const) {
    it(`zero weights fit as the rows dropped (init ${init}, far-away zero-weight rows)`, async () => {
      const { x: all, weights, kept } = withDropped(x);
      const options = { nComponents: 3, init, tol: 0, maxIter: 10, ...cpu };
      const a = await new GaussianMixture(options).fit(all, { sampleWeight: weights });
      const b = await new GaussianMixture(options).fit(kept);
      // The same additions in the same order (x 1, or skipped): the same bits, up to 1e-12.
      expect(relDiff(a.means.data, b.means.data)).toBeLessThan(1e-12);
      expect(relDiff(a.covariances, b.covariances)).toBeLessThan(1e-12);
      expect(a.lowerBound).toBeCloseTo(b.lowerBound, 12);
    });
  }

  it('k-means: integer weights as repeated rows, zero weights as dropped rows', async () => {
    const options = { nClusters: 4, tol: 0, maxIter: 30, ...cpu };
    const { weights, repeated } = duplicated(x);
    const a = await new KMeans(options).fit(x, { sampleWeight: weights });
    const b = await new KMeans(options).fit(repeated);
    expect(relDiff(a.clusterCenters.data, b.clusterCenters.data)).toBeLessThan(SAME_FIT);
    expect(Math.abs(a.inertia - b.inertia)).toBeLessThan(SAME_FIT * b.inertia);
    expect(a.nIter).toBe(b.nIter);

    const dropped = withDropped(x);
    for (const init of ['kmeans++', 'random'] as const) {
      const c = await new KMeans({ ...options, init }).fit(dropped.x, { sampleWeight: dropped.weights });
      const e = await new KMeans({ ...options, init }).fit(dropped.kept);
      expect(relDiff(c.clusterCenters.data, e.clusterCenters.data)).toBeLessThan(1e-12);
      expect(c.inertia).toBeCloseTo(e.inertia, 6);
      expect(c.nIter).toBe(e.nIter);
    }
  });

  it('scaling every weight leaves the fit as it is', async () => {
    const options = { nComponents: 2, tol: 0, maxIter: 8, ...cpu };
    const half = new Float64Array(x.rows).fill(0.37);
    const a = await new GaussianMixture(options).fit(x, { sampleWeight: half });
    const b = await new GaussianMixture(options).fit(x);
    expect(relDiff(a.means.data, b.means.data)).toBeLessThan(1e-12);
    expect(a.lowerBound).toBeCloseTo(b.lowerBound, 10);
  });

  it('model selection with weights scores as on the repeated rows', async () => {
    const { weights, repeated } = duplicated(x);
    const options = { nComponents: [1, 2, 3], maxIter: 10, ...cpu };
    const a = await selectGaussianMixture(x, { ...options, sampleWeight: weights });
    const b = await selectGaussianMixture(repeated, options);
    a.scores.forEach((s, i) =>
      expect(Math.abs(s.bic - b.scores[i].bic)).toBeLessThan(1e-7 * Math.abs(s.bic)),
    );
    expect(a.best.nComponents).toBe(b.best.nComponents);
  });

  it('random inits draw distinct rows even when one row holds nearly all the weight', async () => {
    const few = { data: Float32Array.of(0, 0, 5, 5, 10, 10), rows: 3, cols: 2 };
    for (const init of ['random', 'random-from-data'] as const) {
      const weights = Float64Array.of(1, 1e-30, 0);
      if (init === 'random') {
        const km = await new KMeans({ nClusters: 2, init, maxIter: 2, ...cpu }).fit(few, {
          sampleWeight: weights,
        });
        const centres = Array.from(km.clusterCenters.data).sort((a, b) => a - b);
        expect(centres).toEqual([0, 0, 5, 5]);
      } else {
        const g = await new GaussianMixture({ nComponents: 2, init, maxIter: 1, ...cpu }).fit(few, {
          sampleWeight: Float64Array.of(1e12, 1, 1),
        });
        expect(g.means.data.every(Number.isFinite)).toBe(true);
      }
    }
  });

  it('refuses bad weights with the row, and unknown fit options', async () => {
    const gmm = new GaussianMixture({ nComponents: 2, ...cpu });
    const w = new Float64Array(x.rows).fill(1);
    const bad = async (sampleWeight: ArrayLike<number>, pattern: RegExp) => {
      const error = await gmm.fit(x, { sampleWeight }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WebGpuEmError);
      expect((error as WebGpuEmError).kind).toBe('data');
      expect((error as Error).message).toMatch(pattern);
    };
    await bad(Float64Array.from(w).fill(-2, 17, 18), /sampleWeight\[17\] = -2 is negative/);
    await bad(Float64Array.from(w).fill(NaN, 40, 41), /sampleWeight\[40\] = NaN is not a finite number/);
    await bad(Float64Array.from(w).fill(Infinity, 3, 4), /sampleWeight\[3\] = Infinity/);
    await bad(w.subarray(1), /599 values but X has 600 rows/);
    await bad(new Float64Array(x.rows), /sums to 0/);
    const onlyOne = new Float64Array(x.rows);
    onlyOne[4] = 1;
    await bad(onlyOne, /1 samples of positive weight but nComponents = 2/);
    await expect(
      gmm.fit(x, { sampleWeights: w } as unknown as { sampleWeight: Float64Array }),
    ).rejects.toThrow(/unknown option 'sampleWeights'; did you mean 'sampleWeight'/);
    await expect(
      new KMeans({ nClusters: 2, ...cpu }).fit(x, { sampleWeight: Float64Array.from(w).fill(-1, 9, 10) }),
    ).rejects.toThrow(/sampleWeight\[9\] = -1 is negative/);
  });
});
