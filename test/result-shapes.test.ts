import { describe, expect, it } from 'vitest';
import {
  BayesianGaussianMixture,
  COVARIANCE_TYPES,
  GaussianMixture,
  KMeans,
  Matrix64,
  WebGpuEmError,
  type CovarianceType,
  type GaussianMixtureOptions,
} from '../src/index.js';
import type { MeansInput } from '../src/models/means-input.js';
import { makeBlobs } from './helpers/data.js';

const cpu = { backend: 'cpu' as const };
const x = makeBlobs({ n: 600, d: 3, k: 3, seed: 5, spread: 6 });
const [K, D] = [3, 3];

/** The shape of covariances, precisions and precisionsCholesky, per family (the README's table). */
const COVARIANCE_LENGTH: Record<CovarianceType, number> = {
  full: K * D * D,
  tied: D * D,
  diag: K * D,
  spherical: K,
};

async function fitted(type: CovarianceType = 'full') {
  const gmm = new GaussianMixture({ nComponents: K, covarianceType: type, ...cpu });
  await gmm.fit(x);
  return gmm;
}

/** Every array result of a model, by name. */
function arrays(m: GaussianMixture | BayesianGaussianMixture): Record<string, Float64Array | Int32Array> {
  return {
    weights: m.weights,
    'means.data': m.means.data,
    covariances: m.covariances,
    precisions: m.precisions,
    precisionsCholesky: m.precisionsCholesky,
    labels: m.labels,
  };
}

/** Every way of writing into a typed array; each must throw and leave the value. */
function expectReadOnly(a: Float64Array | Int32Array) {
  const before = Array.from(a);
  expect(() => (a[0] = 42)).toThrow(WebGpuEmError);
  expect(() => a.set([42])).toThrow(/read-only/);
  expect(() => a.fill(42)).toThrow(/read-only/);
  expect(() => a.sort()).toThrow(/read-only/);
  expect(() => a.reverse()).toThrow(/read-only/);
  expect(() => a.copyWithin(0, 1)).toThrow(/read-only/);
  expect(() => (a.subarray(0, 1)[0] = 42)).toThrow(/read-only/);
  new Float64Array(a.buffer).fill(42); // a copy of the bytes, not the storage
  expect(() => Object.defineProperty(a, 0, { value: 42 })).toThrow(/read-only/);
  expect(Array.from(a)).toEqual(before);
}

describe('results are made once per fit and read-only', () => {
  it('gives the same object on every access until the next fit', async () => {
    const gmm = await fitted();
    for (const [name, value] of Object.entries(arrays(gmm))) expect(value, name).toBe(arrays(gmm)[name]);
    expect(gmm.means).toBe(gmm.means);
    expect(gmm.history).toBe(gmm.history);
    const km = new KMeans({ nClusters: K, ...cpu });
    await km.fit(x);
    expect(km.clusterCenters).toBe(km.clusterCenters);
    expect(km.labels).toBe(km.labels);
    expect(km.history).toBe(km.history);
  });

  it('refuses every write to a weight, mean, covariance, precision or label', async () => {
    const gmm = await fitted();
    for (const [name, value] of Object.entries(arrays(gmm))) {
      expect(value instanceof Float64Array || value instanceof Int32Array, name).toBe(true);
      expectReadOnly(value);
    }
    const means = gmm.means;
    expect(Object.isFrozen(means)).toBe(true);
    expect(() => ((means as { rows: number }).rows = 1)).toThrow(TypeError);
    // A weight written into a copy is the user's; the model's stays as it was.
    const w = gmm.weights.slice();
    w[0] = 42;
    expect(gmm.weights[0]).not.toBe(42);
    expect(ArrayBuffer.isView(w)).toBe(true);
  });

  it('freezes the history and its records', async () => {
    const gmm = await fitted();
    const history = gmm.history;
    expect(Object.isFrozen(history) && history.every((r) => Object.isFrozen(r))).toBe(true);
    expect(() => (history as unknown[]).push({})).toThrow(TypeError);
    const bgmm = new BayesianGaussianMixture({ nComponents: 4, ...cpu, maxIter: 5, tol: 0 });
    await bgmm.fit(x);
    expect(bgmm.history).toBe(bgmm.history);
    expectReadOnly(bgmm.history[0].weights);
  });

  it('makes the Bayesian mixture’s and k-means’ results alike', async () => {
    const bgmm = new BayesianGaussianMixture({ nComponents: 4, covarianceType: 'diag', ...cpu });
    await bgmm.fit(x);
    const results = {
      ...arrays(bgmm),
      weightConcentration: bgmm.weightConcentration,
      meanPrecision: bgmm.meanPrecision,
      degreesOfFreedom: bgmm.degreesOfFreedom,
      covariancePrior: bgmm.covariancePrior,
    };
    for (const [name, value] of Object.entries(results)) {
      expect(value, name).toBe((bgmm as unknown as Record<string, unknown>)[name] ?? bgmm.means.data);
      expectReadOnly(value);
    }
    expect(bgmm.means).toBeInstanceOf(Matrix64);
    expect([bgmm.means.rows, bgmm.means.cols, bgmm.covariances.length]).toEqual([4, D, 4 * D]);

    const km = new KMeans({ nClusters: K, ...cpu });
    await km.fit(x);
    expect(km.clusterCenters).toBeInstanceOf(Matrix64);
    expectReadOnly(km.clusterCenters.data);
    expectReadOnly(km.labels);
  });

  it('makes new results after a refit, a step or a warm start, and keeps the old ones as they were', async () => {
    const gmm = new GaussianMixture({ nComponents: K, ...cpu, maxIter: 3, tol: 0 });
    await gmm.fit(x);
    const first = { means: gmm.means, weights: gmm.weights, labels: gmm.labels, history: gmm.history };
    const firstMeans = first.means.toArray();
    await gmm.fit(makeBlobs({ n: 500, d: 3, k: 3, seed: 6, spread: 6 }));
    expect(gmm.means).not.toBe(first.means);
    expect(gmm.weights).not.toBe(first.weights);
    expect(gmm.labels).not.toBe(first.labels);
    expect(gmm.history).not.toBe(first.history);
    expect(first.means.toArray()).toEqual(firstMeans);

    await gmm.initialize(x);
    const before = gmm.means;
    await gmm.step();
    expect(gmm.means).not.toBe(before);
    expect(gmm.means).toBe(gmm.means);

    const km = new KMeans({ nClusters: K, ...cpu, maxIter: 2, tol: 0 });
    await km.fit(x);
    const centres = km.clusterCenters;
    await km.fit(x);
    expect(km.clusterCenters).not.toBe(centres);
    expect(km.clusterCenters.toArray()).toEqual(centres.toArray());
  });

  it('keeps the results of the last fit when a fit fails', async () => {
    const gmm = await fitted();
    const means = gmm.means;
    await expect(gmm.fit([[1, 2]])).rejects.toThrow();
    expect(gmm.means).toBe(means);
  });
});

describe('result shapes', () => {
  it.each(COVARIANCE_TYPES)(
    "'%s': covariances, precisions and their Cholesky factors in scikit-learn's shape",
    async (type) => {
      const gmm = await fitted(type);
      expect(gmm.weights.length).toBe(K);
      expect([gmm.means.rows, gmm.means.cols, gmm.means.data.length]).toEqual([K, D, K * D]);
      for (const a of [gmm.covariances, gmm.precisions, gmm.precisionsCholesky]) {
        expect(a).toBeInstanceOf(Float64Array);
        expect(a.length).toBe(COVARIANCE_LENGTH[type]);
      }
      expect(gmm.labels.length).toBe(x.rows);
    },
  );

  it('Matrix64: at, row and toArray read the row-major data; toArray round-trips', async () => {
    const gmm = await fitted();
    const m = gmm.means;
    const rows = m.toArray();
    expect(rows).toHaveLength(K);
    for (let i = 0; i < K; i++) {
      expect(Array.from(m.row(i))).toEqual(rows[i]);
      for (let j = 0; j < D; j++) expect(m.at(i, j)).toBe(m.data[i * D + j]);
    }
    // number[][] back in: a model from the rows of another's means gives the same means.
    const again = GaussianMixture.fromParameters(
      { weights: gmm.weights, means: rows, covariances: gmm.covariances },
      cpu,
    );
    expect(again.means.toArray()).toEqual(rows);
    expect(JSON.parse(JSON.stringify(m))).toEqual(rows);
    // The copies are the caller's.
    const copy = m.row(0);
    copy[0] = 42;
    rows[0][0] = 42;
    expect(m.at(0, 0)).not.toBe(42);
    expect(() => m.at(K, 0)).toThrow(/outside this 3 x 3 matrix/);
    expect(() => m.row(-1)).toThrow(/outside/);
  });

  it('returns the caller’s own matrices from predictProba, transform and sample', async () => {
    const gmm = await fitted();
    const proba = await gmm.predictProba(x);
    expect(proba).toBeInstanceOf(Matrix64);
    expect([proba.rows, proba.cols]).toEqual([x.rows, K]);
    proba.data[0] = 0.5; // yours: a plain Float64Array
    expect(proba.at(0, 0)).toBe(0.5);
    const { x: drawn, labels } = gmm.sample(10);
    expect(drawn).toBeInstanceOf(Matrix64);
    expect([drawn.rows, drawn.cols, labels.length]).toEqual([10, D, 10]);
    const fitLabels = await gmm.fitPredict(x);
    fitLabels[0] = 42;
    expect(gmm.labels[0]).not.toBe(42);
    const km = new KMeans({ nClusters: K, ...cpu });
    await km.fit(x);
    const t = await km.transform(x);
    expect(t).toBeInstanceOf(Matrix64);
    expect([t.rows, t.cols]).toEqual([x.rows, K]);
  });

  it('Matrix64 checks its shape', () => {
    expect(() => new Matrix64(new Float64Array(5), 2, 3)).toThrow(/2 x 3 matrix needs 6 values; got 5/);
    expect(new Matrix64(Float64Array.of(1, 2, 3, 4), 2, 2).toArray()).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });
});

describe('a fitted model’s matrices as the start of another fit', () => {
  /** KMeans's init option from a means input (a matrix or nested rows). */
  const kmeansInit = (means: MeansInput) => ({ means });

  it('KMeans starts from a mixture’s means (a Matrix64) as from the same rows', async () => {
    const gmm = await fitted();
    const fromMatrix = new KMeans({ nClusters: K, init: kmeansInit(gmm.means), ...cpu });
    await fromMatrix.fit(x);
    const fromRows = new KMeans({ nClusters: K, init: { means: gmm.means.toArray() }, ...cpu });
    await fromRows.fit(x);
    expect(fromMatrix.clusterCenters.toArray()).toEqual(fromRows.clusterCenters.toArray());
    expect(fromMatrix.inertia).toBe(fromRows.inertia);
    // Any { data, rows, cols } is a matrix; a fitted KMeans is a start as it was.
    const plain = { data: Array.from(gmm.means.data), rows: K, cols: D };
    const fromPlain = new KMeans({ nClusters: K, init: kmeansInit(plain), ...cpu });
    await fromPlain.fit(x);
    expect(fromPlain.clusterCenters.toArray()).toEqual(fromRows.clusterCenters.toArray());
    const fromModel = new KMeans({ nClusters: K, init: fromRows, maxIter: 1, ...cpu });
    await fromModel.fit(x);
    expect(fromModel.clusterCenters.toArray()).toEqual(fromRows.clusterCenters.toArray());
  });

  it('GaussianMixture starts from means, or a whole model, given as a Matrix64', async () => {
    const gmm = await fitted();
    const start = async (init: GaussianMixtureOptions['init']) => {
      const m = new GaussianMixture({ nComponents: K, init, maxIter: 3, ...cpu });
      await m.fit(x);
      return [m.means.toArray(), Array.from(m.covariances), m.lowerBound];
    };
    expect(await start({ means: gmm.means })).toEqual(await start({ means: gmm.means.toArray() }));
    const whole = { weights: gmm.weights, covariances: gmm.covariances };
    expect(await start({ means: gmm.means, ...whole })).toEqual(
      await start({ means: gmm.means.toArray(), ...whole }),
    );
    const again = GaussianMixture.fromParameters({ means: gmm.means, ...whole }, cpu);
    expect(again.means.toArray()).toEqual(gmm.means.toArray());
  });

  it('refuses a matrix of another shape, naming both shapes', async () => {
    const gmm = await fitted();
    const flat = { data: gmm.means.data, rows: 1, cols: K * D };
    await expect(new KMeans({ nClusters: K, init: kmeansInit(flat), ...cpu }).fit(x)).rejects.toThrow(
      /init\.means is a 1 x 9 matrix but nClusters x nFeatures = 3 x 3/,
    );
    await expect(
      new GaussianMixture({ nComponents: K, init: { means: flat }, ...cpu }).fit(x),
    ).rejects.toThrow(/init\.means is a 1 x 9 matrix but nComponents x nFeatures = 3 x 3/);
    const short = { data: gmm.means.data.slice(1), rows: K, cols: D };
    await expect(new KMeans({ nClusters: K, init: kmeansInit(short), ...cpu }).fit(x)).rejects.toThrow(
      /init\.means\.data has 8 values but rows x cols = 3 x 3 = 9/,
    );
  });
});
