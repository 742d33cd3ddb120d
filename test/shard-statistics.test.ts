import { describe, expect, it } from 'vitest';
import {
  GaussianMixture,
  KMeans,
  StatisticsShard,
  kmeansMStep,
  mergeStatistics,
  mixtureMStep,
  statisticsFromJSON,
  statisticsToJSON,
  type GmmParameters,
  type KMeansShardStatistics,
  type MixtureShardStatistics,
} from '../src/index.js';
import type { Matrix } from '../src/data/matrix.js';
import { makeBlobs } from './helpers/data.js';
import { pick, relDiff } from './helpers/weights.js';

const cpu = { backend: 'cpu' as const };

/** Uneven shards of X (and of its weights). */
function shards(x: Matrix, weights: Float64Array, cuts: number[]) {
  const bounds = [0, ...cuts, x.rows];
  return bounds.slice(1).map((end, i) => {
    const rows = Array.from({ length: end - bounds[i] }, (_, r) => bounds[i] + r);
    return { x: pick(x, rows), weights: weights.slice(bounds[i], end) };
  });
}

/**
 * Float64 sums over shards and over the whole differ only in the order of additions: about
 * 1e-16 of the sum per addition, so 1e-12 of the scale is ample and still catches any
 * missing or doubled row (1 / N = 1e-3 here).
 */
const SAME_SUMS = 1e-12;

function expectSameMixture(a: MixtureShardStatistics, b: MixtureShardStatistics) {
  expect(a.parameterHash).toBe(b.parameterHash);
  expect(a.rows).toBe(b.rows);
  expect(Math.abs(a.weightSum - b.weightSum)).toBeLessThan(SAME_SUMS * b.weightSum);
  expect(Math.abs(a.logLikelihoodSum - b.logLikelihoodSum)).toBeLessThan(
    SAME_SUMS * Math.abs(b.logLikelihoodSum),
  );
  expect(relDiff(a.nk, b.nk)).toBeLessThan(SAME_SUMS);
  expect(relDiff(a.firstMoment, b.firstMoment)).toBeLessThan(SAME_SUMS);
  expect(relDiff(a.secondMoment, b.secondMoment)).toBeLessThan(SAME_SUMS);
}

describe('mergeable statistics on the CPU reference', () => {
  const x = makeBlobs({ n: 900, d: 3, k: 3, seed: 8, spread: 6, offset: 50 });
  const weights = Float64Array.from({ length: x.rows }, (_, r) => [1, 0, 2.5, 1][r % 4]);
  const parts = shards(x, weights, [100, 101, 640]);

  it('mixture shards merged equal one pass over the whole, for every family', async () => {
    for (const covarianceType of ['full', 'diag'] as const) {
      const gmm = new GaussianMixture({ nComponents: 3, covarianceType, maxIter: 2, ...cpu });
      await gmm.fit(x, { sampleWeight: weights });
      const whole = await StatisticsShard.create(x, { ...cpu, sampleWeight: weights });
      const all = await whole.mixture(gmm);
      const each = [];
      for (const p of parts) {
        const shard = await StatisticsShard.create(p.x, {
          ...cpu,
          sampleWeight: p.weights,
          use: covarianceType,
        });
        each.push(await shard.mixture(gmm.parameters));
        shard.dispose();
      }
      whole.dispose();
      const merged = mergeStatistics(...each);
      expectSameMixture(merged, all);
      // Through JSON and back: float64 values survive exactly.
      const again = statisticsFromJSON(JSON.stringify(statisticsToJSON(merged))) as MixtureShardStatistics;
      expect(again).toEqual(merged);
    }
  });

  it('EM from merged shard statistics is the fit of the whole', async () => {
    const options = { nComponents: 3, tol: 0, maxIter: 6, ...cpu };
    const reference = await new GaussianMixture(options).fit(x, { sampleWeight: weights });
    // The same start: the initial parameters a fit draws (initialize draws the first of the stream).
    const starter = new GaussianMixture(options);
    await starter.initialize(x, undefined, { sampleWeight: weights });
    let params: GmmParameters = starter.parameters;
    starter.dispose();
    const bound = await Promise.all(
      parts.map((p) => StatisticsShard.create(p.x, { ...cpu, sampleWeight: p.weights })),
    );
    const lowerBounds: number[] = [];
    for (let it = 0; it < options.maxIter; it++) {
      const stats = await Promise.all(bound.map((s) => s.mixture(params)));
      const step = mixtureMStep(mergeStatistics(...stats), { regCovar: 1e-6 });
      params = step.parameters;
      lowerBounds.push(step.lowerBound);
    }
    for (const s of bound) s.dispose();
    expect(
      relDiff(
        lowerBounds,
        reference.history.map((h) => h.lowerBound),
      ),
    ).toBeLessThan(1e-11);
    expect(relDiff(params.means, reference.means.data)).toBeLessThan(1e-10);
    expect(relDiff(params.covariances, reference.parameters.covariances)).toBeLessThan(1e-10);
  });

  it('k-means shards merged equal one pass, and re-seed an empty cluster as KMeans does', async () => {
    // The third centre is far from every sample: it gets none and moves to the farthest sample.
    const centres = [...x.data.slice(0, 3), ...x.data.slice(30, 33), 1e4, 1e4, 1e4].map(Math.fround);
    const whole = await StatisticsShard.create(x, { ...cpu, sampleWeight: weights, use: 'kmeans' });
    const all = await whole.kmeans(centres);
    whole.dispose();
    const each: KMeansShardStatistics[] = [];
    for (const p of parts) {
      const shard = await StatisticsShard.create(p.x, { ...cpu, sampleWeight: p.weights, use: 'kmeans' });
      each.push(await shard.kmeans(centres));
      shard.dispose();
    }
    const merged = mergeStatistics(...each);
    expect(relDiff(merged.counts, all.counts)).toBeLessThan(SAME_SUMS);
    expect(relDiff(merged.firstMoment, all.firstMoment)).toBeLessThan(SAME_SUMS);
    expect(Math.abs(merged.inertia - all.inertia)).toBeLessThan(SAME_SUMS * all.inertia);
    expect(merged.farthest).toEqual(all.farthest);
    expect(statisticsFromJSON(statisticsToJSON(merged))).toEqual(merged);

    const step = kmeansMStep(merged);
    expect(step.relocated).toBe(1);
    const km = await new KMeans({ nClusters: 3, init: { means: centres }, maxIter: 1, ...cpu }).fit(x, {
      sampleWeight: weights,
    });
    expect(km.history[0].relocated).toBe(1);
    // KMeans keeps its centres in float32 (the GPU's), the statistics' update in float64.
    expect(relDiff(step.centres.map(Math.fround), km.clusterCenters.data)).toBeLessThan(1e-7);
    expect(step.inertia).toBeCloseTo(km.history[0].inertia, 6);
  });

  it('refuses to merge statistics of different parameters or shapes, and bad JSON', async () => {
    const shard = await StatisticsShard.create(x, cpu);
    const gmm = await new GaussianMixture({ nComponents: 2, maxIter: 1, ...cpu }).fit(x);
    const a = await shard.mixture(gmm);
    const moved = { ...gmm.parameters, means: gmm.parameters.means.map((v, i) => (i === 0 ? v + 1e-9 : v)) };
    const b = await shard.mixture(moved);
    expect(() => mergeStatistics(a, b)).toThrow(/different parameters/);
    const k3 = await new GaussianMixture({ nComponents: 3, maxIter: 1, ...cpu }).fit(x);
    const c = await shard.mixture(k3);
    expect(() => mergeStatistics<MixtureShardStatistics>(a, c)).toThrow(
      /K = 2, D = 3 with statistics of a 'full' mixture of K = 3/,
    );
    const json = statisticsToJSON(a);
    expect(() => statisticsFromJSON({ ...json, format: 'webgpu-em/stats@2' })).toThrow(
      /expected "webgpu-em\/stats@1"/,
    );
    expect(() => statisticsFromJSON({ ...json, nk: [1] })).toThrow(
      /statistics.nk must be an array of 2 numbers/,
    );
    expect(() =>
      statisticsFromJSON({ ...json, firstMoment: (json.firstMoment as number[]).map(() => NaN) }),
    ).toThrow(/not a finite number/);
    expect(() => statisticsFromJSON('{"format":')).toThrow(/not valid JSON/);
    expect(() => statisticsFromJSON({ ...json, rows: 2.5 })).toThrow(
      /statistics.rows must be a whole number/,
    );
    expect(() => statisticsFromJSON({ ...json, nk: [-1, 3] })).toThrow(
      /statistics.nk\[0\] is not a finite number >= 0/,
    );
    await expect(shard.kmeans([[0, 0, 10], [10]])).rejects.toThrow(/centres\[1\] is not a row of 3 numbers/);
    await expect(shard.kmeans([[0, 0, 1], 2, 3, 4] as unknown as number[][])).rejects.toThrow(
      /centres\[1\] is not a row of 3 numbers/,
    );
    shard.dispose();
  });
});
