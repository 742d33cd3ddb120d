import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BayesianGaussianMixture, makeBlobs } from '../src/index.js';
import type { GpuContext } from '../src/gpu/context.js';
import type { Matrix } from '../src/data/matrix.js';
import { BGMM_CASES, fixtureData, maxDiff } from './helpers/bgmm-fixtures.js';
import { maxAbs } from './helpers/data.js';
import { requireGpu } from './helpers/gpu.js';

// The variational fit on the GPU (float32 statistics, the r log r sum of the statistics kernels)
// against the float64 CPU reference and scikit-learn, from the same initial labels.
//
// Tolerances: each pass's sums carry ~1e-6 relative error (NUMERICS.md); the posterior is a
// contraction around the fixed point, so the error stays at that level over the iterations
// rather than growing with them: weights to 1e-5, means and covariances to 1e-5 of their
// scale, the lower bound (a total over N, sum r log r included) to 1e-6 relative.

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await requireGpu();
});
afterAll(() => gpu?.release());

const relative = (a: ArrayLike<number>, b: ArrayLike<number>) => maxDiff(a, b) / Math.max(1, maxAbs(b));

async function fitOn(backend: 'cpu' | 'webgpu', x: Matrix, options: Record<string, unknown>) {
  const m = new BayesianGaussianMixture({
    nComponents: 1,
    ...options,
    ...(backend === 'webgpu' ? { backend, device: gpu.device } : { backend }),
  });
  await m.fit(x);
  return m;
}

function expectClose(
  g: BayesianGaussianMixture,
  c: {
    weights: ArrayLike<number>;
    means: ArrayLike<number>;
    covariances: ArrayLike<number>;
    lowerBound: number;
  },
) {
  expect(maxDiff(g.weights, c.weights)).toBeLessThan(1e-5);
  expect(relative(g.means.data, c.means)).toBeLessThan(1e-5);
  expect(relative(g.covariances, c.covariances)).toBeLessThan(1e-5);
  expect(Math.abs(g.lowerBound - c.lowerBound)).toBeLessThan(1e-6 * Math.abs(c.lowerBound));
}

const summary = (m: BayesianGaussianMixture) => ({
  weights: m.weights,
  means: m.means.data,
  covariances: m.covariances,
  lowerBound: m.lowerBound,
});

describe('the GPU fit equals the reference and scikit-learn on real data, from the same labels', () => {
  for (const c of BGMM_CASES) {
    it(`${c.data}, K = ${c.nComponents}, '${c.covarianceType}', ${c.weightConcentrationPriorType}`, async () => {
      const x = fixtureData(c.data);
      const options = {
        nComponents: c.nComponents,
        covarianceType: c.covarianceType,
        weightConcentrationPriorType: c.weightConcentrationPriorType,
        init: { labels: c.labels },
      };
      const g = await fitOn('webgpu', x, options);
      const cpu = await fitOn('cpu', x, options);
      expect(await g.backendName()).toBe('webgpu');
      expectClose(g, summary(cpu));
      expectClose(g, c);
      expect(g.nIter).toBe(c.nIter);
      expect(relative(g.weightConcentration, c.weightConcentration)).toBeLessThan(1e-5);
      expect(Array.from(await g.predict(x))).toEqual(c.predict);
      g.dispose();
      cpu.dispose();
    });
  }
});

describe('the fused kernel (N x K >= 500k) chooses K as the reference does', () => {
  it('K = 10 on 3 well-separated clusters, data offset by 1e3: 3 or 4 components above 1%', async () => {
    const x = makeBlobs({ n: 50_000, d: 2, k: 3, spread: 20, offset: 1e3, seed: 4 });
    // Start from labels with every component used (rows dealt round-robin over 10 labels within
    // each cluster's band) so the run has components to switch off.
    const labels = Int32Array.from(x.labels, (l, r) => (l * 3 + (r % 3)) % 10);
    const options = { nComponents: 10, init: { labels }, maxIter: 40 };
    const g = await fitOn('webgpu', x, options);
    const cpu = await fitOn('cpu', x, options);
    const used = Array.from(g.weights).filter((w) => w > 0.01).length;
    expect(used).toBeGreaterThanOrEqual(3);
    expect(used).toBeLessThanOrEqual(4);
    expect(g.nIter).toBe(cpu.nIter);
    expectClose(g, summary(cpu));
    g.dispose();
    cpu.dispose();
  });
});
