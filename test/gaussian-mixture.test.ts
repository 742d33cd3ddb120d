import { describe, expect, it } from 'vitest';
import { GaussianMixture, WebGpuEmError } from '../src/index.js';
import { Random } from '../src/core/random.js';
import { allFinite, makeBlobs, maxAbsDiff } from './helpers/data.js';

const cpu = { backend: 'cpu' as const };

async function expectError(promise: Promise<unknown> | (() => unknown), kind: string, pattern: RegExp) {
  let error: unknown = null;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(WebGpuEmError);
  expect((error as WebGpuEmError).kind).toBe(kind);
  expect((error as Error).message).toMatch(pattern);
  expect((error as Error).message).not.toMatch(/\n/);
}

describe('GaussianMixture on the CPU reference', () => {
  it('recovers the parameters of samples drawn from a known mixture', async () => {
    const { x, labels } = knownMixtureSample(20_000);
    const gmm = new GaussianMixture({ nComponents: 2, ...cpu, seed: 3 });
    await gmm.fit(x);
    const order = gmm.means.data[0] < gmm.means.data[2] ? [0, 1] : [1, 0];
    expect(gmm.weights[order[0]]).toBeCloseTo(0.3, 1);
    expect(gmm.means.data[order[1] * 2]).toBeCloseTo(6, 1);
    expect(gmm.means.data[order[1] * 2 + 1]).toBeCloseTo(3, 1);
    const cov = gmm.covariances;
    expect(cov[order[0] * 4 + 1]).toBeCloseTo(0.5, 1);
    expect(cov[order[0] * 4 + 3]).toBeCloseTo(2, 1);
    expect(cov[order[1] * 4 + 1]).toBeCloseTo(-0.2, 1);
    expect(gmm.converged).toBe(true);
    const predicted = await gmm.predict(x);
    let agree = 0;
    for (let i = 0; i < labels.length; i++) if (order[labels[i]] === predicted[i]) agree++;
    expect(agree / labels.length).toBeGreaterThan(0.97);
  });

  it('never decreases the lower bound and stops on tol', async () => {
    const x = makeBlobs({ n: 3000, d: 3, k: 4, seed: 7 });
    const gmm = new GaussianMixture({ nComponents: 4, ...cpu, tol: 1e-6, maxIter: 200 });
    await gmm.fit(x);
    const h = gmm.history;
    for (let i = 1; i < h.length; i++)
      expect(h[i].lowerBound).toBeGreaterThanOrEqual(h[i - 1].lowerBound - 1e-12);
    expect(gmm.converged).toBe(true);
    expect(Math.abs(h[h.length - 1].change)).toBeLessThan(1e-6);
    expect(gmm.lowerBound).toBe(h[h.length - 1].lowerBound);
  });

  it('runs exactly maxIter iterations with tol 0', async () => {
    const x = makeBlobs({ n: 500, d: 2, k: 3, seed: 1 });
    const gmm = new GaussianMixture({ nComponents: 3, ...cpu, tol: 0, maxIter: 7 });
    await gmm.fit(x);
    expect(gmm.nIter).toBe(7);
    expect(gmm.converged).toBe(false);
  });

  it('is reproducible for a seed and varies with it', async () => {
    const x = makeBlobs({ n: 800, d: 2, k: 5, seed: 2 });
    const fit = async (seed: number) => {
      const g = new GaussianMixture({ nComponents: 5, ...cpu, seed, maxIter: 5, tol: 0 });
      await g.fit(x);
      return g;
    };
    const [a, b, c] = [await fit(1), await fit(1), await fit(2)];
    expect(Array.from(a.means.data)).toEqual(Array.from(b.means.data));
    expect(a.lowerBound).toBe(b.lowerBound);
    expect(maxAbsDiff(a.means.data, c.means.data)).toBeGreaterThan(0);
  });

  it('keeps the best of nInit initialisations', async () => {
    const x = makeBlobs({ n: 600, d: 2, k: 6, seed: 9 });
    const singles = [];
    const seeded = new GaussianMixture({ nComponents: 6, ...cpu, nInit: 4, seed: 5, init: 'random' });
    await seeded.fit(x);
    for (let i = 0; i < 4; i++) {
      const g = new GaussianMixture({ nComponents: 6, ...cpu, seed: 5, init: 'random' });
      for (let j = 0; j <= i; j++) await g.initialize(x);
      while (!g.done) await g.step();
      singles.push(g.lowerBound);
    }
    expect(seeded.lowerBound).toBe(Math.max(...singles));
  });

  it('fits step by step exactly like fit()', async () => {
    const x = makeBlobs({ n: 400, d: 3, k: 2, seed: 4 });
    const a = new GaussianMixture({ nComponents: 2, ...cpu });
    await a.fit(x);
    const b = new GaussianMixture({ nComponents: 2, ...cpu });
    await b.initialize(x);
    const seen: number[] = [];
    while (!b.done) seen.push((await b.step()).lowerBound);
    expect(seen).toEqual(a.history.map((r) => r.lowerBound));
    expect(Array.from(b.means.data)).toEqual(Array.from(a.means.data));
  });

  it('reports every iteration and honours an abort signal', async () => {
    const x = makeBlobs({ n: 400, d: 2, k: 2, seed: 4 });
    const controller = new AbortController();
    const seen: number[] = [];
    const gmm = new GaussianMixture({ nComponents: 2, ...cpu, tol: 0, maxIter: 50 });
    await expect(
      gmm.fit(x, {
        signal: controller.signal,
        onIteration: (r) => {
          seen.push(r.iteration);
          if (r.iteration === 3) controller.abort();
        },
      }),
    ).rejects.toThrow(/abort/i);
    expect(seen).toEqual([1, 2, 3]);
    // An aborted fit leaves the model as it was: here, still unfitted.
    expect(() => gmm.means).toThrow(/not fitted/);
  });

  it('scores, BIC/AIC and predictProba are consistent', async () => {
    const x = makeBlobs({ n: 1000, d: 2, k: 3, seed: 8 });
    const gmm = new GaussianMixture({ nComponents: 3, ...cpu });
    await gmm.fit(x);
    const ll = await gmm.scoreSamples(x);
    const mean = ll.reduce((s, v) => s + v, 0) / ll.length;
    expect(await gmm.score(x)).toBeCloseTo(mean, 12);
    const p = 3 * 3 + 3 * 2 + 2;
    expect(gmm.freeParameters()).toBe(p);
    expect(await gmm.bic(x)).toBeCloseTo(-2 * mean * 1000 + p * Math.log(1000), 8);
    expect(await gmm.aic(x)).toBeCloseTo(-2 * mean * 1000 + 2 * p, 8);
    const proba = await gmm.predictProba(x);
    for (let n = 0; n < 10; n++) {
      const row = proba.data.subarray(n * 3, n * 3 + 3);
      expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
    }
    // fit_predict agrees with predict: the lower bound of the last E-step is the score of the previous parameters,
    // and the final parameters score at least as well.
    expect(mean).toBeGreaterThanOrEqual(gmm.lowerBound - 1e-9);
  });

  it('samples follow the fitted weights and means', async () => {
    const x = makeBlobs({ n: 2000, d: 2, k: 2, seed: 3, spread: 10 });
    const gmm = new GaussianMixture({ nComponents: 2, ...cpu });
    await gmm.fit(x);
    const { x: s, labels } = gmm.sample(20_000);
    const count0 = labels.filter((l) => l === 0).length;
    expect(count0 / 20_000).toBeCloseTo(gmm.weights[0], 1);
    let m0 = 0;
    for (let i = 0; i < labels.length; i++) if (labels[i] === 0) m0 += s.data[i * 2];
    expect(m0 / count0).toBeCloseTo(gmm.means.data[0], 1);
  });

  it('handles far-apart clusters whose densities underflow', async () => {
    // In 20 dimensions, 1e3 apart: exp(log density) is 0 for every other component.
    const x = makeBlobs({ n: 600, d: 20, k: 3, spread: 1e3, seed: 5 });
    const gmm = new GaussianMixture({ nComponents: 3, ...cpu });
    await gmm.fit(x);
    expect(Number.isFinite(gmm.lowerBound)).toBe(true);
    expect(allFinite(gmm.means.data) && allFinite(gmm.covariances)).toBe(true);
    const proba = await gmm.predictProba(x);
    expect(allFinite(proba.data)).toBe(true);
  });

  it('survives duplicated points (singular covariance) thanks to regCovar', async () => {
    const rows = Array.from({ length: 60 }, (_, i) => (i < 30 ? [1, 2, 3] : [i, i * 0.5, -i]));
    const gmm = new GaussianMixture({ nComponents: 2, ...cpu });
    await gmm.fit(rows);
    expect(allFinite(gmm.covariances) && Number.isFinite(gmm.lowerBound)).toBe(true);
    const cov = gmm.covariances;
    const k = gmm.means.data[0] === 1 ? 0 : 1;
    expect(cov[k * 9]).toBeCloseTo(1e-6, 9);
  });

  it('keeps an empty component finite', async () => {
    const x = makeBlobs({ n: 300, d: 2, k: 2, seed: 6 });
    const gmm = new GaussianMixture({
      nComponents: 3,
      ...cpu,
      init: {
        weights: [0.4, 0.4, 0.2],
        means: [-1e6, -1e6, ...x.data.slice(0, 2), ...x.data.slice(2, 4)],
        covariances: [1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1],
      },
      tol: 0,
      maxIter: 5,
    });
    await gmm.fit(x);
    expect(gmm.weights[0]).toBeLessThan(1e-12);
    expect(allFinite(gmm.weights) && allFinite(gmm.means.data) && allFinite(gmm.covariances)).toBe(true);
    expect(Number.isFinite(gmm.lowerBound)).toBe(true);
  });
});

describe('bad input gets a clear error', () => {
  const gmm = () => new GaussianMixture({ nComponents: 2, ...cpu });
  it('NaN and Inf name the row and column', async () => {
    await expectError(
      gmm().fit([
        [1, 2],
        [3, NaN],
        [5, 6],
      ]),
      'data',
      /row 1, column 1/,
    );
    await expectError(
      gmm().fit({ data: Float32Array.from([1, 2, Infinity, 4]), rows: 2, cols: 2 }),
      'data',
      /row 1, column 0/,
    );
    await expectError(
      gmm().fit({ data: Float64Array.from([1, 2, 1e300, 4]), rows: 2, cols: 2 }),
      'data',
      /float32/,
    );
  });
  it('ragged rows, D = 0, empty data, wrong lengths', async () => {
    await expectError(gmm().fit([[1, 2], [3], [4, 5]]), 'data', /ragged: row 1 has 1 values/);
    await expectError(gmm().fit([[], []]), 'data', /0 columns/);
    await expectError(gmm().fit([]), 'data', /no rows/);
    await expectError(gmm().fit({ data: new Float32Array(5), rows: 2, cols: 3 }), 'data', /rows x cols/);
  });
  it('N < K and K < 1', async () => {
    await expectError(
      new GaussianMixture({ nComponents: 5, ...cpu }).fit([[1], [2], [3]]),
      'data',
      /3 samples but nComponents = 5/,
    );
    await expectError(
      () => new GaussianMixture({ nComponents: 0 }),
      'usage',
      /nComponents must be an integer >= 1/,
    );
    await expectError(() => new GaussianMixture({ nComponents: 2.5 }), 'usage', /nComponents/);
  });
  it('invalid options', async () => {
    await expectError(() => new GaussianMixture({ nComponents: 2, tol: -1 }), 'usage', /tol/);
    await expectError(() => new GaussianMixture({ nComponents: 2, regCovar: NaN }), 'usage', /regCovar/);
    await expectError(() => new GaussianMixture({ nComponents: 2, maxIter: 0 }), 'usage', /maxIter/);
    await expectError(
      () => new GaussianMixture({ nComponents: 2, backend: 'cuda' as never }),
      'usage',
      /backend/,
    );
    await expectError(
      () => new GaussianMixture({ nComponents: 2, init: 'kmeanz' as never }),
      'usage',
      /init/,
    );
    await expectError(
      () => new GaussianMixture({ nComponents: 2, covarianceType: 'banana' as never }),
      'usage',
      /covarianceType/,
    );
  });
  it('an init model whose shapes do not match the data', async () => {
    const x = [
      [1, 2],
      [3, 4],
      [5, 6],
    ];
    await expectError(
      new GaussianMixture({ nComponents: 2, ...cpu, init: { means: [1, 2, 3] } }).fit(x),
      'data',
      /3 mean values/,
    );
    await expectError(
      new GaussianMixture({
        nComponents: 2,
        ...cpu,
        init: { means: [1, 2, 3, 4], weights: [1, 1], covariances: [1, 0, 0, 1] },
      }).fit(x),
      'data',
      /'full' covariances need K x D x D = 8 values, got 4/,
    );
    await expectError(
      new GaussianMixture({
        nComponents: 2,
        ...cpu,
        init: { means: [1, 2, 3, 4], weights: [1, 1], covariances: [1, 0.5, 0, 1, 1, 0, 0, 1] },
      }).fit(x),
      'data',
      /not symmetric/,
    );
  });
  it('a covariance that cannot be factorised gives the scikit-learn advice', async () => {
    // regCovar 0 and a component on identical points: the covariance is exactly singular.
    const rows = Array.from({ length: 20 }, (_, i) => (i < 10 ? [1, 1] : [5 + (i % 3), 2 + (i % 2)]));
    await expectError(
      new GaussianMixture({ nComponents: 2, ...cpu, regCovar: 0 }).fit(rows),
      'numerical',
      /increase regCovar/,
    );
  });
  it('predicting before fitting, or with the wrong width', async () => {
    await expectError(gmm().predict([[1, 2]]), 'usage', /not fitted/);
    const g = gmm();
    await g.fit([
      [1, 2],
      [3, 4],
      [5, 7],
      [0, 1],
    ]);
    await expectError(g.predict([[1, 2, 3]]), 'data', /3 features but the model was fitted with 2/);
  });
});

/** Weights (0.3, 0.7), means (0, 0) and (6, 3), covariances [[1, .5], [.5, 2]] and [[.5, -.2], [-.2, .3]]. */
function knownMixtureSample(n: number) {
  const rng = new Random(42);
  const chol = [
    [1, 0.5, Math.sqrt(2 - 0.25)],
    [Math.sqrt(0.5), -0.2 / Math.sqrt(0.5), Math.sqrt(0.3 - 0.04 / 0.5)],
  ];
  const means = [
    [0, 0],
    [6, 3],
  ];
  const data = new Float32Array(n * 2);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = rng.uniform() < 0.3 ? 0 : 1;
    const [z0, z1] = [rng.normal(), rng.normal()];
    const [a, b, c] = chol[k];
    data[i * 2] = means[k][0] + a * z0;
    data[i * 2 + 1] = means[k][1] + b * z0 + c * z1;
    labels[i] = k;
  }
  return { x: { data, rows: n, cols: 2 }, labels };
}
