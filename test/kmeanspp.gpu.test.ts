/**
 * k-means++ seeding with the distances on the GPU against the float64 reference. Both draw from
 * the same seeded stream; float32 distances change the sampling thresholds only by rounding,
 * so the chosen rows agree except when a draw lands within rounding of a boundary.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backends/cpu/cpu-backend.js';
import { WebGpuBackend } from '../src/backends/webgpu/webgpu-backend.js';
import type { GpuContext } from '../src/gpu/context.js';
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
