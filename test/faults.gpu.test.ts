// Fault injection on the GPU path: float32 overflow, limits checked before the work, adapter
// names, and memory kept by a long-running process (in child processes with --expose-gc).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferUsage } from '../src/gpu/constants.js';
import type { GpuContext } from '../src/gpu/context.js';
import {
  GaussianMixture,
  KMeans,
  WebGpuEmError,
  gpuAllocations,
  makeBlobs,
  releaseSharedDevices,
} from '../src/index.js';
import type { Matrix } from '../src/data/matrix.js';
import { allFinite } from './helpers/data.js';
import { requireGpu } from './helpers/gpu.js';
import { checkGpuCapacity } from '../src/backends/webgpu/capacity.js';
import { setShaderLoader } from '../src/gpu/shader-source.js';
import { KERNEL_SOURCES } from '../src/gpu/kernels.generated.js';
import { kmeansAssignKernel } from '../src/backends/webgpu/kernels.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await requireGpu();
});
afterAll(() => gpu?.release());

const root = new URL('..', import.meta.url).pathname;

/** Blobs scaled so that the largest |x| is `magnitude`. */
function huge(magnitude: number): Matrix {
  const x = makeBlobs({ n: 20_000, d: 3, k: 3, seed: 1 });
  let max = 0;
  for (const v of x.data) max = Math.max(max, Math.abs(v));
  return { ...x, data: Float32Array.from(x.data, (v) => (v / max) * magnitude) };
}

function relativeDiff(a: ArrayLike<number>, b: ArrayLike<number>, scale: number): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / scale);
  return m;
}

describe('float32 overflow on the GPU', () => {
  // The CPU reference is float64: these magnitudes are ordinary for it. The GPU path scales the
  // data by a power of two on the host and folds the scale back, so it must agree.
  for (const magnitude of [1e18, 1e30, 1e37]) {
    it(`k-means at |x| up to ${magnitude}: the CPU's answer, finite`, async () => {
      const x = huge(magnitude);
      const fits = [];
      for (const backend of ['webgpu', 'cpu'] as const) {
        const km = new KMeans({ nClusters: 3, backend, seed: 0 });
        await km.fit(x);
        fits.push({ centres: km.clusterCenters.data, inertia: km.inertia, converged: km.converged });
        km.dispose();
      }
      const [gpuFit, cpuFit] = fits;
      expect(allFinite(gpuFit.centres)).toBe(true);
      expect(Number.isFinite(gpuFit.inertia)).toBe(true);
      expect(gpuFit.converged).toBe(cpuFit.converged);
      // Float32 sums of 20,000 samples: a few ulps of float32 relative to the data's scale.
      expect(relativeDiff(gpuFit.centres, cpuFit.centres, magnitude)).toBeLessThan(1e-5);
      expect(Math.abs(gpuFit.inertia - cpuFit.inertia) / cpuFit.inertia).toBeLessThan(1e-5);
    });

    it(`GMM at |x| up to ${magnitude}: the CPU's answer, finite`, async () => {
      const x = huge(magnitude);
      const fits = [];
      for (const backend of ['webgpu', 'cpu'] as const) {
        const g = new GaussianMixture({ nComponents: 3, backend, seed: 0 });
        await g.fit(x);
        fits.push({
          means: g.means.data,
          lowerBound: g.lowerBound,
          converged: g.converged,
          cov: g.covariances,
        });
        const ll = await g.scoreSamples(x);
        expect(allFinite(ll)).toBe(true);
        g.dispose();
      }
      const [gpuFit, cpuFit] = fits;
      expect(allFinite(gpuFit.means)).toBe(true);
      expect(allFinite(gpuFit.cov)).toBe(true);
      expect(gpuFit.converged).toBe(cpuFit.converged);
      expect(relativeDiff(gpuFit.means, cpuFit.means, magnitude)).toBeLessThan(1e-5);
      // The mean log-likelihood shifts by -D log(scale): compare relative to its size.
      expect(Math.abs(gpuFit.lowerBound - cpuFit.lowerBound) / Math.abs(cpuFit.lowerBound)).toBeLessThan(
        1e-5,
      );
    });
  }
});

describe('limits checked before the work', () => {
  const wide = makeBlobs({ n: 16_000, d: 64, k: 4, seed: 2 });

  it('K = 16,000 at D = 64 is refused at once, naming the limit', async () => {
    const started = performance.now();
    const g = new GaussianMixture({ nComponents: 16_000, backend: 'webgpu' });
    const error = await g.fit(wide).catch((e: unknown) => e);
    g.dispose();
    expect(error).toBeInstanceOf(WebGpuEmError);
    expect((error as Error).message).toMatch(
      /K = 16000 components of D = 64 features .* maxStorageBufferBindingSize/,
    );
    expect((error as Error).message).not.toMatch(/\n/);
    // Seeding 16,000 centres would take many minutes on this adapter.
    expect(performance.now() - started).toBeLessThan(60_000);
  });

  it("k-means beyond the adapter's limits is refused before seeding, naming the limit", () => {
    // The k-means kernels take K = 16,000 at D = 64 on any adapter; a small binding limit stands
    // in for a K that would need hundreds of thousands of samples to reach the real one.
    const { maxBufferSize, maxComputeWorkgroupStorageSize, maxComputeInvocationsPerWorkgroup } = gpu.limits;
    const limits = {
      maxStorageBufferBindingSize: 1 << 20,
      maxBufferSize,
      maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: gpu.limits.maxComputeWorkgroupsPerDimension,
    };
    expect(() => checkGpuCapacity(limits, 16_000, 64, 'kmeans')).toThrow(
      /K = 16000 components of D = 64 features \(k-means\) need \d+ bytes of centres .*maxStorageBufferBindingSize of 1048576/,
    );
    expect(() => checkGpuCapacity(gpu.limits, 16_000, 64, 'kmeans')).not.toThrow();
  });

  it('the feature limit names the k-means kernels and their own limit', async () => {
    const x = makeBlobs({ n: 50, d: 4001, k: 2, seed: 3 });
    const km = new KMeans({ nClusters: 2, backend: 'webgpu' });
    const error = await km.fit(x).catch((e: unknown) => e);
    km.dispose();
    expect((error as Error).message).toMatch(/k-means kernels take at most 4000 features, the data has 4001/);
  });

  it('an unknown adapter name lists the adapters there are', async () => {
    const g = new GaussianMixture({ nComponents: 2, backend: 'webgpu', adapter: 'no-such-adapter' });
    const error = await g.fit(makeBlobs({ n: 100, d: 2, k: 2 })).catch((e: unknown) => e);
    g.dispose();
    expect(error).toBeInstanceOf(WebGpuEmError);
    const message = (error as Error).message;
    expect(message).toMatch(
      /no WebGPU adapter matches 'no-such-adapter'; the adapters here are: '[^']+' \(\w+\)/,
    );
    expect(message).not.toMatch(/\n/);
  });
});

describe('a kernel that does not compile', () => {
  it('is a WebGpuEmError that names the kernel', async () => {
    // D = 11, K = 7: constants no other test compiles, so no cached pipeline hides the loader.
    // The assignment kernel this device runs (the subgroup one on a CPU emulation).
    const broken = kmeansAssignKernel(gpu.device).file;
    setShaderLoader((name) =>
      name === broken ? '<!doctype html><title>not WGSL</title>' : KERNEL_SOURCES[name],
    );
    const km = new KMeans({ nClusters: 7, backend: 'webgpu', seed: 1, device: gpu.device });
    try {
      const error = await km.fit(makeBlobs({ n: 500, d: 11, k: 7, seed: 3 })).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(WebGpuEmError);
      expect((error as WebGpuEmError).kind).toBe('gpu');
      expect((error as WebGpuEmError).message).toContain(`WGSL kernel ${broken}`);
    } finally {
      setShaderLoader(null);
      km.dispose();
    }
  });
});

describe('memory of a long-running process', () => {
  function probe(mode: string, count: number) {
    const r = spawnSync(
      process.execPath,
      ['--expose-gc', join(root, 'test/helpers/memory-child.mjs'), mode, String(count)],
      {
        timeout: 240_000,
        encoding: 'utf8',
      },
    );
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  }

  it('no result of predict, predictProba or scoreSamples stays reachable', () => {
    // 150 calls at 20,000 x 4: kept results would hold about 0.4 MB each (60 MB).
    const m = probe('calls', 150);
    const grown = m.after.heap + m.after.external - (m.before.heap + m.before.external);
    expect(grown).toBeLessThan(8);
  });

  it('models created and disposed one after another keep the process flat', () => {
    // A device per model left 2.5 to 5 MB of native memory each: 250 MB or more for 100.
    const m = probe('models', 100);
    expect(m.after.rss - m.before.rss).toBeLessThan(60);
  });
});

describe('buffers made together', () => {
  it('a creation that fails part-way frees what it made and says which buffer', async () => {
    const before = gpuAllocations(gpu.device);
    const tooLarge = gpu.limits.maxBufferSize + 4;
    const made: GPUBuffer[][] = [];
    await expect(
      gpu.createGuarded('a test workspace', (make, list) => {
        made.push(list);
        make('first', 64, BufferUsage.STORAGE);
        make('second', 64, BufferUsage.STORAGE);
        return make('too large', tooLarge, BufferUsage.STORAGE);
      }),
    ).rejects.toThrow(/buffer 'too large' needs \d+ bytes but the adapter allows/);
    expect(made[0]).toEqual([]);
    expect(gpuAllocations(gpu.device)).toEqual(before);
  });

  it('a creation that succeeds hands over its list, which frees them all', async () => {
    const before = gpuAllocations(gpu.device);
    const buffers = await gpu.createGuarded('a test workspace', (make, list) => {
      make('first', 64, BufferUsage.STORAGE);
      make('second', 128, BufferUsage.STORAGE);
      return list;
    });
    expect(buffers.map((b) => b.label)).toEqual(['first', 'second']);
    expect(gpuAllocations(gpu.device).buffers).toBe(before.buffers + 2);
    gpu.destroyBuffers(buffers);
    expect(buffers).toEqual([]);
    expect(gpuAllocations(gpu.device)).toEqual(before);
  });
});

describe('the shared device', () => {
  it('is shared by models, and releaseSharedDevices() frees it for a new one', async () => {
    const x = makeBlobs({ n: 300, d: 2, k: 2, seed: 4 });
    const fit = async () => {
      const km = new KMeans({ nClusters: 2, backend: 'webgpu' });
      await km.fit(x);
      const centres = km.clusterCenters.data;
      km.dispose();
      return centres;
    };
    const before = await fit();
    // The test file's own context is the process's shared device.
    const again = await requireGpu();
    expect(again).toBe(gpu);
    await releaseSharedDevices();
    const fresh = await requireGpu();
    expect(fresh).not.toBe(gpu);
    expect(Array.from(await fit())).toEqual(Array.from(before));
    gpu = fresh;
  });
});

describe('columns of very different magnitudes', () => {
  it('a small column keeps its variance next to a huge one, or the fit says why', async () => {
    // Column 0 near 1e12 (scaled on the host), column 1 near 1e-6: both variances must survive.
    const x = makeBlobs({ n: 400, d: 2, k: 2, seed: 6 });
    const data = Float32Array.from(x.data, (v, i) => (i % 2 === 0 ? v * 1e12 : v * 1e-6));
    const m = { ...x, data };
    const fits = [];
    for (const backend of ['webgpu', 'cpu'] as const) {
      const g = new GaussianMixture({
        nComponents: 2,
        backend,
        covarianceType: 'diag',
        regCovar: 0,
        seed: 1,
      });
      await g.fit(m);
      fits.push(g.covariances);
      g.dispose();
    }
    const [gpuCov, cpuCov] = fits;
    for (let i = 0; i < cpuCov.length; i++)
      expect(Math.abs(gpuCov[i] - cpuCov[i]) / cpuCov[i]).toBeLessThan(1e-3);
    // Beyond what float32 can hold together: a clear error, not a silent zero variance.
    const extreme = { ...x, data: Float32Array.from(x.data, (v, i) => (i % 2 === 0 ? v * 1e30 : v * 1e-20)) };
    const g = new GaussianMixture({ nComponents: 2, backend: 'webgpu' });
    await expect(g.fit(extreme)).rejects.toThrow(
      /differ in magnitude beyond what float32 on the GPU can hold/,
    );
    g.dispose();
  });
});
