// The GPU's capacity on the real adapter: each family's largest K fits and runs, one more is
// refused before any upload (with `auto`, sent to the CPU), and sums past one reduction
// dispatch's 64 x 65,535 values come out right. Tiny N keeps the largest sizes quick.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BoundData, ComponentParameters } from '../src/backends/backend.js';
import { CpuBackend } from '../src/backends/cpu/cpu-backend.js';
import { LazyBackend } from '../src/backends/select.js';
import { maxGpuComponents } from '../src/backends/webgpu/capacity.js';
import { REDUCE_WORKGROUP } from '../src/backends/webgpu/layout.js';
import { packedIndex, packedSize } from '../src/core/linalg.js';
import type { CovarianceType } from '../src/core/names.js';
import type { Matrix } from '../src/data/matrix.js';
import type { GpuContext } from '../src/gpu/context.js';
import { WebGpuEmError } from '../src/index.js';
import { requireGpu } from './helpers/gpu.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await requireGpu();
});
afterAll(() => gpu?.release());

/** `rows` x D samples, each near one of the first components' means (row r near mean r). */
function rowsNearMeans(rows: number, d: number): Matrix {
  const data = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < d; i++) data[r * d + i] = meanValue(r, i) + 0.25 * Math.sin(r + 3 * i);
  return { data, rows, cols: d };
}

const meanValue = (c: number, i: number) => ((c * 7 + i * 3) % 11) / 4;

/** K components with unit precisions and distinct means: the rows' responsibilities differ. */
function parameters(type: CovarianceType, k: number, d: number): ComponentParameters {
  const diagonal = type === 'diag' || type === 'spherical';
  const per = diagonal ? d : packedSize(d);
  const precisionCholesky = new Float64Array(k * per);
  for (let c = 0; c < k; c++)
    for (let i = 0; i < d; i++) precisionCholesky[c * per + (diagonal ? i : packedIndex(i, i))] = 1;
  const means = new Float64Array(k * d);
  for (let c = 0; c < k; c++) for (let i = 0; i < d; i++) means[c * d + i] = meanValue(c, i);
  return {
    covarianceType: type,
    nComponents: k,
    nFeatures: d,
    logWeights: new Float64Array(k).fill(-Math.log(k)),
    means,
    precisionCholesky,
    logDetPrecisionCholesky: new Float64Array(k),
  };
}

/** Largest |a - b| over the largest |b|. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

/** One statistics pass on the GPU (through the capacity check at bind) against the float64 CPU backend. */
async function expectStatisticsMatchCpu(type: CovarianceType, k: number, d: number, rows: number) {
  const x = rowsNearMeans(rows, d);
  const p = parameters(type, k, d);
  const shifts = Float64Array.from(p.means, Math.fround);
  const lazy = new LazyBackend('webgpu', {});
  let bound: BoundData | null = null;
  try {
    bound = await lazy.bind(x, { purpose: type, components: k });
    const gpuStats = await bound.sufficientStatistics(p, shifts);
    const cpu = await new CpuBackend().bindData(x);
    const cpuStats = await cpu.sufficientStatistics(p, shifts);
    expect(gpuStats.secondMoment.length).toBe(cpuStats.secondMoment.length);
    // float32 log-densities of D = 2048 terms (thousands) round the responsibilities by ~1e-5.
    const tolerance = d > 256 ? 1e-4 : 1e-5;
    expect(relativeError(gpuStats.nk, cpuStats.nk)).toBeLessThan(tolerance);
    expect(relativeError(gpuStats.firstMoment, cpuStats.firstMoment)).toBeLessThan(tolerance);
    expect(relativeError(gpuStats.secondMoment, cpuStats.secondMoment)).toBeLessThan(tolerance);
    // The totals sit past every component's sums: the last values the reduction writes.
    expect(Math.abs(gpuStats.logLikelihoodSum - cpuStats.logLikelihoodSum)).toBeLessThan(
      1e-4 * Math.abs(cpuStats.logLikelihoodSum),
    );
  } finally {
    bound?.dispose();
    lazy.dispose();
  }
}

/** One Lloyd pass's sums on the GPU (through the capacity check at bind) against the float64 CPU backend. */
async function expectKMeansStatisticsMatchCpu(k: number, d: number, rows: number) {
  const x = rowsNearMeans(rows, d);
  const centres = parameters('diag', k, d).means;
  const lazy = new LazyBackend('webgpu', {});
  let bound: BoundData | null = null;
  try {
    bound = await lazy.bind(x, { purpose: 'kmeans', components: k });
    const gpuStats = await bound.kmeansStatistics(centres, k);
    const cpuStats = await (await new CpuBackend().bindData(x)).kmeansStatistics(centres, k);
    expect(Array.from(gpuStats.counts)).toEqual(Array.from(cpuStats.counts));
    expect(relativeError(gpuStats.firstMoment, cpuStats.firstMoment)).toBeLessThan(1e-5);
    expect(Math.abs(gpuStats.inertia - cpuStats.inertia)).toBeLessThan(1e-5 * cpuStats.inertia);
  } finally {
    bound?.dispose();
    lazy.dispose();
  }
}

describe('sums past one reduction dispatch', () => {
  it('full, D = 64, K = 1960: 4.2 million sums, more than 64 x 65,535, match the CPU', async () => {
    const stride = 1960 * ((65 * 66) / 2) + 2;
    expect(Math.ceil(stride / REDUCE_WORKGROUP)).toBeGreaterThan(gpu.limits.maxComputeWorkgroupsPerDimension);
    await expectStatisticsMatchCpu('full', 1960, 64, 3);
  }, 300_000);

  it('k-means, D = 64, K = 64,528: K(D + 1) + 2 sums past one dispatch match the CPU', async () => {
    const [k, d] = [64_528, 64];
    expect(Math.ceil((k * (d + 1) + 2) / REDUCE_WORKGROUP)).toBeGreaterThan(
      gpu.limits.maxComputeWorkgroupsPerDimension,
    );
    await expectKMeansStatisticsMatchCpu(k, d, 5);
  }, 300_000);
});

describe('passes cut into bounded submissions', () => {
  it('full, D = 64, K = 800 on 1,500 rows: chunks cut by work, no more than the partial sums allow, match the CPU', async () => {
    // 3.4 million multiply-adds a row: the submission budget alone would cut 1,500 rows into 24
    // chunks of 64, past the 19 blocks of 6.9 MB partial sums that a 128 MiB binding holds.
    await expectStatisticsMatchCpu('full', 800, 64, 1500);
  }, 300_000);

  it('k-means, D = 64, K = 8,192 on 3,000 rows: cut into several submissions, match the CPU', async () => {
    const [k, d] = [8192, 64];
    await expectKMeansStatisticsMatchCpu(k, d, 3000);
  }, 300_000);
});

describe("each family's largest K on this adapter", () => {
  const cases: Array<[CovarianceType, number]> = [
    ['full', 64],
    ['diag', 2048],
  ];
  for (const [type, d] of cases) {
    it(`${type}, D = ${d}: the largest K runs and matches the CPU; one more is refused before the upload`, async () => {
      const most = maxGpuComponents(gpu.limits, d, type);
      expect(most).toBeGreaterThan(1000);
      await expectStatisticsMatchCpu(type, most, d, 2);

      const lazy = new LazyBackend('webgpu', {});
      const x = rowsNearMeans(2, d);
      const error = await lazy.bind(x, { purpose: type, components: most + 1 }).catch((e: unknown) => e);
      lazy.dispose();
      expect(error).toBeInstanceOf(WebGpuEmError);
      expect((error as WebGpuEmError).kind).toBe('gpu');
      expect((error as Error).message).toMatch(
        new RegExp(
          `K = ${most + 1} components of D = ${d} features \\('${type}' covariances\\) need \\d+ bytes of .* ` +
            `over the adapter's maxStorageBufferBindingSize of \\d+ \\(at most K = ${most} components fit at this D\\); ` +
            `use fewer components or features, or backend: 'cpu'`,
        ),
      );
      expect((error as Error).message).not.toMatch(/\n/);
    }, 300_000);
  }

  it('k-means, D = 64: the largest K runs and matches the CPU; one more is refused before the upload', async () => {
    const d = 64;
    const most = maxGpuComponents(gpu.limits, d, 'kmeans');
    expect(most).toBeGreaterThan(100_000);
    await expectKMeansStatisticsMatchCpu(most, d, 3);
    const lazy = new LazyBackend('webgpu', {});
    const error = await lazy
      .bind(rowsNearMeans(3, d), { purpose: 'kmeans', components: most + 1 })
      .catch((e: unknown) => e);
    lazy.dispose();
    expect(error).toBeInstanceOf(WebGpuEmError);
    expect((error as Error).message).toMatch(
      new RegExp(`K = ${most + 1} .*\\(at most K = ${most} .* fit at this D\\)`),
    );
  }, 300_000);

  it("auto takes the CPU for a K past the GPU's limit, said once on stderr", async () => {
    const d = 64;
    const k = maxGpuComponents(gpu.limits, d, 'full') + 1;
    // Above the size that auto sends to the CPU anyway.
    const x = rowsNearMeans(200, d);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const lazy = new LazyBackend('auto', {});
    try {
      const bound = await lazy.bind(x, { purpose: 'full', components: k });
      bound.dispose();
      expect((await lazy.current()).name).toBe('cpu');
      expect(warn).toHaveBeenCalledWith(
        expect.stringMatching(/component parameters .* using the float64 CPU backend for this data/),
      );
      // K within the limit stays on the GPU.
      const within = await lazy.bind(x, { purpose: 'full', components: k - 1 });
      within.dispose();
      expect((await lazy.current()).name).toBe('webgpu');
    } finally {
      warn.mockRestore();
      lazy.dispose();
    }
  });
});
