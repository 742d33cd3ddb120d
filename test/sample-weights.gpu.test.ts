/**
 * Sample weights and mergeable statistics on a real adapter, against the float64 CPU reference.
 *
 * Tolerances are those of gpu-vs-cpu.gpu.test.ts and kmeans.gpu.test.ts, for the same reasons:
 * float32 data and parameters (u = 6e-8), sums in two levels of a few dozen terms each, so one
 * E-step's sums agree to 1e-4 of their scale and the log-likelihood sum to 1e-5 relative. A
 * weight multiplies each term once in float32 (one more rounding per term), which those bounds
 * already cover; integer weights and 0 are exact in float32. Merged shards add float32 sums
 * read back into float64, so merging adds no float32 rounding: the merged statistics meet the
 * same bounds as a single pass.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backends/cpu/cpu-backend.js';
import { WebGpuBackend } from '../src/backends/webgpu/webgpu-backend.js';
import type { CovarianceType } from '../src/core/names.js';
import { Random } from '../src/core/random.js';
import type { Matrix } from '../src/data/matrix.js';
import { GpuContext } from '../src/gpu/context.js';
import {
  GaussianMixture,
  KMeans,
  StatisticsShard,
  kmeansMStep,
  mergeStatistics,
  type KMeansShardStatistics,
  type MixtureShardStatistics,
} from '../src/index.js';
import { shiftsFor, toComponentParameters } from '../src/models/gmm-parameters.js';
import { parametersFromCentres } from '../src/models/init.js';
import { kmeansPlusPlusCpu, makeBlobs, maxAbs, maxAbsDiff } from './helpers/data.js';
import { requireGpu } from './helpers/gpu.js';
import { duplicated, pick, withDropped } from './helpers/weights.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await requireGpu();
});
afterAll(() => gpu?.release());

const onGpu = () => ({ backend: 'webgpu' as const, device: gpu.device });

/** Weights 0, 0.5, 1, 2.25 and 3 in a fixed pattern. */
const mixedWeights = (n: number) => Float64Array.from({ length: n }, (_, r) => [1, 0, 2.25, 0.5, 3][r % 5]);

function expectSumsAgree(
  cpu: { logLikelihoodSum: number; nk: Float64Array; firstMoment: Float64Array; secondMoment: Float64Array },
  g: typeof cpu,
  weightSum: number,
) {
  expect(Math.abs(cpu.logLikelihoodSum - g.logLikelihoodSum) / Math.abs(cpu.logLikelihoodSum)).toBeLessThan(
    1e-5,
  );
  expect(maxAbsDiff(cpu.nk, g.nk)).toBeLessThan(1e-4 * weightSum);
  expect(maxAbsDiff(cpu.firstMoment, g.firstMoment)).toBeLessThan(1e-4 * maxAbs(cpu.firstMoment) + 1e-3);
  expect(maxAbsDiff(cpu.secondMoment, g.secondMoment)).toBeLessThan(1e-4 * maxAbs(cpu.secondMoment));
}

describe('weighted statistics on the GPU equal the float64 reference', () => {
  const cases: Array<[string, { n: number; d: number; k: number; offset?: number }, CovarianceType]> = [
    ['full D=3 K=3 (two kernels), offset by 1e3', { n: 3000, d: 3, k: 3, offset: 1e3 }, 'full'],
    ['diag D=6 K=4 (two kernels)', { n: 3000, d: 6, k: 4 }, 'diag'],
    ['full D=4 K=5 (fused)', { n: 100_000, d: 4, k: 5 }, 'full'],
    ['spherical D=5 K=40 (fused)', { n: 13_000, d: 5, k: 40 }, 'spherical'],
    ['full D=17 K=13 (blocked sums)', { n: 4000, d: 17, k: 13 }, 'full'],
  ];
  for (const [name, shape, type] of cases) {
    it(name, async () => {
      const x = makeBlobs({ ...shape, seed: shape.d });
      const weights = mixedWeights(x.rows);
      const init = parametersFromCentres(x, await kmeansPlusPlusCpu(x, shape.k, new Random(1)), 1e-6, type);
      const params = toComponentParameters(init);
      const shifts = shiftsFor(init);
      const cpu = await (
        await new CpuBackend().bindData(x, { weights })
      ).sufficientStatistics(params, shifts);
      const backend = await WebGpuBackend.create({ device: gpu.device });
      const bound = await backend.bindData(x, { purpose: type, weights });
      try {
        const g = await bound.sufficientStatistics(params, shifts);
        expect(g.weightSum).toBe(cpu.weightSum); // exact: every weight is exact in float32
        expectSumsAgree(cpu, g, cpu.weightSum);
      } finally {
        bound.dispose();
      }
    });
  }

  it('k-means sums and k-means++ potentials, weighted', async () => {
    const x = makeBlobs({ n: 20_000, d: 8, k: 6, seed: 4 });
    const weights = mixedWeights(x.rows);
    const centres = Float64Array.from(x.data.slice(0, 6 * 8));
    const cpuBound = await new CpuBackend().bindData(x, { weights });
    const backend = await WebGpuBackend.create({ device: gpu.device });
    const bound = await backend.bindData(x, { purpose: 'kmeans', weights });
    try {
      const c = await cpuBound.kmeansStatistics(centres, 6);
      const g = await bound.kmeansStatistics(centres, 6);
      expect(maxAbsDiff(g.counts, c.counts)).toBeLessThan(1e-4 * 20_000);
      expect(maxAbsDiff(g.firstMoment, c.firstMoment)).toBeLessThan(1e-4 * maxAbs(c.firstMoment));
      expect(Math.abs(g.inertia - c.inertia) / c.inertia).toBeLessThan(1e-5);
      // Rows of weight zero never count as changed: 4 of every 5 rows on the first pass.
      expect(g.changed).toBe(c.changed);
      expect(c.changed).toBe(16_000);

      const cs = (await cpuBound.seedingStep([centres.subarray(0, 8)], null)).state;
      const gs = (await bound.seedingStep([centres.subarray(0, 8)], null)).state;
      expect(Math.abs(gs.potential - cs.potential) / cs.potential).toBeLessThan(1e-5);
      // The weighted draw lands on the same row (never one of weight zero) for most u; a draw
      // at a boundary may move by one row of float32 rounding, so compare distances to a row.
      for (const u of [0.013, 0.37, 0.5, 0.91]) {
        const [a, b] = [await cs.sample(u), await gs.sample(u)];
        expect(weights[b]).toBeGreaterThan(0);
        expect(Math.abs(a - b)).toBeLessThanOrEqual(5);
      }
      cs.release();
      gs.release();
    } finally {
      bound.dispose();
    }
  });
});

describe('weighted fits on the GPU', () => {
  const x = makeBlobs({ n: 3000, d: 3, k: 3, seed: 12, spread: 6 });

  function expectFitsAgree(a: GaussianMixture, b: GaussianMixture) {
    expect(Math.abs(a.lowerBound - b.lowerBound)).toBeLessThanOrEqual(
      1e-4 * Math.max(1, Math.abs(a.lowerBound)),
    );
    expect(maxAbsDiff(a.weights, b.weights)).toBeLessThan(1e-3);
    expect(maxAbsDiff(a.means.data, b.means.data)).toBeLessThan(1e-3 * 6);
    expect(maxAbsDiff(a.covariances, b.covariances)).toBeLessThan(1e-3 * maxAbs(a.covariances));
  }

  it('integer weights fit as repeated rows, and as the CPU reference does', async () => {
    const { weights, repeated } = duplicated(x);
    const options = { nComponents: 3, tol: 0, maxIter: 8, seed: 3 };
    const weighted = await new GaussianMixture({ ...options, ...onGpu() }).fit(x, { sampleWeight: weights });
    const copies = await new GaussianMixture({ ...options, ...onGpu() }).fit(repeated);
    const reference = await new GaussianMixture({ ...options, backend: 'cpu' }).fit(x, {
      sampleWeight: weights,
    });
    expectFitsAgree(reference, weighted);
    expectFitsAgree(copies, weighted);
    weighted.dispose();
    copies.dispose();
  });

  it('zero weights fit as the rows dropped (far-away zero-weight rows), GMM and k-means', async () => {
    const { x: all, weights, kept } = withDropped(x);
    const options = { nComponents: 3, tol: 0, maxIter: 8, seed: 3, ...onGpu() };
    const a = await new GaussianMixture(options).fit(all, { sampleWeight: weights });
    const b = await new GaussianMixture(options).fit(kept);
    expectFitsAgree(b, a);
    a.dispose();
    b.dispose();
    const km = { nClusters: 4, tol: 0, maxIter: 20, seed: 1, ...onGpu() };
    const c = await new KMeans(km).fit(all, { sampleWeight: weights });
    const e = await new KMeans(km).fit(kept);
    expect(maxAbsDiff(c.clusterCenters.data, e.clusterCenters.data)).toBeLessThan(1e-3);
    expect(Math.abs(c.inertia - e.inertia) / e.inertia).toBeLessThan(1e-5);
    c.dispose();
    e.dispose();
  });
});

describe('merged GPU shards equal one float64 pass over the whole', () => {
  it('mixture statistics, weighted, uneven shards', async () => {
    const x = makeBlobs({ n: 12_000, d: 4, k: 4, seed: 9, offset: 100 });
    const weights = mixedWeights(x.rows);
    const model = await new GaussianMixture({ nComponents: 4, maxIter: 2, backend: 'cpu' }).fit(x);
    const whole = await StatisticsShard.create(x, { backend: 'cpu', sampleWeight: weights });
    const reference = await whole.mixture(model);
    whole.dispose();
    const cuts = [0, 1, 2500, 7001, x.rows];
    const parts: MixtureShardStatistics[] = [];
    for (let i = 1; i < cuts.length; i++) {
      const rows = Array.from({ length: cuts[i] - cuts[i - 1] }, (_, r) => cuts[i - 1] + r);
      const shard: Matrix = pick(x, rows);
      const s = await StatisticsShard.create(shard, {
        ...onGpu(),
        sampleWeight: weights.slice(cuts[i - 1], cuts[i]),
      });
      parts.push(await s.mixture(model));
      s.dispose();
    }
    const merged = mergeStatistics(...parts);
    expect(merged.rows).toBe(x.rows);
    expect(merged.weightSum).toBe(reference.weightSum);
    expectSumsAgree(reference, merged, reference.weightSum);
  });

  it('mixture statistics of data beyond float32 range (scaled by 2^-k on the host), weighted', async () => {
    const base = makeBlobs({ n: 4000, d: 3, k: 3, seed: 2 });
    const x: Matrix = { ...base, data: base.data.map((v) => v * 2 ** 40) };
    const weights = mixedWeights(x.rows);
    const model = await new GaussianMixture({ nComponents: 3, maxIter: 2, backend: 'cpu' }).fit(x);
    const whole = await StatisticsShard.create(x, { backend: 'cpu', sampleWeight: weights });
    const reference = await whole.mixture(model);
    whole.dispose();
    const parts: MixtureShardStatistics[] = [];
    for (const [from, to] of [
      [0, 1500],
      [1500, 4000],
    ]) {
      const rows = Array.from({ length: to - from }, (_, r) => from + r);
      const s = await StatisticsShard.create(pick(x, rows), {
        ...onGpu(),
        sampleWeight: weights.slice(from, to),
      });
      parts.push(await s.mixture(model));
      s.dispose();
    }
    expectSumsAgree(reference, mergeStatistics(...parts), reference.weightSum);
  });

  it('k-means statistics: counts, sums, inertia and the farthest samples', async () => {
    const x = makeBlobs({ n: 9000, d: 5, k: 4, seed: 6, offset: 1e3 });
    const weights = mixedWeights(x.rows);
    // The last centre is beyond every sample (about 150 from the nearest): an empty cluster,
    // re-seeded from the statistics.
    const centres = [...x.data.slice(0, 15), 1100, 1100, 1100, 1100, 1100];
    const whole = await StatisticsShard.create(x, { backend: 'cpu', sampleWeight: weights, use: 'kmeans' });
    const reference = await whole.kmeans(centres);
    whole.dispose();
    const parts: KMeansShardStatistics[] = [];
    for (const [from, to] of [
      [0, 4000],
      [4000, 4001],
      [4001, 9000],
    ]) {
      const rows = Array.from({ length: to - from }, (_, r) => from + r);
      const s = await StatisticsShard.create(pick(x, rows), {
        ...onGpu(),
        sampleWeight: weights.slice(from, to),
        use: 'kmeans',
      });
      parts.push(await s.kmeans(centres));
      s.dispose();
    }
    const merged = mergeStatistics(...parts);
    expect(merged.counts[3]).toBe(0);
    expect(maxAbsDiff(merged.counts, reference.counts)).toBeLessThan(1e-4 * reference.weightSum);
    expect(maxAbsDiff(merged.firstMoment, reference.firstMoment)).toBeLessThan(
      1e-4 * maxAbs(reference.firstMoment),
    );
    expect(Math.abs(merged.inertia - reference.inertia) / reference.inertia).toBeLessThan(1e-5);
    // The farthest samples are samples of X (exact); their distances are float32 on the GPU.
    expect(maxAbsDiff(merged.farthest.samples, reference.farthest.samples)).toBe(0);
    expect(maxAbsDiff(merged.farthest.distances, reference.farthest.distances)).toBeLessThan(
      1e-5 * maxAbs(reference.farthest.distances),
    );
    const [a, b] = [kmeansMStep(merged), kmeansMStep(reference)];
    expect(a.relocated).toBe(1);
    expect(Array.from(a.centres.subarray(15))).toEqual(Array.from(b.centres.subarray(15)));
    // Means from float32 sums around the centres: 1e-4 of the clusters' spread (~6), offset or not.
    expect(maxAbsDiff(a.centres, b.centres)).toBeLessThan(1e-3);
  });

  it('weights float32 sums cannot hold are refused on the GPU, and auto fits them on the CPU', async () => {
    const x = makeBlobs({ n: 3000, d: 3, k: 2, seed: 4 });
    for (const w of [1e-46, 1e39]) {
      const sampleWeight = new Float64Array(x.rows).fill(w);
      const strict = new KMeans({ nClusters: 2, maxIter: 3, ...onGpu() });
      await expect(strict.fit(x, { sampleWeight })).rejects.toThrow(
        /sampleWeight\[0\] = .* is outside what float32 GPU sums hold/,
      );
      strict.dispose();
    }
    const auto = new KMeans({ nClusters: 2, maxIter: 3, backend: 'auto' });
    await auto.fit(x, { sampleWeight: new Float64Array(x.rows).fill(1e-46) });
    expect(await auto.backendName()).toBe('cpu');
    const reference = await new KMeans({ nClusters: 2, maxIter: 3, backend: 'cpu' }).fit(x);
    expect(maxAbsDiff(auto.clusterCenters.data, reference.clusterCenters.data)).toBeLessThan(1e-9);
    auto.dispose();
  });
});
