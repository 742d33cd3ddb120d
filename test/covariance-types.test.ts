import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backends/cpu/cpu-backend.js';
import { GaussianMixture } from '../src/index.js';
import { mStep, shiftsFor, toComponentParameters } from '../src/models/gmm-parameters.js';
import { COVARIANCE_TYPES, type CovarianceType } from '../src/core/names.js';
import { parametersFromCentres } from '../src/models/init.js';
import { packedIndex, packedSize } from '../src/core/linalg.js';
import { Random } from '../src/core/random.js';
import { allFinite, makeBlobs, maxAbsDiff, kmeansPlusPlusCpu } from './helpers/data.js';

const cpu = { backend: 'cpu' as const };

describe('covariance families on the CPU reference', () => {
  const x = makeBlobs({ n: 1500, d: 3, k: 3, seed: 12 });

  it('M-steps agree with each other: diag is full’s diagonal, spherical its mean, tied the pooled scatter', async () => {
    const init = parametersFromCentres(x, await kmeansPlusPlusCpu(x, 3, new Random(1)), 1e-6);
    const bound = await new CpuBackend().bindData(x);
    const shifts = shiftsFor(init);
    const packed = await bound.sufficientStatistics(toComponentParameters(init), shifts);
    const reg = 1e-3;
    const full = mStep(packed, shifts, reg, 'full');
    const diag = mStep(packed, shifts, reg, 'diag');
    const spherical = mStep(packed, shifts, reg, 'spherical');
    const tied = mStep(packed, shifts, reg, 'tied');
    const d = 3;
    const P = packedSize(d);
    for (let k = 0; k < 3; k++) {
      let mean = 0;
      for (let i = 0; i < d; i++) {
        expect(diag.covariances[k * d + i]).toBeCloseTo(full.covariances[k * P + packedIndex(i, i)], 12);
        mean += diag.covariances[k * d + i] / d;
      }
      expect(spherical.covariances[k]).toBeCloseTo(mean, 12);
    }
    for (let e = 0; e < P; e++) {
      let pooled = 0;
      for (let k = 0; k < 3; k++) pooled += full.weights[k] * full.covariances[k * P + e];
      // Each full covariance carries reg once; so does the pooled one.
      expect(tied.covariances[e]).toBeCloseTo(pooled, 10);
    }
    expect(Array.from(tied.means)).toEqual(Array.from(full.means));
  });

  it('diagonal statistics give the same diag M-step as packed ones', async () => {
    const init = parametersFromCentres(x, await kmeansPlusPlusCpu(x, 3, new Random(1)), 1e-6, 'diag');
    const bound = await new CpuBackend().bindData(x);
    const shifts = shiftsFor(init);
    const stats = await bound.sufficientStatistics(toComponentParameters(init), shifts);
    expect(stats.secondMomentLayout).toBe('diagonal');
    const fullInit = { ...init, covarianceType: 'full' as const, covariances: new Float64Array(3 * 6) };
    for (let k = 0; k < 3; k++)
      for (let i = 0; i < 3; i++)
        fullInit.covariances[k * 6 + packedIndex(i, i)] = init.covariances[k * 3 + i];
    const packed = await bound.sufficientStatistics(toComponentParameters(fullInit), shifts);
    const a = mStep(stats, shifts, 1e-6, 'diag');
    const b = mStep(packed, shifts, 1e-6, 'diag');
    expect(maxAbsDiff(a.covariances, b.covariances)).toBeLessThan(1e-12);
    expect(stats.logLikelihoodSum).toBeCloseTo(packed.logLikelihoodSum, 8);
  });

  for (const type of COVARIANCE_TYPES) {
    it(`${type}: fits, never decreases the lower bound, and has scikit-learn's shapes`, async () => {
      const gmm = new GaussianMixture({
        nComponents: 3,
        covarianceType: type,
        ...cpu,
        tol: 1e-8,
        maxIter: 300,
      });
      await gmm.fit(x);
      const h = gmm.history;
      for (let i = 1; i < h.length; i++)
        expect(h[i].lowerBound).toBeGreaterThanOrEqual(h[i - 1].lowerBound - 1e-10);
      const expected = { full: 27, tied: 9, diag: 9, spherical: 3 }[type];
      expect(gmm.covariances).toHaveLength(expected);
      expect(allFinite(gmm.covariances)).toBe(true);
      expect(gmm.freeParameters()).toBe({ full: 18, tied: 6, diag: 9, spherical: 3 }[type] + 9 + 2);
      const labels = await gmm.predict(x);
      let agree = 0;
      const map = new Map<number, Map<number, number>>();
      for (let n = 0; n < x.rows; n++) {
        const m = map.get(x.labels[n]) ?? new Map<number, number>();
        m.set(labels[n], (m.get(labels[n]) ?? 0) + 1);
        map.set(x.labels[n], m);
      }
      for (const m of map.values()) agree += Math.max(...m.values());
      expect(agree / x.rows).toBeGreaterThan(0.9);
    });
  }

  it('tied with K = 1 equals full with K = 1', async () => {
    const fit = async (type: CovarianceType) => {
      const g = new GaussianMixture({ nComponents: 1, covarianceType: type, ...cpu });
      await g.fit(x);
      return g;
    };
    const [tied, full] = [await fit('tied'), await fit('full')];
    expect(maxAbsDiff(tied.covariances, full.covariances)).toBeLessThan(1e-12);
    expect(tied.lowerBound).toBeCloseTo(full.lowerBound, 12);
  });

  it('a tiny, equal, fixed covariance makes EM behave like k-means', async () => {
    // With spherical variance s -> 0 the responsibilities become hard nearest-mean assignments and
    // the means follow Lloyd's update. One step from the same means, tiny s: means equal Lloyd's.
    const data = makeBlobs({ n: 600, d: 2, k: 3, seed: 4 });
    const centres = await kmeansPlusPlusCpu(data, 3, new Random(3));
    const gmm = new GaussianMixture({
      nComponents: 3,
      covarianceType: 'spherical',
      ...cpu,
      init: { weights: [1, 1, 1], means: centres, covariances: [1e-4, 1e-4, 1e-4] },
      maxIter: 1,
      tol: 0,
    });
    await gmm.fit(data);
    const lloyd = new Float64Array(6);
    const counts = new Float64Array(3);
    for (let n = 0; n < data.rows; n++) {
      let best = 0;
      let bestDist = Infinity;
      for (let k = 0; k < 3; k++) {
        const dist =
          (data.data[n * 2] - centres[k * 2]) ** 2 + (data.data[n * 2 + 1] - centres[k * 2 + 1]) ** 2;
        if (dist < bestDist) [best, bestDist] = [k, dist];
      }
      counts[best]++;
      lloyd[best * 2] += data.data[n * 2];
      lloyd[best * 2 + 1] += data.data[n * 2 + 1];
    }
    for (let k = 0; k < 3; k++) for (let i = 0; i < 2; i++) lloyd[k * 2 + i] /= counts[k];
    expect(maxAbsDiff(gmm.means.data, lloyd)).toBeLessThan(1e-6);
  });

  for (const type of COVARIANCE_TYPES) {
    it(`${type}: an initial centre that gets no sample keeps its place with the data's spread`, async () => {
      const means = [1e5, 1e5, 1e5, ...Array.from(x.data.slice(0, 6))];
      const g = new GaussianMixture({
        nComponents: 3,
        covarianceType: type,
        ...cpu,
        init: { means },
        maxIter: 1,
        tol: 0,
      });
      await g.fit(x);
      expect(allFinite(g.covariances) && allFinite(g.means.data)).toBe(true);
      expect(g.weights[0]).toBeLessThan(1e-12);
    });
  }

  it('refitting the same model with the same seed gives the same result', async () => {
    const g = new GaussianMixture({ nComponents: 3, ...cpu, seed: 11, init: 'random' });
    await g.fit(x);
    const first = Array.from(g.means.data);
    await g.fit(x);
    expect(Array.from(g.means.data)).toEqual(first);
  });

  it('warmStart continues from the fitted parameters', async () => {
    const a = new GaussianMixture({ nComponents: 3, ...cpu, tol: 0, maxIter: 4 });
    await a.fit(x);
    const b = new GaussianMixture({ nComponents: 3, ...cpu, tol: 0, maxIter: 2, warmStart: true });
    await b.fit(x);
    await b.fit(x);
    expect(maxAbsDiff(a.means.data, b.means.data)).toBeLessThan(1e-12);
    expect(b.nIter).toBe(2);
  });

  it('reads initial covariances in each family’s shape and rejects the wrong one', async () => {
    const means = [0, 0, 0, 5, 5, 5, 10, 10, 10];
    const shapes: Record<CovarianceType, number[]> = {
      full: Array.from({ length: 27 }, (_, e) => ((e % 9) % 4 === 0 ? 1 : 0)),
      tied: [1, 0, 0, 0, 1, 0, 0, 0, 1],
      diag: Array(9).fill(1),
      spherical: [1, 1, 1],
    };
    for (const type of COVARIANCE_TYPES) {
      const g = new GaussianMixture({
        nComponents: 3,
        covarianceType: type,
        ...cpu,
        init: { weights: [1, 1, 1], means, covariances: shapes[type] },
      });
      await g.fit(x);
      const wrong = type === 'spherical' ? shapes.diag : shapes.spherical;
      await expect(
        new GaussianMixture({
          nComponents: 3,
          covarianceType: type,
          ...cpu,
          init: { weights: [1, 1, 1], means, covariances: wrong },
        }).fit(x),
      ).rejects.toThrow(new RegExp(`'${type}' covariances need`));
    }
  });
});
