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
import { BufferUsage, MapMode } from '../src/gpu/constants.js';
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

describe("a caller's GPUBuffer", () => {
  it('fits, predicts and scores as the same data from the host, and stays the caller’s', async () => {
    const x = makeBlobs({ n: 12_000, d: 4, k: 3, seed: 6 });
    const usage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
    const buffer = gpu.device.createBuffer({ size: x.data.byteLength, usage });
    gpu.device.queue.writeBuffer(buffer, 0, x.data as Float32Array<ArrayBuffer>);
    const rowsOnGpu = { buffer, rows: x.rows, cols: x.cols };
    try {
      const start = parametersFromCentres(x, await kmeansPlusPlusCpu(x, 3, new Random(5)), 1e-6, 'full');
      const options = { nComponents: 3, init: { parameters: start }, maxIter: 8, tol: 0, device: gpu.device };
      using host = new GaussianMixture({ ...options, backend: 'webgpu' });
      await host.fit(x);
      using onGpu = new GaussianMixture({ ...options, backend: 'webgpu' });
      await onGpu.fit(rowsOnGpu);
      // One binding either way, the same kernels: the same sums.
      expect(onGpu.lowerBound).toBe(host.lowerBound);
      expect(onGpu.means.data).toEqual(host.means.data);
      expect(await onGpu.predict(rowsOnGpu)).toEqual(await host.predict(x));
      expect(await onGpu.score(rowsOnGpu)).toBe(await host.score(x));
      // The default initialisation draws from a sample read back: all rows here, so k-means++ on them.
      using drawn = new GaussianMixture({ nComponents: 3, seed: 4, backend: 'webgpu', device: gpu.device });
      await drawn.fit(rowsOnGpu);
      using drawnHost = new GaussianMixture({
        nComponents: 3,
        seed: 4,
        backend: 'webgpu',
        device: gpu.device,
      });
      await drawnHost.fit(x);
      expect(Math.abs(drawn.lowerBound - drawnHost.lowerBound)).toBeLessThan(
        1e-5 * Math.abs(drawnHost.lowerBound),
      );
      using km = new KMeans({ nClusters: 3, seed: 1, backend: 'webgpu', device: gpu.device });
      await km.fit(rowsOnGpu);
      using kmHost = new KMeans({ nClusters: 3, seed: 1, backend: 'webgpu', device: gpu.device });
      await kmHost.fit(x);
      expect(maxAbsDiff(km.clusterCenters.data, kmHost.clusterCenters.data)).toBeLessThan(
        1e-4 * maxAbs(kmHost.clusterCenters.data),
      );
      expect(await km.predict(rowsOnGpu)).toEqual(await kmHost.predict(x));
      // Still the caller's: readable after every model's fit and dispose.
      const copy = gpu.device.createBuffer({
        size: 16,
        usage: BufferUsage.COPY_DST | BufferUsage.MAP_READ,
      });
      const encoder = gpu.device.createCommandEncoder();
      encoder.copyBufferToBuffer(buffer, 0, copy, 0, 16);
      gpu.device.queue.submit([encoder.finish()]);
      await copy.mapAsync(MapMode.READ);
      expect(new Float32Array(copy.getMappedRange().slice(0))).toEqual(x.data.slice(0, 4));
      copy.destroy();
    } finally {
      buffer.destroy();
    }
  });

  it('refuses a buffer smaller than its shape, one without STORAGE, and no device', async () => {
    const small = gpu.device.createBuffer({
      size: 64,
      usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC,
    });
    const noStorage = gpu.device.createBuffer({ size: 64, usage: BufferUsage.COPY_SRC });
    try {
      using gmm = new GaussianMixture({ nComponents: 1, backend: 'webgpu', device: gpu.device });
      await expect(gmm.fit({ buffer: small, rows: 100, cols: 4 })).rejects.toThrow(
        /holds 64 bytes but 100 rows x 4/,
      );
      await expect(gmm.fit({ buffer: noStorage, rows: 4, cols: 4 })).rejects.toThrow(
        /needs GPUBufferUsage.STORAGE/,
      );
      using noDevice = new GaussianMixture({ nComponents: 1, backend: 'webgpu' });
      await expect(noDevice.fit({ buffer: small, rows: 4, cols: 4 })).rejects.toThrow(
        /the buffer's device as the `device` option/,
      );
    } finally {
      small.destroy();
      noStorage.destroy();
    }
  });
});
