/**
 * k-means++ seeding with the distances on the GPU against the float64 reference. Both draw from
 * the same seeded stream; float32 distances change the sampling thresholds only by rounding,
 * so the chosen rows agree except when a draw lands within rounding of a boundary.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backends/cpu/cpu-backend.js';
import type { SeedingState } from '../src/backends/backend.js';
import { uploadSamples } from '../src/backends/webgpu/sample-chunks.js';
import {
  GpuSeedingState,
  KMeansPPSeeding,
  readDistanceBlocks,
  type ReadBlocks,
} from '../src/backends/webgpu/seeding.js';
import { WebGpuBackend } from '../src/backends/webgpu/webgpu-backend.js';
import { GpuContext } from '../src/gpu/context.js';
import { gpuAllocations } from '../src/index.js';
import { kmeansPlusPlus } from '../src/models/init.js';
import { Random } from '../src/core/random.js';
import { makeBlobs } from './helpers/data.js';
import { requireGpu } from './helpers/gpu.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await requireGpu();
});
afterAll(() => gpu?.release());

describe('k-means++ with GPU distances', () => {
  it('chooses the same centres as the reference and one per separated cluster', async () => {
    const x = makeBlobs({ n: 40_000, d: 6, k: 12, spread: 50, seed: 3 });
    const cpu = await kmeansPlusPlus(await new CpuBackend().bindData(x), x, 12, new Random(5));
    const backend = await WebGpuBackend.create({ device: gpu.device });
    const bound = await backend.bindData(x);
    const before = gpuAllocations(gpu.device).buffers;
    const g = await kmeansPlusPlus(bound, x, 12, new Random(5));
    // Seeding states are released as soon as they lose: only the seeding workspace remains.
    expect(gpuAllocations(gpu.device).buffers - before).toBeLessThanOrEqual(5);
    bound.dispose();
    expect(Array.from(g)).toEqual(Array.from(cpu));
    // Each chosen centre is a data row, and with clusters 50 apart every cluster gets one.
    const clusters = new Set<number>();
    for (let c = 0; c < 12; c++) {
      const centre = g.subarray(c * 6, c * 6 + 6);
      let row = -1;
      for (let n = 0; n < x.rows && row < 0; n++) {
        if (centre.every((v, i) => v === x.data[n * 6 + i])) row = n;
      }
      expect(row).toBeGreaterThanOrEqual(0);
      clusters.add(x.labels[row]);
    }
    expect(clusters.size).toBe(12);
  });

  it('is reproducible and handles duplicated samples (zero potential)', async () => {
    const rows = Array.from({ length: 500 }, (_, i) => (i < 498 ? [1, 2] : [3, 4]));
    const x = { data: Float32Array.from(rows.flat()), rows: 500, cols: 2 };
    const backend = await WebGpuBackend.create({ device: gpu.device });
    const bound = await backend.bindData(x);
    const a = await kmeansPlusPlus(bound, x, 3, new Random(1));
    const b = await kmeansPlusPlus(bound, x, 3, new Random(1));
    bound.dispose();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(a.every(Number.isFinite)).toBe(true);
  });
});

describe('k-means++ dispatches: 2-D grids and slices within the budget', () => {
  /** A device of this process whose context reports `overrides` as its limits (the real limits stay). */
  async function contextWithLimits(overrides: Partial<GPUSupportedLimits>): Promise<GpuContext> {
    const ctx = await GpuContext.acquire({ exclusive: true });
    const limits: Record<string, number> = {};
    for (const key in ctx.limits) limits[key] = ctx.limits[key as keyof GPUSupportedLimits] as number;
    Object.defineProperty(ctx, 'limits', { value: { ...limits, ...overrides } });
    return ctx;
  }

  it('more blocks than maxComputeWorkgroupsPerDimension fold into a 2-D grid, same centres', async () => {
    // 40,000 rows are 157 blocks of 256: past a limit of 16 workgroups along one dimension (the
    // 1-D dispatch threw there, as it did past 65,535 blocks on a real adapter).
    const x = makeBlobs({ n: 40_000, d: 6, k: 12, spread: 50, seed: 3 });
    const cpu = await kmeansPlusPlus(await new CpuBackend().bindData(x), x, 12, new Random(5));
    const ctx = await contextWithLimits({ maxComputeWorkgroupsPerDimension: 16 });
    try {
      const backend = await WebGpuBackend.create({ device: ctx.device });
      const bound = await backend.bindData(x);
      const g = await kmeansPlusPlus(bound, x, 12, new Random(5));
      bound.dispose();
      expect(Array.from(g)).toEqual(Array.from(cpu));
    } finally {
      ctx.release();
    }
  });

  it('a small budget cuts a pass into slices of whole blocks: the same sums, bit for bit', async () => {
    const x = makeBlobs({ n: 40_000, d: 6, k: 5, seed: 4 });
    const chunks = await uploadSamples(gpu, x);
    const read: ReadBlocks = (distances, ranges) => readDistanceBlocks(gpu, distances, ranges);
    const whole = await KMeansPPSeeding.create(gpu, chunks, x.rows, x.cols, null);
    // 6 multiply-adds a row: 768 rows (three blocks) a dispatch, 53 dispatches and submissions.
    const small = await KMeansPPSeeding.create(gpu, chunks, x.rows, x.cols, null, {
      madds: 5000,
      bytes: 2 ** 31,
    });
    try {
      expect(whole.dispatches).toBe(1);
      expect(small.dispatches).toBe(53);
      let a: SeedingState | null = null;
      let b: SeedingState | null = null;
      for (const row of [7, 20_000, 39_999]) {
        const candidate = Float64Array.from(x.data.subarray(row * 6, row * 6 + 6));
        const [na]: SeedingState[] = await whole.step([candidate], a as GpuSeedingState | null, read);
        const [nb]: SeedingState[] = await small.step([candidate], b as GpuSeedingState | null, read);
        a?.release();
        b?.release();
        [a, b] = [na, nb];
        expect(nb.potential).toBe(na.potential);
        for (const u of [0, 0.3, 0.999]) expect(await nb.sample(u)).toBe(await na.sample(u));
      }
      a?.release();
      b?.release();
    } finally {
      whole.dispose();
      small.dispose();
      gpu.destroyBuffers(chunks.map((c) => c.data));
    }
  });
});
