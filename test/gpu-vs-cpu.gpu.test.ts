/**
 * The WebGPU backend against the float64 CPU reference, on a real adapter.
 *
 * Tolerances: the GPU holds data and parameters in float32 (unit roundoff u = 6e-8) and sums
 * in two levels of at most 32 tiles x 32 rows, then 64-block groups, so a sum's relative
 * error is bounded by about (32 + 32 + 64 + 64) u ~ 1e-5, and much less in practice. A
 * per-sample log-density of magnitude L carries ~L * 1e-6 of rounding from the Mahalanobis
 * sum. So one E-step's statistics agree to 1e-4 relative (of their scale), and the mean
 * log-likelihood to 1e-5 relative. Over several EM iterations the difference can grow a
 * little along the trajectory; fits are compared to 1e-4 relative in the lower bound and
 * 1e-3 of the data's scale in the parameters.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Matrix } from '../src/data/matrix.js';
import { CpuBackend } from '../src/backends/cpu/cpu-backend.js';
import { estepRowCost } from '../src/backends/webgpu/mixture-passes.js';
import { rowsWithinBudget, submissionWork } from '../src/backends/webgpu/submissions.js';
import { WebGpuBackend } from '../src/backends/webgpu/webgpu-backend.js';
import { GpuContext } from '../src/gpu/context.js';
import { GaussianMixture, gpuAllocations, KMeans } from '../src/index.js';
import { shiftsFor, toComponentParameters } from '../src/models/gmm-parameters.js';
import { COVARIANCE_TYPES, type CovarianceType } from '../src/core/names.js';
import type { SufficientStatistics } from '../src/core/statistics.js';
import { parametersFromCentres, randomFromDataCentres } from '../src/models/init.js';
import { Random } from '../src/core/random.js';
import { allFinite, makeBlobs, maxAbs, maxAbsDiff, kmeansPlusPlusCpu } from './helpers/data.js';
import { requireGpu } from './helpers/gpu.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await requireGpu();
});
afterAll(() => gpu?.release());

const onGpu = () => ({ backend: 'webgpu' as const, device: gpu.device });

async function statsBoth(
  x: Matrix,
  k: number,
  centres: (x: Matrix, k: number, rng: Random) => Float64Array | Promise<Float64Array> = kmeansPlusPlusCpu,
  type: CovarianceType = 'full',
) {
  const init = parametersFromCentres(x, await centres(x, k, new Random(1)), 1e-6, type);
  const params = toComponentParameters(init);
  const shifts = shiftsFor(init);
  const cpu = await (await new CpuBackend().bindData(x)).sufficientStatistics(params, shifts);
  const backend = await WebGpuBackend.create({ device: gpu.device });
  const bound = await backend.bindData(x, { purpose: type });
  try {
    return { cpu, gpu: await bound.sufficientStatistics(params, shifts) };
  } finally {
    bound.dispose();
  }
}

async function fitBoth(x: Matrix, k: number, extra: Record<string, unknown> = {}) {
  const options = { nComponents: k, tol: 0, maxIter: 10, seed: 2, ...extra };
  const cpu = new GaussianMixture({ ...options, backend: 'cpu' });
  const gpuFit = new GaussianMixture({ ...options, ...onGpu() });
  await cpu.fit(x);
  await gpuFit.fit(x);
  gpuFit.dispose();
  return { cpu, gpu: gpuFit };
}

/**
 * sum r log r: the responsibilities are as accurate as the float32 log-densities they come from,
 * whose rounding grows with the D terms of the Mahalanobis sum (D u ~ 1e-4 at D = 1536, against
 * 1e-6 at D = 16): 1e-5 relative up to D = 16, growing with D beyond. Besides, an r within 6e-8
 * of 1 rounds to 1 (log 0) where the true term is about -(1 - r), so each row can be off by
 * ~6e-8 absolutely (the kernels from the responsibilities; the fused one avoids it).
 */
function expectEntropyAgrees(cpu: SufficientStatistics, g: SufficientStatistics, n: number) {
  expect(cpu.respLogRespSum).toBeLessThanOrEqual(0);
  const relative = 1e-5 * Math.max(1, cpu.nFeatures / 16);
  expect(Math.abs(cpu.respLogRespSum - g.respLogRespSum)).toBeLessThan(
    relative * Math.abs(cpu.respLogRespSum) + 1e-7 * n,
  );
}

function expectFitsAgree(a: GaussianMixture, b: GaussianMixture, scale: number) {
  expect(Math.abs(a.lowerBound - b.lowerBound)).toBeLessThanOrEqual(
    1e-4 * Math.max(1, Math.abs(a.lowerBound)),
  );
  expect(maxAbsDiff(a.weights, b.weights)).toBeLessThan(1e-3);
  expect(maxAbsDiff(a.means.data, b.means.data)).toBeLessThan(1e-3 * scale);
  expect(maxAbsDiff(a.covariances, b.covariances)).toBeLessThan(1e-3 * maxAbs(a.covariances));
}

describe('one E-step: statistics on the GPU equal the float64 reference', () => {
  const cases: Array<[string, { n: number; d: number; k: number }]> = [
    ['D=2 K=3', { n: 5000, d: 2, k: 3 }],
    ['D=8 K=16, many blocks', { n: 60_000, d: 8, k: 16 }],
    ['D=33 K=4 (stats workgroup of 256)', { n: 3000, d: 33, k: 4 }],
    ['D=64 K=2 (largest D)', { n: 2000, d: 64, k: 2 }],
    ['D=1 K=1', { n: 777, d: 1, k: 1 }],
  ];
  for (const [name, shape] of cases) {
    it(name, async () => {
      const x = makeBlobs({ ...shape, seed: shape.d });
      const { cpu, gpu: g } = await statsBoth(x, shape.k);
      const relLl = Math.abs(cpu.logLikelihoodSum - g.logLikelihoodSum) / Math.abs(cpu.logLikelihoodSum);
      expect(relLl).toBeLessThan(1e-5);
      expectEntropyAgrees(cpu, g, shape.n);
      expect(maxAbsDiff(cpu.nk, g.nk)).toBeLessThan(1e-4 * shape.n);
      expect(maxAbsDiff(cpu.firstMoment, g.firstMoment)).toBeLessThan(1e-4 * maxAbs(cpu.firstMoment) + 1e-3);
      expect(maxAbsDiff(cpu.secondMoment, g.secondMoment)).toBeLessThan(1e-4 * maxAbs(cpu.secondMoment));
    });
  }
});

describe('every covariance family on the GPU agrees with the reference', () => {
  for (const type of COVARIANCE_TYPES) {
    it(`${type}: one E-step's statistics`, async () => {
      const x = makeBlobs({ n: 20_000, d: 6, k: 5, seed: 3 });
      const { cpu, gpu: g } = await statsBoth(x, 5, kmeansPlusPlusCpu, type);
      expect(g.secondMomentLayout).toBe(cpu.secondMomentLayout);
      expect(
        Math.abs(cpu.logLikelihoodSum - g.logLikelihoodSum) / Math.abs(cpu.logLikelihoodSum),
      ).toBeLessThan(1e-5);
      expectEntropyAgrees(cpu, g, 20_000);
      expect(maxAbsDiff(cpu.nk, g.nk)).toBeLessThan(1e-4 * 20_000);
      expect(maxAbsDiff(cpu.firstMoment, g.firstMoment)).toBeLessThan(1e-4 * maxAbs(cpu.firstMoment) + 1e-3);
      expect(maxAbsDiff(cpu.secondMoment, g.secondMoment)).toBeLessThan(1e-4 * maxAbs(cpu.secondMoment));
    });

    it(`${type}: a whole fit, data offset by 1e3`, async () => {
      const x = makeBlobs({ n: 10_000, d: 4, k: 3, offset: 1e3, seed: 8 });
      const { cpu, gpu: g } = await fitBoth(x, 3, { covarianceType: type });
      expectFitsAgree(cpu, g, 6);
      expect(g.covariances).toHaveLength(cpu.covariances.length);
    });
  }

  it('diag with D = 64 and many components', async () => {
    const x = makeBlobs({ n: 4000, d: 64, k: 20, seed: 5 });
    const { cpu, gpu: g } = await statsBoth(x, 20, kmeansPlusPlusCpu, 'diag');
    expect(Math.abs(cpu.logLikelihoodSum - g.logLikelihoodSum) / Math.abs(cpu.logLikelihoodSum)).toBeLessThan(
      1e-5,
    );
    expect(maxAbsDiff(cpu.secondMoment, g.secondMoment)).toBeLessThan(1e-4 * maxAbs(cpu.secondMoment));
  });
});

describe('the fused kernel, and wide data on the two-kernel path', () => {
  // Same tolerances as one E-step above: float32 sums of few rows, in two levels.
  // The fused kernel runs from N x K = 500k (FUSED_MIN_WORK).
  const cases: Array<[string, { n: number; d: number; k: number; offset?: number }, CovarianceType]> = [
    ['full D=12 K=5, fused', { n: 100_000, d: 12, k: 5 }, 'full'],
    ['diag D=24 K=16, fused', { n: 32_000, d: 24, k: 16 }, 'diag'],
    ['spherical D=5 K=40, fused', { n: 13_000, d: 5, k: 40 }, 'spherical'],
    // Blocked full sums: K not a multiple of the SIMD width of 8, D + 1 on a vec4 boundary.
    ['full D=17 K=13 (blocked sums)', { n: 4000, d: 17, k: 13 }, 'full'],
    ['tied D=39 K=8 offset by 1e3 (blocked sums)', { n: 4000, d: 39, k: 8, offset: 1e3 }, 'tied'],
    ['full D=17 K=3 (two-kernel path past the fused D)', { n: 1500, d: 17, k: 3 }, 'full'],
    ['full D=128 K=2 (largest full)', { n: 1500, d: 128, k: 2 }, 'full'],
    ['tied D=128 K=3', { n: 1500, d: 128, k: 3 }, 'tied'],
    ['diag D=2048 K=3 (largest diag)', { n: 600, d: 2048, k: 3 }, 'diag'],
    ['spherical D=1536 K=3', { n: 600, d: 1536, k: 3 }, 'spherical'],
  ];
  for (const [name, shape, type] of cases) {
    it(name, async () => {
      const x = makeBlobs({ ...shape, seed: shape.d + 1 });
      const { cpu, gpu: g } = await statsBoth(x, shape.k, kmeansPlusPlusCpu, type);
      expect(g.secondMomentLayout).toBe(cpu.secondMomentLayout);
      const relLl = Math.abs(cpu.logLikelihoodSum - g.logLikelihoodSum) / Math.abs(cpu.logLikelihoodSum);
      expect(relLl).toBeLessThan(1e-5);
      expectEntropyAgrees(cpu, g, shape.n);
      expect(maxAbsDiff(cpu.nk, g.nk)).toBeLessThan(1e-4 * shape.n);
      expect(maxAbsDiff(cpu.firstMoment, g.firstMoment)).toBeLessThan(1e-4 * maxAbs(cpu.firstMoment) + 1e-3);
      expect(maxAbsDiff(cpu.secondMoment, g.secondMoment)).toBeLessThan(1e-4 * maxAbs(cpu.secondMoment));
    });
  }

  it('the fused kernel gives the same bits for the same input', async () => {
    const x = makeBlobs({ n: 100_000, d: 4, k: 5, offset: 1e4, seed: 12 });
    const init = parametersFromCentres(x, await kmeansPlusPlusCpu(x, 5, new Random(1)), 1e-6, 'full');
    const backend = await WebGpuBackend.create({ device: gpu.device });
    const bound = await backend.bindData(x, { purpose: 'full' });
    try {
      const params = toComponentParameters(init);
      const [a, b] = [
        await bound.sufficientStatistics(params, shiftsFor(init)),
        await bound.sufficientStatistics(params, shiftsFor(init)),
      ];
      expect(a.logLikelihoodSum).toBe(b.logLikelihoodSum);
      expect(Array.from(a.secondMoment)).toEqual(Array.from(b.secondMoment));
      expect(Array.from(a.nk)).toEqual(Array.from(b.nk));
    } finally {
      bound.dispose();
    }
  });

  // Each kernel variant runs here (WEBGPU_EM_KERNELS forces the GPU shape on this CPU emulation):
  // the fused kernel's GPU shape keeps a block's sums in its slot of the partial sums (not in
  // registers), in smaller tiles and more blocks; each shape agrees with the reference and gives
  // the same bits for the same input.
  it("the statistics kernels' GPU shapes agree with the reference, as the software shapes do", async () => {
    const cases: Array<[{ n: number; d: number; k: number; offset?: number }, CovarianceType]> = [
      // The fused kernel (N x K >= 500k).
      [{ n: 70_000, d: 8, k: 8, offset: 1e3 }, 'full'],
      [{ n: 32_000, d: 24, k: 16 }, 'diag'],
      // The two-kernel path, whose GPU tiles are smaller (16 and 8 rows here); the GPU's E-step
      // takes diagonal components in blocks of 8 (K = 4: one block, half of it past K).
      [{ n: 6000, d: 8, k: 32, offset: 1e3 }, 'diag'],
      [{ n: 3000, d: 64, k: 4 }, 'spherical'],
      // sufficient_stats.wgsl at D = 128: 7-row GPU tiles (within 4 KB), against 32 in software.
      [{ n: 1500, d: 128, k: 4, offset: 1e3 }, 'diag'],
      // sufficient_stats_full.wgsl (full, D > 16): 20-row GPU tiles for 40 lanes, against 40, so
      // the staging loop's last pass writes past the tile's rows (D = 24: 7 vec4s a row).
      [{ n: 3000, d: 24, k: 40, offset: 1e3 }, 'full'],
    ];
    for (const [shape, type] of cases) {
      const x = makeBlobs({ ...shape, seed: shape.d + 3 });
      const init = parametersFromCentres(x, await kmeansPlusPlusCpu(x, shape.k, new Random(1)), 1e-6, type);
      const params = toComponentParameters(init);
      const run = async (forced: 'gpu' | 'software') => {
        process.env.WEBGPU_EM_KERNELS = forced;
        const bound = await (
          await WebGpuBackend.create({ device: gpu.device })
        ).bindData(x, { purpose: type });
        try {
          return [
            await bound.sufficientStatistics(params, shiftsFor(init)),
            await bound.sufficientStatistics(params, shiftsFor(init)),
          ];
        } finally {
          bound.dispose();
          delete process.env.WEBGPU_EM_KERNELS;
        }
      };
      const cpu = await (await new CpuBackend().bindData(x)).sufficientStatistics(params, shiftsFor(init));
      for (const forced of ['software', 'gpu'] as const) {
        const [g, again] = await run(forced);
        expect(Array.from(again.secondMoment), forced).toEqual(Array.from(g.secondMoment));
        expect(again.logLikelihoodSum, forced).toBe(g.logLikelihoodSum);
        const relLl = Math.abs(cpu.logLikelihoodSum - g.logLikelihoodSum) / Math.abs(cpu.logLikelihoodSum);
        expect(relLl, forced).toBeLessThan(1e-5);
        expectEntropyAgrees(cpu, g, shape.n);
        expect(maxAbsDiff(cpu.nk, g.nk), forced).toBeLessThan(1e-4 * shape.n);
        expect(maxAbsDiff(cpu.firstMoment, g.firstMoment), forced).toBeLessThan(
          1e-4 * maxAbs(cpu.firstMoment) + 1e-3,
        );
        expect(maxAbsDiff(cpu.secondMoment, g.secondMoment), forced).toBeLessThan(
          1e-4 * maxAbs(cpu.secondMoment),
        );
      }
    }
  });

  it("the E-step's and k-means' GPU shapes give the software shapes' results", async () => {
    const withShape = async <T>(forced: 'gpu' | 'software', f: () => Promise<T>): Promise<T> => {
      process.env.WEBGPU_EM_KERNELS = forced;
      try {
        return await f();
      } finally {
        delete process.env.WEBGPU_EM_KERNELS;
      }
    };
    // Full covariances: the row and its differences in private arrays, or read as the sums go.
    const x = makeBlobs({ n: 3000, d: 16, k: 4, offset: 1e3, seed: 21 });
    const cpu = new GaussianMixture({ nComponents: 4, backend: 'cpu', maxIter: 5, seed: 3 });
    await cpu.fit(x);
    const apply = (forced: 'gpu' | 'software') =>
      withShape(forced, async () => {
        const m = GaussianMixture.fromJSON(cpu.toJSON(), onGpu());
        try {
          return {
            proba: (await m.predictProba(x)).data,
            ll: await m.scoreSamples(x),
            labels: await m.predict(x),
          };
        } finally {
          m.dispose();
        }
      });
    const [software, gpuShape] = [await apply('software'), await apply('gpu')];
    expect(Array.from(gpuShape.proba)).toEqual(Array.from(software.proba));
    expect(Array.from(gpuShape.ll)).toEqual(Array.from(software.ll));
    expect(Array.from(gpuShape.labels)).toEqual(Array.from(software.labels));
    // K = 40: the GPU shape computes the log-densities again (no tile), the software shape tiles.
    const many = new GaussianMixture({ nComponents: 40, covarianceType: 'diag', backend: 'cpu', maxIter: 2 });
    await many.fit(x);
    const labelsOf = (forced: 'gpu' | 'software') =>
      withShape(forced, async () => {
        const m = GaussianMixture.fromJSON(many.toJSON(), onGpu());
        try {
          return { labels: await m.predict(x), ll: await m.scoreSamples(x) };
        } finally {
          m.dispose();
        }
      });
    const [manySoftware, manyGpu] = [await labelsOf('software'), await labelsOf('gpu')];
    expect(Array.from(manyGpu.labels)).toEqual(Array.from(manySoftware.labels));
    expect(Array.from(manyGpu.ll)).toEqual(Array.from(manySoftware.ll));
    // K = 12 diag: the GPU shape's components in blocks of 8 (the second half past K), the
    // log-densities tiled; the same bits as one component at a time, and the reference's values.
    const twelve = new GaussianMixture({
      nComponents: 12,
      covarianceType: 'diag',
      backend: 'cpu',
      maxIter: 2,
    });
    await twelve.fit(x);
    const twelveOf = (forced: 'gpu' | 'software') =>
      withShape(forced, async () => {
        const m = GaussianMixture.fromJSON(twelve.toJSON(), onGpu());
        try {
          return {
            labels: await m.predict(x),
            ll: await m.scoreSamples(x),
            proba: (await m.predictProba(x)).data,
          };
        } finally {
          m.dispose();
        }
      });
    const [twelveSoftware, twelveGpu] = [await twelveOf('software'), await twelveOf('gpu')];
    expect(Array.from(twelveGpu.labels)).toEqual(Array.from(twelveSoftware.labels));
    expect(Array.from(twelveGpu.ll)).toEqual(Array.from(twelveSoftware.ll));
    expect(Array.from(twelveGpu.proba)).toEqual(Array.from(twelveSoftware.proba));
    const twelveReference = await twelve.scoreSamples(x);
    expect(maxAbsDiff(twelveReference, twelveGpu.ll)).toBeLessThan(
      1e-4 * Math.max(1, maxAbs(twelveReference)),
    );
    const reference = await cpu.scoreSamples(x);
    expect(maxAbsDiff(reference, gpuShape.ll)).toBeLessThan(1e-4 * Math.max(1, maxAbs(reference)));
    // k-means: the plain assignment kernel against the subgroup one (where the device has them).
    const km = (forced: 'gpu' | 'software') =>
      withShape(forced, async () => {
        const m = new KMeans({ nClusters: 6, maxIter: 4, seed: 2, ...onGpu() });
        try {
          await m.fit(x);
          return { centres: m.clusterCenters.data, labels: m.labels, inertia: m.inertia };
        } finally {
          m.dispose();
        }
      });
    const [kmSoftware, kmGpu] = [await km('software'), await km('gpu')];
    expect(Array.from(kmGpu.labels)).toEqual(Array.from(kmSoftware.labels));
    expect(Array.from(kmGpu.centres)).toEqual(Array.from(kmSoftware.centres));
  });

  it('a diag fit of 384-wide data offset by 1e4 runs on the GPU and agrees', async () => {
    const x = makeBlobs({ n: 3000, d: 384, k: 4, offset: 1e4, seed: 11 });
    const { cpu, gpu: g } = await fitBoth(x, 4, { covarianceType: 'diag', maxIter: 4 });
    expect(await g.backendName()).toBe('webgpu');
    expectFitsAgree(cpu, g, 6);
  });

  it('past the largest D of each use, the error names the limit', async () => {
    const backend = await WebGpuBackend.create({ device: gpu.device });
    await expect(backend.bindData(makeBlobs({ n: 10, d: 129, k: 1 }), { purpose: 'full' })).rejects.toThrow(
      /'full' mixture kernels take at most 128 features, the data has 129/,
    );
    await expect(
      backend.bindData(makeBlobs({ n: 10, d: 2049, k: 1 }), { purpose: 'spherical' }),
    ).rejects.toThrow(/'spherical' mixture kernels take at most 2048 features/);
    // Data bound for a diagonal family is refused by a full-covariance pass past that limit.
    const bound = await backend.bindData(makeBlobs({ n: 10, d: 129, k: 1 }), { purpose: 'diag' });
    await expect(bound.prepare(1, 'full')).rejects.toThrow(
      /'full' mixture kernels take at most 128 features/,
    );
    bound.dispose();
  });
});

describe('whole fits on the GPU agree with the reference', () => {
  it('blobs, D=5 K=4', async () => {
    const x = makeBlobs({ n: 20_000, d: 5, k: 4 });
    const { cpu, gpu: g } = await fitBoth(x, 4);
    expectFitsAgree(cpu, g, 6);
    expect(await g.backendName()).toBe('webgpu');
  });

  it('data offset by 1e4 (catastrophic cancellation without shifts)', async () => {
    const x = makeBlobs({ n: 20_000, d: 3, k: 3, offset: 1e4 });
    const { cpu, gpu: g } = await fitBoth(x, 3);
    // float32 data at 1e4 is quantised to 1e-3, so the scale of agreement is the data's own resolution.
    expectFitsAgree(cpu, g, 6);
    for (let c = 0; c < 3; c++) expect(g.covariances[c * 9]).toBeGreaterThan(0.1);
  });

  it('far-apart clusters whose densities underflow', async () => {
    const x = makeBlobs({ n: 3000, d: 16, k: 3, spread: 1e3 });
    const { cpu, gpu: g } = await fitBoth(x, 3);
    expect(Number.isFinite(g.lowerBound)).toBe(true);
    expectFitsAgree(cpu, g, 1e3);
    const proba = await g.predictProba(x);
    expect(allFinite(proba.data)).toBe(true);
    const labels = await g.predict(x);
    const cpuLabels = await cpu.predict(x);
    expect(Array.from(labels)).toEqual(Array.from(cpuLabels));
  });

  it('duplicated points: a singular covariance held up by regCovar', async () => {
    const rows = Array.from({ length: 400 }, (_, i) =>
      i < 200 ? [1, 2, 3] : [i % 7, (i % 5) * 0.5, -(i % 11)],
    );
    const { cpu, gpu: g } = await fitBoth(rows as unknown as Matrix, 2);
    expect(allFinite(g.covariances) && Number.isFinite(g.lowerBound)).toBe(true);
    expect(Math.abs(cpu.lowerBound - g.lowerBound)).toBeLessThan(1e-3 * Math.abs(cpu.lowerBound));
  });

  it('a component that loses all its points stays finite', async () => {
    const x = makeBlobs({ n: 2000, d: 2, k: 2 });
    const init = {
      weights: [0.4, 0.4, 0.2],
      means: [-1e5, -1e5, x.data[0], x.data[1], x.data[2], x.data[3]],
      covariances: [1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1],
    };
    const { cpu, gpu: g } = await fitBoth(x, 3, { init });
    expect(g.weights[0]).toBeLessThan(1e-6);
    expect(allFinite(g.weights) && allFinite(g.means.data) && allFinite(g.covariances)).toBe(true);
    expectFitsAgree(cpu, g, 6);
  });

  it('responsibilities larger than one storage binding are chunked', async () => {
    // The two-kernel path keeps a chunk's responsibilities for its sums kernel (the fused kernel
    // keeps none): past 256 components, 120k x 300 take 144 MB, over lavapipe's 128 MiB binding.
    const x = makeBlobs({ n: 120_000, d: 2, k: 30, spread: 20 });
    const { cpu, gpu: g } = await statsBoth(x, 300, randomFromDataCentres, 'spherical');
    expect(Math.abs(cpu.logLikelihoodSum - g.logLikelihoodSum) / Math.abs(cpu.logLikelihoodSum)).toBeLessThan(
      1e-5,
    );
    expect(maxAbsDiff(cpu.nk, g.nk)).toBeLessThan(1e-4 * 120_000);
  });

  it('is bit-for-bit reproducible for a seed', async () => {
    const x = makeBlobs({ n: 30_000, d: 4, k: 5 });
    const fit = async () => {
      const g = new GaussianMixture({ nComponents: 5, tol: 0, maxIter: 5, seed: 9, ...onGpu() });
      await g.fit(x);
      g.dispose();
      return g;
    };
    const [a, b] = [await fit(), await fit()];
    expect(a.lowerBound).toBe(b.lowerBound);
    expect(Array.from(a.covariances)).toEqual(Array.from(b.covariances));
  });

  it('scoreSamples and predictProba agree with the reference', async () => {
    const x = makeBlobs({ n: 5000, d: 3, k: 3 });
    const cpu = new GaussianMixture({ nComponents: 3, maxIter: 3, backend: 'cpu' });
    await cpu.fit(x);
    const gGpu = GaussianMixture.fromParameters(
      { weights: cpu.weights, means: cpu.means.data, covariances: cpu.covariances },
      onGpu(),
    );
    const [a, b] = [await cpu.scoreSamples(x), await gGpu.scoreSamples(x)];
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-4 * Math.max(1, maxAbs(a)));
    const [pa, pb] = [await cpu.predictProba(x), await gGpu.predictProba(x)];
    expect(maxAbsDiff(pa.data, pb.data)).toBeLessThan(1e-4);
    gGpu.dispose();
  });
});

describe('labels on the GPU', () => {
  /** Index of the largest of each row's K values (ties: the lowest), as the labels were taken on the host. */
  function argmaxRows(values: ArrayLike<number>, k: number): number[] {
    const out: number[] = [];
    for (let o = 0; o < values.length; o += k) {
      let best = 0;
      for (let c = 1; c < k; c++) if (values[o + c] > values[o + best]) best = c;
      out.push(best);
    }
    return out;
  }

  /**
   * K components with one shared covariance and equal weights, their means on a circle in the
   * first two features, and samples near the centre and on the bisectors: many rows whose best
   * two components differ by float32 rounding only (or tie exactly).
   */
  function nearTies(type: CovarianceType, k: number, d: number, n: number) {
    const rng = new Random(11);
    const means = new Float64Array(k * d);
    for (let c = 0; c < k; c++) {
      means[c * d] = 3 * Math.cos((2 * Math.PI * c) / k);
      means[c * d + 1] = 3 * Math.sin((2 * Math.PI * c) / k);
    }
    const full = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) full[i * d + j] = i === j ? 1.5 : 0.3;
    const covariances =
      type === 'full'
        ? Float64Array.from({ length: k * d * d }, (_, e) => full[e % (d * d)])
        : type === 'tied'
          ? full
          : type === 'diag'
            ? new Float64Array(k * d).fill(1.5)
            : new Float64Array(k).fill(1.5);
    const data = new Float32Array(n * d);
    for (let r = 0; r < n; r++) {
      // A third of the rows near the centre, a third on the bisector between two neighbours,
      // a third anywhere in the disk.
      const angle =
        r % 3 === 2 ? 2 * Math.PI * rng.uniform() : (2 * Math.PI * (Math.floor(rng.uniform() * k) + 0.5)) / k;
      const radius = r % 3 === 0 ? 1e-4 * rng.uniform() : 6 * rng.uniform();
      data[r * d] = radius * Math.cos(angle);
      data[r * d + 1] = radius * Math.sin(angle);
      for (let i = 2; i < d; i++) data[r * d + i] = r % 2 ? 0 : rng.normal();
    }
    const model = { weights: new Float64Array(k).fill(1 / k), means, covariances };
    return { model, x: { data, rows: n, cols: d } };
  }

  for (const [type, k, d, what] of [
    ['full', 6, 3, 'log-densities in workgroup memory, 64 lanes'],
    ['tied', 5, 4, 'log-densities in workgroup memory, 64 lanes'],
    ['diag', 200, 5, 'workgroup memory for 32 lanes'],
    ['spherical', 1100, 2, 'too many components for a tile: computed again'],
  ] as const) {
    it(`${type} K=${k}: predict is the argmax of predictProba, near ties included (${what})`, async () => {
      const { model, x } = nearTies(type, k, d, 6000);
      const g = GaussianMixture.fromParameters(model, { covarianceType: type, ...onGpu() });
      const cpu = GaussianMixture.fromParameters(model, { covarianceType: type, backend: 'cpu' });
      try {
        const labels = Array.from(await g.predict(x));
        expect(labels).toEqual(argmaxRows((await g.predictProba(x)).data, k));
        // Against the float64 reference wherever its best two components are not within rounding.
        const [ref, proba] = [await cpu.predict(x), await cpu.predictProba(x)];
        let decided = 0;
        for (let r = 0; r < x.rows; r++) {
          const row = Array.from(proba.data.subarray(r * k, r * k + k)).sort((a, b) => b - a);
          if (Math.log(row[0] / row[1]) < 1e-4) continue;
          decided++;
          expect(labels[r]).toBe(ref[r]);
        }
        expect(decided).toBeGreaterThan(x.rows / 30);
      } finally {
        g.dispose();
        cpu.dispose();
      }
    });
  }

  it('predict reads back 4 bytes a sample and makes no N x K buffer', async () => {
    const x = makeBlobs({ n: 50_000, d: 8, k: 16, seed: 6 });
    const cpu = new GaussianMixture({ nComponents: 16, maxIter: 2, tol: 0, backend: 'cpu' });
    await cpu.fit(x);
    const g = GaussianMixture.fromParameters(
      { weights: cpu.weights, means: cpu.means.data, covariances: cpu.covariances },
      onGpu(),
    );
    const read = vi.spyOn(GpuContext.prototype, 'readFloats');
    const made = vi.spyOn(GpuContext.prototype, 'createBuffer');
    try {
      const labels = await g.predict(x);
      const floats = read.mock.calls.reduce((a, [, length]) => a + length, 0);
      expect(floats).toBe(x.rows);
      const largest = Math.max(...made.mock.calls.map(([, size]) => size));
      expect(largest).toBeLessThan(x.rows * 16 * 4);
      expect(Array.from(labels)).toEqual(Array.from(await cpu.predict(x)));
    } finally {
      read.mockRestore();
      made.mockRestore();
      g.dispose();
      cpu.dispose();
    }
  });

  it('predictProba reads the responsibilities back in slices within the submission budget', async () => {
    const [n, d, k] = [100_000, 16, 32];
    const x = makeBlobs({ n, d, k: 8, seed: 7 });
    const cpu = new GaussianMixture({ nComponents: k, maxIter: 1, tol: 0, backend: 'cpu' });
    await cpu.fit(x);
    const model = { weights: cpu.weights, means: cpu.means.data, covariances: cpu.covariances };
    const g = GaussianMixture.fromParameters(model, onGpu());
    const out = { resp: true, loglik: false, labels: false };
    const sliceRows = rowsWithinBudget(estepRowCost(k, d, 'full', out), submissionWork(gpu.device));
    expect(sliceRows).toBeLessThan(n);
    const read = vi.spyOn(GpuContext.prototype, 'readFloats');
    const made = vi.spyOn(GpuContext.prototype, 'createBuffer');
    try {
      const proba = await g.predictProba(x);
      // One read-back per slice (the chunks' rows cut to the budget), each within it.
      const reads = read.mock.calls.map(([, length]) => length);
      expect(reads.length).toBeGreaterThanOrEqual(Math.ceil(n / sliceRows));
      expect(reads.reduce((a, b) => a + b, 0)).toBe(n * k);
      for (const length of reads) expect(length).toBeLessThanOrEqual(sliceRows * k);
      expect(Math.max(...made.mock.calls.map(([, size]) => size))).toBeLessThanOrEqual(sliceRows * k * 4);
      expect(maxAbsDiff(proba.data, (await cpu.predictProba(x)).data)).toBeLessThan(1e-4);
    } finally {
      read.mockRestore();
      made.mockRestore();
      g.dispose();
      cpu.dispose();
    }
  });

  it('a sample whose log-likelihood overflows float32 is an error, as with the log-likelihoods', async () => {
    // Variances of 1e-40: the Mahalanobis distances overflow float32 (not float64).
    const model = {
      weights: [0.5, 0.5],
      means: [0, 0, 1, 1],
      covariances: [1e-40, 0, 0, 1e-40, 1e-40, 0, 0, 1e-40],
    };
    const g = GaussianMixture.fromParameters(model, onGpu());
    const x = { data: Float32Array.of(0.5, 0.5, 0, 0), rows: 2, cols: 2 };
    try {
      await expect(g.predict(x)).rejects.toThrow(/per-sample log-likelihoods came back as NaN/);
      await expect(g.scoreSamples(x)).rejects.toThrow(
        /per-sample log-likelihoods came back as (NaN|-Infinity)/,
      );
    } finally {
      g.dispose();
    }
  });
});

describe('GPU resources', () => {
  it('a hundred fits do not grow the device allocations', async () => {
    const x = makeBlobs({ n: 2000, d: 3, k: 3 });
    const before = gpuAllocations(gpu.device);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    for (let i = 0; i < 100; i++) {
      const g = new GaussianMixture({ nComponents: 3, maxIter: 2, tol: 0, seed: i, ...onGpu() });
      await g.fit(x);
      await g.predict(x);
      g.dispose();
      expect(gpuAllocations(gpu.device)).toEqual(before);
    }
    // Models sharing a device share one context: no listener piles up on the device.
    await new Promise((resolve) => setTimeout(resolve, 10));
    process.off('warning', onWarning);
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('a model that owns its device releases it and Dawn on dispose', async () => {
    const backend = await WebGpuBackend.create({ exclusive: true });
    const bound = await backend.bindData(makeBlobs({ n: 100, d: 2, k: 2 }));
    expect(gpuAllocations(backend.context.device).buffers).toBeGreaterThan(0);
    bound.dispose();
    expect(gpuAllocations(backend.context.device).buffers).toBe(0);
    expect(backend.context.holdsInstance).toBe(true);
    backend.dispose();
    expect(backend.context.holdsInstance).toBe(false);
  });

  it("prints Dawn's two limit warnings once per process, not once per device", () => {
    // A child process: this one's Dawn instance was made (and warned) long ago. Three fits, each
    // on a new device (releaseSharedDevices destroys the last).
    const script = `
      const { GaussianMixture, makeBlobs, releaseSharedDevices } = await import(process.argv[1]);
      const x = makeBlobs({ n: 500, d: 2, k: 2, seed: 1 });
      for (let i = 0; i < 3; i++) {
        const g = new GaussianMixture({ nComponents: 2, maxIter: 2, backend: 'webgpu' });
        await g.fit(x);
        g.dispose();
        await releaseSharedDevices();
      }
      console.log('fitted 3 times');`;
    const index = fileURLToPath(new URL('../src/index.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, index], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.stdout.trim()).toBe('fitted 3 times');
    // Two lines from a driver reporting more dynamic buffers than Dawn allows (lavapipe), none
    // from one within it (SwiftShader): never a pair per device.
    const warnings = r.stderr.split('\n').filter((l) => /^Warning: maxDynamic/.test(l));
    expect([0, 2]).toContain(warnings.length);
  });

  it('a validation error rejects with the WebGPU message', async () => {
    const buffer = gpu.createBuffer('tiny', 4, 0x0004);
    await expect(
      gpu.guard('a deliberately invalid copy', () => {
        const encoder = gpu.device.createCommandEncoder();
        encoder.copyBufferToBuffer(buffer, 0, buffer, 0, 64);
        gpu.device.queue.submit([encoder.finish()]);
      }),
    ).rejects.toThrow(/WebGPU validation error in a deliberately invalid copy/);
    gpu.destroyBuffer(buffer);
  });

  it('a lost device rejects the fit instead of hanging', async () => {
    const own = await GpuContext.acquire({ exclusive: true });
    const x = makeBlobs({ n: 1000, d: 2, k: 2 });
    const g = new GaussianMixture({ nComponents: 2, backend: 'webgpu', device: own.device });
    await g.fit(x);
    own.device.destroy();
    await expect(g.fit(x)).rejects.toThrow(/lost|destroyed|invalid/i);
    g.dispose();
    own.release();
  });
});
