import { describe, expect, it } from 'vitest';
import { BayesianGaussianMixture, GaussianMixture, makeBlobs, WebGpuEmError } from '../src/index.js';
import { COVARIANCE_TYPES } from '../src/core/names.js';
import { digamma, logBeta, logGamma } from '../src/core/special.js';
import { labelSums } from '../src/models/init-sums.js';
import { mStep } from '../src/models/gmm-parameters.js';
import { BGMM_CASES, fixtureData, maxDiff } from './helpers/bgmm-fixtures.js';
import { maxAbs } from './helpers/data.js';

// The float64 CPU reference against scikit-learn 1.2's BayesianGaussianMixture, fitted from the
// same initial labels (test/fixtures/bgmm-sklearn.json, written once by scripts/bgmm-fixtures.py).

const relative = (a: ArrayLike<number>, b: ArrayLike<number>) => maxDiff(a, b) / Math.max(1, maxAbs(b));

describe('special functions of the lower bound', () => {
  it('log Γ, ψ and log B at known values', () => {
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 14);
    expect(logGamma(1)).toBeCloseTo(0, 14);
    expect(logGamma(10)).toBeCloseTo(Math.log(362880), 12);
    // scipy.special.gammaln(1e-3), digamma(1e-3), digamma(150.2)
    expect(Math.abs(logGamma(1e-3) - 6.907178885383853)).toBeLessThan(1e-13);
    expect(Math.abs(digamma(1e-3) + 1000.5755719318103)).toBeLessThan(1e-10);
    expect(Math.abs(digamma(150.2) - 5.008635150692604)).toBeLessThan(1e-13);
    expect(digamma(1)).toBeCloseTo(-0.5772156649015329, 14);
    expect(logBeta(2, 3)).toBeCloseTo(Math.log(1 / 12), 14);
  });
});

describe('BayesianGaussianMixture on the CPU reference equals scikit-learn from the same labels', () => {
  for (const c of BGMM_CASES) {
    it(`${c.data}, K = ${c.nComponents}, '${c.covarianceType}', ${c.weightConcentrationPriorType}`, async () => {
      const x = fixtureData(c.data);
      const m = new BayesianGaussianMixture({
        nComponents: c.nComponents,
        covarianceType: c.covarianceType,
        weightConcentrationPriorType: c.weightConcentrationPriorType,
        init: { labels: c.labels },
        backend: 'cpu',
      });
      await m.fit(x);
      // float64 on both sides; iterations amplify the last bits (tied runs 100 iterations).
      expect(m.nIter).toBe(c.nIter);
      expect(m.converged).toBe(c.converged);
      expect(Math.abs(m.lowerBound - c.lowerBound)).toBeLessThan(1e-9 * Math.abs(c.lowerBound));
      expect(maxDiff(m.weights, c.weights)).toBeLessThan(1e-9);
      expect(relative(m.means.data, c.means)).toBeLessThan(1e-9);
      expect(relative(m.covariances, c.covariances)).toBeLessThan(1e-9);
      expect(relative(m.weightConcentration, c.weightConcentration)).toBeLessThan(1e-9);
      expect(relative(m.meanPrecision, c.meanPrecision)).toBeLessThan(1e-9);
      const nu = c.degreesOfFreedom.length === 1 ? m.degreesOfFreedom.subarray(0, 1) : m.degreesOfFreedom;
      expect(relative(nu, c.degreesOfFreedom)).toBeLessThan(1e-9);
      const head = { data: x.data.slice(0, 10 * x.cols), rows: 10, cols: x.cols };
      expect(relative(await m.scoreSamples(head), c.scoreSamples)).toBeLessThan(1e-9);
      expect(Array.from(await m.predict(x))).toEqual(c.predict);
      expect(Array.from(m.labels)).toEqual(c.predict);
      m.dispose();
    });
  }
});

describe('BayesianGaussianMixture chooses K', () => {
  it('a Dirichlet process with K = 10 on 3 well-separated clusters keeps 3 or 4 components above 1%', async () => {
    const x = makeBlobs({ n: 3000, d: 2, k: 3, spread: 20, seed: 4 });
    const m = new BayesianGaussianMixture({ nComponents: 10, backend: 'cpu', seed: 1 });
    await m.fit(x);
    const used = Array.from(m.weights).filter((w) => w > 0.01).length;
    expect(used).toBeGreaterThanOrEqual(3);
    expect(used).toBeLessThanOrEqual(4);
    // The per-iteration weights: the components switched off fall towards 0.
    expect(m.history.length).toBe(m.nIter);
    expect(m.history.at(-1)!.weights).toEqual(m.weights);
    m.dispose();
  });

  it('components with no initial sample switch off (every family, data offset by 1e4)', async () => {
    const x = makeBlobs({ n: 900, d: 3, k: 3, spread: 10, offset: 1e4, seed: 2 });
    for (const covarianceType of COVARIANCE_TYPES) {
      const m = new BayesianGaussianMixture({
        nComponents: 6,
        covarianceType,
        // Labels 3..5 have no sample: those components start from the priors alone.
        init: { labels: x.labels },
        backend: 'cpu',
      });
      await m.fit(x);
      expect(Number.isFinite(m.lowerBound)).toBe(true);
      const w = m.weights;
      for (let k = 3; k < 6; k++) expect(w[k]).toBeLessThan(1e-3);
      // The occupied components are the true clusters, found to the sampling error.
      for (let k = 0; k < 3; k++) expect(Math.abs(w[k] - 1 / 3)).toBeLessThan(1e-3);
      m.dispose();
    }
  });

  it('is translation invariant: data offset by 1e4 gives the same posterior, moved', async () => {
    const base = makeBlobs({ n: 600, d: 2, k: 3, seed: 5 });
    const moved = { ...base, data: base.data.map((v) => v + 1e4) };
    const fit = async (x: typeof base) => {
      const m = new BayesianGaussianMixture({
        nComponents: 5,
        init: { labels: base.labels },
        backend: 'cpu',
      });
      await m.fit(x);
      return m;
    };
    const a = await fit(base);
    // The float32 samples of the moved data differ from base + 1e4 by their rounding (~5e-4).
    const movedBack = { ...base, data: Float32Array.from(moved.data, (v) => v - 1e4) };
    const b = await fit(movedBack);
    const c = await fit(moved);
    expect(maxDiff(b.weights, c.weights)).toBeLessThan(1e-9);
    expect(maxDiff(b.covariances, c.covariances)).toBeLessThan(1e-9 * maxAbs(c.covariances) + 1e-9);
    expect(
      maxDiff(
        Float64Array.from(b.means.data, (v) => v + 1e4),
        c.means.data,
      ),
    ).toBeLessThan(1e-8);
    expect(Math.abs(a.lowerBound - c.lowerBound)).toBeLessThan(1e-3 * Math.abs(a.lowerBound));
    for (const m of [a, b, c]) m.dispose();
  });
});

describe('initial labels', () => {
  it("GaussianMixture from labels starts at the labels' M-step (scikit-learn's _initialize)", async () => {
    const x = makeBlobs({ n: 300, d: 2, k: 3, seed: 3 });
    const gmm = new GaussianMixture({
      nComponents: 3,
      init: { labels: x.labels },
      maxIter: 1,
      backend: 'cpu',
    });
    await gmm.initialize(x);
    const { stats, shifts } = labelSums(x, x.labels, 3);
    const expected = mStep(stats, shifts, 1e-6, 'full');
    expect(maxDiff(gmm.weights, expected.weights)).toBeLessThan(1e-15);
    expect(maxDiff(gmm.means.data, expected.means)).toBeLessThan(1e-12);
    for (let k = 0; k < 3; k++) expect(gmm.weights[k]).toBeCloseTo(1 / 3, 12);
    gmm.dispose();
  });

  it('bad labels are one clear error', async () => {
    const x = makeBlobs({ n: 30, d: 2, k: 3 });
    const fit = (labels: ArrayLike<number>) =>
      new BayesianGaussianMixture({ nComponents: 3, init: { labels }, backend: 'cpu' }).fit(x);
    await expect(fit([0, 1])).rejects.toThrow(/2 initial labels but X has 30 samples/);
    await expect(fit(Array.from({ length: 30 }, (_, i) => (i === 7 ? 3 : 0)))).rejects.toThrow(
      /initial label 7 is 3; labels must be integers from 0 to K - 1 = 2/,
    );
    await expect(fit(Array.from({ length: 30 }, () => 0.5))).rejects.toBeInstanceOf(WebGpuEmError);
  });
});

describe('options, model files', () => {
  it('refuses bad priors with the option named', async () => {
    const x = makeBlobs({ n: 30, d: 3, k: 2 });
    expect(() => new BayesianGaussianMixture({ nComponents: 2, weightConcentrationPrior: 0 })).toThrow(
      /weightConcentrationPrior must be a finite number > 0/,
    );
    expect(
      () =>
        new BayesianGaussianMixture({
          nComponents: 2,
          weightConcentrationPriorType: 'dirichlet' as 'dirichlet_process',
        }),
    ).toThrow(/weightConcentrationPriorType/);
    const low = new BayesianGaussianMixture({ nComponents: 2, degreesOfFreedomPrior: 1.5, backend: 'cpu' });
    await expect(low.fit(x)).rejects.toThrow(/degreesOfFreedomPrior must be greater than D - 1 = 2/);
    const prior = new BayesianGaussianMixture({ nComponents: 2, covariancePrior: [1, 2, 3], backend: 'cpu' });
    await expect(prior.fit(x)).rejects.toThrow(
      /covariancePrior of 'full' covariances needs D x D = 9 values/,
    );
  });

  it('given priors are used as given', async () => {
    const x = makeBlobs({ n: 200, d: 2, k: 2, seed: 9 });
    const m = new BayesianGaussianMixture({
      nComponents: 2,
      covarianceType: 'diag',
      meanPrior: [1, 2],
      covariancePrior: [3, 4],
      degreesOfFreedomPrior: 5,
      meanPrecisionPrior: 0.5,
      weightConcentrationPrior: 2,
      init: { labels: x.labels },
      backend: 'cpu',
    });
    await m.fit(x);
    expect(Array.from(m.priors.meanPrior)).toEqual([1, 2]);
    expect(Array.from(m.covariancePrior)).toEqual([3, 4]);
    // beta_k = beta_0 + N_k and nu_k = nu_0 + N_k: both sum to their prior times K plus N.
    const sum = (a: Float64Array) => a.reduce((s, v) => s + v, 0);
    expect(sum(m.meanPrecision)).toBeCloseTo(2 * 0.5 + 200, 9);
    expect(sum(m.degreesOfFreedom)).toBeCloseTo(2 * 5 + 200, 9);
    m.dispose();
  });

  it('toJSON / fromJSON (webgpu-em/bgmm@1) predicts and scores as the fitted model', async () => {
    for (const covarianceType of COVARIANCE_TYPES) {
      for (const weightConcentrationPriorType of ['dirichlet_process', 'dirichlet_distribution'] as const) {
        const x = makeBlobs({ n: 300, d: 3, k: 3, seed: 6 });
        const m = new BayesianGaussianMixture({
          nComponents: 4,
          covarianceType,
          weightConcentrationPriorType,
          backend: 'cpu',
        });
        await m.fit(x);
        const json = JSON.parse(JSON.stringify(m)) as Record<string, unknown>;
        expect(json.format).toBe('webgpu-em/bgmm@1');
        const back = BayesianGaussianMixture.fromJSON(json, { backend: 'cpu' });
        expect(maxDiff(await back.scoreSamples(x), await m.scoreSamples(x))).toBeLessThan(1e-9);
        expect(Array.from(await back.predict(x))).toEqual(Array.from(await m.predict(x)));
        expect(maxDiff(back.priors.covariancePrior, m.priors.covariancePrior)).toBeLessThan(1e-12);
        expect(back.sample(5).x.data).toEqual(m.sample(5).x.data);
        m.dispose();
        back.dispose();
      }
    }
    expect(() => BayesianGaussianMixture.fromJSON({ format: 'webgpu-em/gmm@1', means: [[0]] })).toThrow(
      /GaussianMixture\.fromJSON/,
    );
  });

  it('warmStart continues from the fitted posterior', async () => {
    const x = makeBlobs({ n: 300, d: 2, k: 3, seed: 7 });
    const m = new BayesianGaussianMixture({
      nComponents: 3,
      warmStart: true,
      maxIter: 5,
      tol: 0,
      backend: 'cpu',
    });
    await m.fit(x);
    const first = m.lowerBound;
    await m.fit(x);
    // A continued run raises the bound further (coordinate ascent never lowers it).
    expect(m.lowerBound).toBeGreaterThanOrEqual(first - 1e-9 * Math.abs(first));
    m.dispose();
  });
});
