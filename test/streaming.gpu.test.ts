/**
 * Out-of-core EM on a real adapter: a pass over a row source, cut into chunks by a small
 * device-memory budget, against the float64 CPU reference over the whole data.
 *
 * Tolerances are those of sample-weights.gpu.test.ts: each chunk's sums are float32 sums in two
 * levels (1e-4 of their scale, the log-likelihood sum 1e-5 relative), read back into float64 and
 * merged in float64, so more chunks add no float32 rounding.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LazyBackend } from '../src/backends/select.js';
import { CpuBackend } from '../src/backends/cpu/cpu-backend.js';
import { Random } from '../src/core/random.js';
import { makeBlobs } from '../src/data/synthetic.js';
import { GpuContext } from '../src/gpu/context.js';
import { GaussianMixture, KMeans } from '../src/index.js';
import { shiftsFor, toComponentParameters } from '../src/models/gmm-parameters.js';
import { parametersFromCentres } from '../src/models/init.js';
import { openSource } from '../src/models/streamed-data.js';
import { chunked } from './helpers/chunks.js';
import { kmeansPlusPlusCpu, maxAbs, maxAbsDiff } from './helpers/data.js';
import { requireGpu } from './helpers/gpu.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await requireGpu();
});
afterAll(() => gpu?.release());

/** The smallest budget: chunks of a few hundred rows. */
const TINY = 1 << 16;

describe('a streamed pass on the GPU equals the float64 reference', () => {
  for (const type of ['full', 'diag'] as const) {
    it(`${type}: many chunks of a 64 KiB budget, data offset by 1e3`, async () => {
      const x = makeBlobs({ n: 9000, d: 4, k: 3, seed: 2, offset: 1e3 });
      const init = parametersFromCentres(x, await kmeansPlusPlusCpu(x, 3, new Random(1)), 1e-6, type);
      const params = toComponentParameters(init);
      const shifts = shiftsFor(init);
      const cpu = await (await new CpuBackend().bindData(x)).sufficientStatistics(params, shifts);
      const backend = new LazyBackend('webgpu', { device: gpu.device, maxGpuBytes: TINY });
      const { data } = await openSource(chunked(x, [2500, 17]), backend, { k: 3, purpose: type, seed: 1 });
      expect(data.chunkRows).toBeLessThan(1000);
      const g = await data.sufficientStatistics(params, shifts);
      backend.dispose();
      expect(g.weightSum).toBe(9000);
      expect(
        Math.abs(cpu.logLikelihoodSum - g.logLikelihoodSum) / Math.abs(cpu.logLikelihoodSum),
      ).toBeLessThan(1e-5);
      expect(maxAbsDiff(cpu.nk, g.nk)).toBeLessThan(1e-4 * 9000);
      expect(maxAbsDiff(cpu.firstMoment, g.firstMoment)).toBeLessThan(1e-4 * maxAbs(cpu.firstMoment) + 1e-3);
      expect(maxAbsDiff(cpu.secondMoment, g.secondMoment)).toBeLessThan(1e-4 * maxAbs(cpu.secondMoment));
    });
  }
});

describe('streamed fits on the GPU equal in-memory fits', () => {
  it('GaussianMixture: tiny chunks against one binding, from the same start', async () => {
    const x = makeBlobs({ n: 20_000, d: 4, k: 4, seed: 3 });
    const start = parametersFromCentres(x, await kmeansPlusPlusCpu(x, 4, new Random(2)), 1e-6, 'full');
    const options = { nComponents: 4, init: { parameters: start }, maxIter: 5, tol: 0, device: gpu.device };
    using mem = new GaussianMixture({ ...options, backend: 'webgpu' });
    await mem.fit(x);
    using streamed = new GaussianMixture({ ...options, backend: 'webgpu', maxGpuBytes: TINY });
    await streamed.fit(chunked(x, [20_000]));
    expect(streamed.nIter).toBe(5);
    expect(Math.abs(streamed.lowerBound - mem.lowerBound)).toBeLessThan(1e-5 * Math.abs(mem.lowerBound));
    expect(maxAbsDiff(streamed.means.data, mem.means.data)).toBeLessThan(1e-4 * maxAbs(mem.means.data));
    const labels = await streamed.predict(chunked(x, [777]));
    const reference = await mem.predict(x);
    // Rows on a boundary may go either way under parameters that differ by float32 rounding.
    expect(labels.filter((l, i) => l === reference[i]).length / x.rows).toBeGreaterThan(0.999);
    expect(await streamed.score(chunked(x, [5000]))).toBeCloseTo(await mem.score(x), 4);
  });

  it('KMeans: tiny chunks against one binding', async () => {
    const x = makeBlobs({ n: 20_000, d: 3, k: 5, seed: 4, spread: 20 });
    const init = { means: Array.from({ length: 5 }, (_, c) => Array.from(x.data.slice(c * 3, c * 3 + 3))) };
    using mem = new KMeans({ nClusters: 5, init, backend: 'webgpu', device: gpu.device });
    await mem.fit(x);
    using streamed = new KMeans({
      nClusters: 5,
      init,
      backend: 'webgpu',
      device: gpu.device,
      maxGpuBytes: TINY,
    });
    await streamed.fit(chunked(x, [6000, 1]));
    expect(maxAbsDiff(streamed.clusterCenters.data, mem.clusterCenters.data)).toBeLessThan(
      1e-4 * maxAbs(mem.clusterCenters.data),
    );
    expect(Math.abs(streamed.inertia - mem.inertia)).toBeLessThan(1e-5 * mem.inertia);
  });
});
