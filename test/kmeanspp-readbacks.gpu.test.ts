/**
 * k-means++ on the GPU reads back two things per chosen centre: the step's result (the kept
 * candidate's index, the candidates' potentials and the kept one's block sums, 8 (1 + T + B)
 * bytes for T candidates and B blocks of 256 rows) and the drawn blocks' distances (256 floats a
 * candidate), never O(N) per centre; and it chooses the rows the float64 CPU draw chooses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backends/cpu/cpu-backend.js';
import { WebGpuBackend } from '../src/backends/webgpu/webgpu-backend.js';
import type { GpuContext } from '../src/gpu/context.js';
import { kmeansPlusPlus } from '../src/models/init.js';
import { Random } from '../src/core/random.js';
import { makeBlobs } from './helpers/data.js';
import { requireGpu } from './helpers/gpu.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await requireGpu();
});
afterAll(() => gpu?.release());

describe('k-means++ read-backs', () => {
  it('K = 64 at N = 200,192: 2K - 1 read-backs of the formula bytes, the CPU reference centres', async () => {
    const n = 782 * 256;
    const d = 8;
    const k = 64;
    const x = makeBlobs({ n, d, k: 20, spread: 20, seed: 9 });
    const backend = await WebGpuBackend.create({ device: gpu.device });
    const bound = await backend.bindData(x);
    // Every mapAsync of the device's buffers during the seeding, and the bytes it maps.
    const probe = gpu.device.createBuffer({ size: 4, usage: 1 | 8 });
    const proto = Object.getPrototypeOf(probe) as GPUBuffer;
    probe.destroy();
    const original = proto.mapAsync;
    let maps = 0;
    let bytes = 0;
    proto.mapAsync = function (this: GPUBuffer, mode: number, offset?: number, size?: number) {
      maps++;
      bytes += size ?? this.size - (offset ?? 0);
      return original.call(this, mode, offset, size);
    };
    let g: Float64Array;
    try {
      g = await kmeansPlusPlus(bound, x, k, new Random(5));
    } finally {
      proto.mapAsync = original;
      bound.dispose();
    }
    const t = 2 + Math.floor(Math.log(k));
    const blocks = n / 256;
    // The first centre: one step of one candidate. Each later one: T draws from the kept
    // candidate's blocks (one read-back) and a step of T candidates (one read-back).
    expect(maps).toBe(1 + 2 * (k - 1));
    expect(bytes).toBe(8 * (2 + blocks) + (k - 1) * (t * 256 * 4 + 8 * (1 + t + blocks)));
    const cpu = await kmeansPlusPlus(await new CpuBackend().bindData(x), x, k, new Random(5));
    expect(Array.from(g)).toEqual(Array.from(cpu));
  }, 120_000);
});
