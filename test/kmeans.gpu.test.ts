/**
 * k-means on the GPU against the float64 reference. Assignments are exact comparisons of float32
 * squared distances, so labels agree except for samples within rounding of a tie (none in these
 * well-separated data); per-cluster sums carry the same ~1e-5 relative error bound as the
 * mixture statistics (see gpu-vs-cpu.gpu.test.ts).
 */
import { AUTO_CPU_MAX_VALUES } from '../src/backends/select.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backends/cpu/cpu-backend.js';
import { WebGpuBackend } from '../src/backends/webgpu/webgpu-backend.js';
import type { GpuContext } from '../src/gpu/context.js';
import { GaussianMixture, KMeans, gpuAllocations, selectGaussianMixture } from '../src/index.js';
import { kmeansPlusPlus } from '../src/models/init.js';
import { Random } from '../src/core/random.js';
import { makeBlobs, maxAbs, maxAbsDiff } from './helpers/data.js';
import { requireGpu } from './helpers/gpu.js';
import { kmeansAssignKernel } from '../src/backends/webgpu/kernels.js';
import { loadDawn } from '../src/gpu/dawn.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await requireGpu();
});
afterAll(() => gpu?.release());

/**
 * Isotropic blobs (the correlated generator costs N x D^2, too slow at D = 2048): centres
 * `spread` apart per coordinate around `offset`, noise of scale `noise`.
 */
function wideBlobs(n: number, d: number, k: number, spread: number, offset: number, noise = 1) {
  const rng = new Random(11);
  const centres = Float64Array.from({ length: k * d }, () => offset + rng.normal() * spread);
  const data = new Float32Array(n * d);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < d; i++) data[r * d + i] = centres[(r % k) * d + i] + noise * rng.normal();
  }
  return { data, rows: n, cols: d };
}

/**
 * Cases for the assignment kernel, run for each of its variants (kmeansAssignKernel): the
 * subgroup one on a device with `subgroups`, the plain one on a device without.
 */
function assignmentCases(device: () => GPUDevice) {
  it('one Lloyd pass: counts, sums and inertia equal the reference', async () => {
    const x = makeBlobs({ n: 50_000, d: 5, k: 7, spread: 10, offset: 100 });
    const centres = Float64Array.from(x.data.slice(0, 35), Math.fround);
    const cpu = await (await new CpuBackend().bindData(x)).kmeansStatistics(centres, 7);
    const bound = await (await WebGpuBackend.create({ device: device() })).bindData(x);
    const g = await bound.kmeansStatistics(centres, 7);
    expect(Array.from(g.counts)).toEqual(Array.from(cpu.counts));
    expect(maxAbsDiff(g.firstMoment, cpu.firstMoment)).toBeLessThan(1e-4 * maxAbs(cpu.firstMoment));
    expect(Math.abs(g.inertia - cpu.inertia) / cpu.inertia).toBeLessThan(1e-5);
    const a = await bound.assign(centres, 7, { allDistances: true });
    const b = await (await new CpuBackend().bindData(x)).assign(centres, 7, { allDistances: true });
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(maxAbsDiff(a.distances!, b.distances!)).toBeLessThan(1e-4 * maxAbs(b.distances!));
    bound.dispose();
  });

  it('a centre far from the others does not blur the near ones (rows decided in the direct form)', async () => {
    // The shift and scale of the expanded form follow the centres; one at 1e6 leaves the near
    // centres' differences below float32's resolution there, so every row is re-decided.
    const x = makeBlobs({ n: 9000, d: 5, k: 4, seed: 6, offset: 1e3 });
    for (const far of [1e4, 1e6]) {
      const centres = Float64Array.from(x.data.slice(0, 20), Math.fround);
      centres.fill(far, 15, 20);
      const cpu = await (await new CpuBackend().bindData(x)).kmeansStatistics(centres, 4);
      const bound = await (await WebGpuBackend.create({ device: device() })).bindData(x);
      const g = await bound.kmeansStatistics(centres, 4);
      const a = await bound.assign(centres, 4, { allDistances: false });
      bound.dispose();
      const b = await (await new CpuBackend().bindData(x)).assign(centres, 4, { allDistances: false });
      expect(Array.from(g.counts)).toEqual(Array.from(cpu.counts));
      expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
      expect(Math.abs(g.inertia - cpu.inertia) / cpu.inertia).toBeLessThan(1e-5);
    }
  });

  it('wide data (D = 2048, far from the origin): a Lloyd pass and k-means++ equal the reference', async () => {
    // The distance product ranks on data shifted and scaled inside the kernel: at an offset of
    // 1e4 (float32 spacing 1e-3) an unshifted x.c would cancel away the unit-scale differences.
    const d = 2048;
    const x = wideBlobs(1500, d, 6, 1, 1e4);
    const cpuBound = await new CpuBackend().bindData(x);
    const bound = await (await WebGpuBackend.create({ device: device() })).bindData(x, { purpose: 'kmeans' });
    const seedsCpu = await kmeansPlusPlus(cpuBound, x, 6, new Random(2));
    const seeds = await kmeansPlusPlus(bound, x, 6, new Random(2));
    expect(Array.from(seeds)).toEqual(Array.from(seedsCpu));
    // Centres between samples (means of row pairs), so no distance is a tie at zero.
    const centres = new Float64Array(6 * d);
    for (let c = 0; c < 6; c++) {
      for (let i = 0; i < d; i++)
        centres[c * d + i] = Math.fround((x.data[c * d + i] + x.data[(c + 6) * d + i]) / 2);
    }
    const cpu = await cpuBound.kmeansStatistics(centres, 6);
    const g = await bound.kmeansStatistics(centres, 6);
    expect(Array.from(g.counts)).toEqual(Array.from(cpu.counts));
    expect(maxAbsDiff(g.firstMoment, cpu.firstMoment)).toBeLessThan(1e-4 * maxAbs(cpu.firstMoment));
    expect(Math.abs(g.inertia - cpu.inertia) / cpu.inertia).toBeLessThan(1e-5);
    expect(g.changed).toBe(x.rows);
    const a = await bound.assign(centres, 6, { allDistances: true });
    const b = await cpuBound.assign(centres, 6, { allDistances: true });
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(maxAbsDiff(a.minDistances, b.minDistances)).toBeLessThan(1e-4 * maxAbs(b.minDistances));
    expect(maxAbsDiff(a.distances!, b.distances!)).toBeLessThan(1e-4 * maxAbs(b.distances!));
    // The same centres again: no label changes.
    expect((await bound.kmeansStatistics(centres, 6)).changed).toBe(0);
    bound.dispose();
  });

  it('large magnitudes (1e15) keep exact labels and a finite inertia', async () => {
    // Squared distances near 1e31: no product may overflow float32 on the way.
    const x = wideBlobs(4000, 24, 5, 1e15, 0, 1e14);
    const centres = Float64Array.from(x.data.slice(0, 5 * 24));
    const cpu = await (await new CpuBackend().bindData(x)).kmeansStatistics(centres, 5);
    const bound = await (await WebGpuBackend.create({ device: device() })).bindData(x, { purpose: 'kmeans' });
    const g = await bound.kmeansStatistics(centres, 5);
    bound.dispose();
    expect(Array.from(g.counts)).toEqual(Array.from(cpu.counts));
    expect(Math.abs(g.inertia - cpu.inertia) / cpu.inertia).toBeLessThan(1e-5);
  });

  it('stops when no label changes, even with tol 0, as the reference does', async () => {
    const x = makeBlobs({ n: 20_000, d: 8, k: 6, spread: 8, seed: 4 });
    const fit = async (backend: 'cpu' | 'webgpu') => {
      const km = new KMeans({
        nClusters: 6,
        tol: 0,
        maxIter: 300,
        seed: 1,
        backend,
        device: backend === 'webgpu' ? device() : undefined,
      });
      await km.fit(x);
      km.dispose();
      return km;
    };
    const [c, g] = [await fit('cpu'), await fit('webgpu')];
    expect(g.converged).toBe(true);
    expect(g.nIter).toBeLessThan(300);
    expect(g.nIter).toBe(c.nIter);
    expect(c.converged).toBe(true);
    expect(Math.abs(g.inertia - c.inertia) / c.inertia).toBeLessThan(1e-5);
  });
}

describe('k-means on the GPU, the assignment of the shared device', () => {
  it('takes the subgroup kernel on a CPU emulation with subgroups of 8 lanes or more', () => {
    const d = gpu.device;
    const info = d.adapterInfo;
    const cpu = info?.isFallbackAdapter === true && (info.subgroupMinSize ?? 0) >= 8;
    const file = d.features.has('subgroups') && cpu ? 'kmeans_assign_subgroups.wgsl' : 'kmeans_assign.wgsl';
    expect(kmeansAssignKernel(d).file).toBe(file);
  });
  assignmentCases(() => gpu.device);
});

describe('k-means on the GPU, the plain assignment kernel (a device without subgroups)', () => {
  let plain: GPUDevice;
  // Dawn's instance must outlive its device, or the device's callbacks never come.
  let instance: GPU;
  beforeAll(async () => {
    instance = (await loadDawn()).create([]);
    const adapter = await instance.requestAdapter();
    if (!adapter) throw new Error('GPU tests need a WebGPU adapter and none was found');
    const requiredLimits = {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
    };
    plain = await adapter.requestDevice({ requiredLimits, label: 'no subgroups' });
  });
  afterAll(() => plain?.destroy());

  it('takes the plain kernel', () => {
    expect(plain.features.has('subgroups')).toBe(false);
    expect(kmeansAssignKernel(plain).file).toBe('kmeans_assign.wgsl');
  });
  assignmentCases(() => plain);
});

describe('k-means on the GPU', () => {
  it('more clusters than one workgroup holds are summed in cluster ranges', async () => {
    // 100 clusters x 65 sums exceed 16 KiB of workgroup memory: the sums split over 2 ranges.
    const x = makeBlobs({ n: 6000, d: 64, k: 100, spread: 5 });
    const centres = Float64Array.from(x.data.slice(0, 6400), Math.fround);
    const cpu = await (await new CpuBackend().bindData(x)).kmeansStatistics(centres, 100);
    const bound = await (await WebGpuBackend.create({ device: gpu.device })).bindData(x);
    const g = await bound.kmeansStatistics(centres, 100);
    bound.dispose();
    expect(Array.from(g.counts)).toEqual(Array.from(cpu.counts));
    expect(maxAbsDiff(g.firstMoment, cpu.firstMoment)).toBeLessThan(1e-4 * maxAbs(cpu.firstMoment));
    expect(Math.abs(g.inertia - cpu.inertia) / cpu.inertia).toBeLessThan(1e-5);
  });

  it('whole fits agree with the reference, empty clusters included', async () => {
    const x = makeBlobs({ n: 20_000, d: 4, k: 5, spread: 8 });
    const start = [1e4, 1e4, 1e4, 1e4, ...Array.from(x.data.slice(0, 16))];
    const fit = async (backend: 'cpu' | 'webgpu') => {
      const km = new KMeans({
        nClusters: 5,
        init: { means: start },
        backend,
        device: backend === 'webgpu' ? gpu.device : undefined,
      });
      await km.fit(x);
      km.dispose();
      return km;
    };
    const [c, g] = [await fit('cpu'), await fit('webgpu')];
    expect(g.history[0].relocated).toBe(1);
    expect(g.nIter).toBe(c.nIter);
    expect(maxAbsDiff(g.clusterCenters.data, c.clusterCenters.data)).toBeLessThan(1e-3);
    expect(Math.abs(g.inertia - c.inertia) / c.inertia).toBeLessThan(1e-5);
    for (let i = 1; i < g.history.length; i++) {
      expect(g.history[i].inertia).toBeLessThanOrEqual(g.history[i - 1].inertia * (1 + 1e-6));
    }
  });

  it('GMM init "kmeans" runs k-means on the same device', async () => {
    const x = makeBlobs({ n: 5000, d: 3, k: 3 });
    const g = new GaussianMixture({ nComponents: 3, init: 'kmeans', backend: 'webgpu', device: gpu.device });
    await g.fit(x);
    const c = new GaussianMixture({ nComponents: 3, init: 'kmeans', backend: 'cpu' });
    await c.fit(x);
    expect(Math.abs(g.lowerBound - c.lowerBound)).toBeLessThan(1e-4 * Math.abs(c.lowerBound));
    g.dispose();
  });

  it('model selection shares one device and frees it', async () => {
    const x = makeBlobs({ n: 3000, d: 2, k: 3, spread: 10 });
    const before = gpuAllocations(gpu.device);
    const { best, scores, model } = await selectGaussianMixture(x, {
      nComponents: [1, 2, 3, 4, 5],
      covarianceTypes: ['full', 'spherical'],
      backend: 'webgpu',
      device: gpu.device,
    });
    expect(scores).toHaveLength(10);
    expect(best.nComponents).toBe(3);
    expect(gpuAllocations(gpu.device)).toEqual(before);
    expect(model.weights).toHaveLength(3);
    // The returned winner carries its fit record.
    expect(model.nIter).toBe(scores.find((s) => s === best)!.nIter);
    expect(model.lowerBound).toBe(best.lowerBound);
  });

  it('restarts after the data were re-chunked for many clusters still seed every row', async () => {
    // 300k rows x 128 clusters of scratch exceed lavapipe's 128 MiB binding: Lloyd re-chunks the
    // samples, and the second k-means++ must follow the new chunks.
    const x = makeBlobs({ n: 300_000, d: 2, k: 128, spread: 30 });
    const km = new KMeans({ nClusters: 128, nInit: 2, maxIter: 2, backend: 'webgpu', device: gpu.device });
    await km.fit(x);
    expect(km.clusterCenters.data.every(Number.isFinite)).toBe(true);
    expect(Number.isFinite(km.inertia)).toBe(true);
    km.dispose();
  });

  it('with backend auto, small data is fitted on the CPU and larger data on the GPU', async () => {
    const small = makeBlobs({ n: Math.floor(AUTO_CPU_MAX_VALUES / 4), d: 4, k: 3, seed: 2 });
    const large = makeBlobs({ n: Math.floor(AUTO_CPU_MAX_VALUES / 4) + 1, d: 4, k: 3, seed: 2 });
    for (const [x, expected] of [
      [small, 'cpu'],
      [large, 'webgpu'],
    ] as const) {
      const g = new GaussianMixture({ nComponents: 3, backend: 'auto', maxIter: 3 });
      const km = new KMeans({ nClusters: 3, backend: 'auto', maxIter: 3 });
      try {
        await g.fit(x);
        await km.fit(x);
        expect(await g.backendName()).toBe(expected);
        expect(await km.backendName()).toBe(expected);
      } finally {
        g.dispose();
        km.dispose();
      }
    }
  });

  it('with backend auto, data wider than the GPU kernels falls back to the CPU', async () => {
    const x = makeBlobs({ n: 300, d: 130, k: 2 });
    const g = new GaussianMixture({ nComponents: 2, backend: 'auto', device: gpu.device, maxIter: 3 });
    await g.fit(x);
    expect(await g.backendName()).toBe('cpu');
    const strict = new GaussianMixture({ nComponents: 2, backend: 'webgpu', device: gpu.device });
    await expect(strict.fit(x)).rejects.toThrow(/at most 128 features/);
  });
});
