// Capacity rules without a GPU: each use's limit on K from what its kernels allocate and
// dispatch, at the limit and one past it, and the host's per-family limit on covariance sums.
import { describe, expect, it } from 'vitest';
import {
  checkGpuCapacity,
  gpuRequirements,
  maxGpuComponents,
  unmetRequirement,
  type CapacityLimits,
} from '../src/backends/webgpu/capacity.js';
import { family } from '../src/core/families.js';
import { Random } from '../src/core/random.js';
import { parametersFromCentres } from '../src/models/init.js';
import { labelSums, randomResponsibilitySums } from '../src/models/init-sums.js';
import { checkMixtureSamples } from '../src/models/mixture-start.js';
import { makeBlobs, WebGpuEmError } from '../src/index.js';

/** WebGPU's default limits (what any adapter gives at least). */
const DEFAULT_LIMITS: CapacityLimits = {
  maxStorageBufferBindingSize: 134_217_728,
  maxBufferSize: 268_435_456,
  maxComputeWorkgroupStorageSize: 16_384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupsPerDimension: 65_535,
};

const thrown = (f: () => void): Error => {
  try {
    f();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
};

describe('GPU capacity per family', () => {
  it("full and tied at D = 64: K <= 15,189, the components' parameters in one 128 MiB binding", () => {
    for (const use of ['full', 'tied'] as const) {
      // Per component: mean, packed precision factor, log constant, shift = 2D + D(D+1)/2 + 1 floats.
      const perComponent = (2 * 64 + (64 * 65) / 2 + 1) * 4;
      const most = Math.floor(DEFAULT_LIMITS.maxStorageBufferBindingSize / perComponent);
      expect(most).toBe(15_189);
      expect(maxGpuComponents(DEFAULT_LIMITS, 64, use)).toBe(most);
      expect(() => checkGpuCapacity(DEFAULT_LIMITS, most, 64, use)).not.toThrow();
      const error = thrown(() => checkGpuCapacity(DEFAULT_LIMITS, most + 1, 64, use));
      expect(error).toBeInstanceOf(WebGpuEmError);
      expect(error.message).toBe(
        `K = 15190 components of D = 64 features ('${use}' covariances) need ${(most + 1) * perComponent} bytes of ` +
          "component parameters in one binding, over the adapter's maxStorageBufferBindingSize of 134217728 " +
          "(at most K = 15189 components fit at this D); use fewer components or features, or backend: 'cpu' " +
          '(webgpu-em info shows the limits)',
      );
    }
  });

  it('the reduction no longer caps K: full D = 64 K = 1960 (4.2 million sums) fits', () => {
    expect(unmetRequirement(DEFAULT_LIMITS, 1960, 64, 'full')).toBeNull();
    const reduction = gpuRequirements(DEFAULT_LIMITS, 1960, 64, 'full').find((r) => /reduction/.test(r.what));
    // 2-D: two rows of 65,535 workgroups.
    expect(reduction?.need).toBe(2);
  });

  it('diag and spherical are sized for 2D + 1 sums per component, not (D + 1)(D + 2)/2', () => {
    for (const use of ['diag', 'spherical'] as const) {
      const sums = gpuRequirements(DEFAULT_LIMITS, 63, 2048, use).find((r) => /sums/.test(r.what));
      expect(sums?.need).toBe((63 * (2 * 2048 + 1) + 2) * 4);
      // Parameters: mean, 1/sigma per feature, log constant, shift = 3D + 1 floats.
      const most = Math.floor(DEFAULT_LIMITS.maxStorageBufferBindingSize / ((3 * 2048 + 1) * 4));
      expect(maxGpuComponents(DEFAULT_LIMITS, 2048, use)).toBe(most);
      expect(most).toBe(5460);
      expect(unmetRequirement(DEFAULT_LIMITS, most, 2048, use)).toBeNull();
      expect(unmetRequirement(DEFAULT_LIMITS, most + 1, 2048, use)?.what).toMatch(/component parameters/);
    }
  });

  it('k-means at D = 64: K <= 516,216 centres (tiles of 8) in one binding', () => {
    const most = maxGpuComponents(DEFAULT_LIMITS, 64, 'kmeans');
    expect(most).toBe(516_216);
    expect(Math.ceil(most / 8) * 8 * 65 * 4).toBeLessThanOrEqual(DEFAULT_LIMITS.maxStorageBufferBindingSize);
    expect(Math.ceil((most + 1) / 8) * 8 * 65 * 4).toBeGreaterThan(
      DEFAULT_LIMITS.maxStorageBufferBindingSize,
    );
    expect(() => checkGpuCapacity(DEFAULT_LIMITS, most, 64, 'kmeans')).not.toThrow();
    expect(thrown(() => checkGpuCapacity(DEFAULT_LIMITS, most + 1, 64, 'kmeans')).message).toMatch(
      /^K = 516217 components of D = 64 features \(k-means\) need \d+ bytes of centres in one binding, over the adapter's maxStorageBufferBindingSize of 134217728 \(at most K = 516216 clusters fit at this D\)/,
    );
  });

  it('a dispatch limit is named when it is the one hit', () => {
    const small = { ...DEFAULT_LIMITS, maxComputeWorkgroupsPerDimension: 16 };
    const most = maxGpuComponents(small, 64, 'diag');
    // sufficient_stats.wgsl: groups of 64 x 8 sums along y.
    expect(most).toBe(Math.floor((16 * 512 - 2) / 129));
    expect(unmetRequirement(small, most + 1, 64, 'diag')?.limitName).toBe(
      'maxComputeWorkgroupsPerDimension of 16',
    );
  });

  it('a buffer limit below the binding limit is the one named', () => {
    const small = { ...DEFAULT_LIMITS, maxBufferSize: 1 << 20 };
    expect(thrown(() => checkGpuCapacity(small, 4096, 64, 'full')).message).toMatch(
      /over the adapter's maxBufferSize of 1048576 \(at most K = 118 components fit/,
    );
  });
});

describe("the host's covariance sums per family", () => {
  const shape = (rows: number, cols: number) => ({ data: new Float32Array(0), rows, cols });

  it('full holds K x D(D+1)/2 sums: at D = 2048, K = 63 fits and K = 64 does not', () => {
    expect(() => checkMixtureSamples(shape(64, 2048), null, 63, 'full')).not.toThrow();
    expect(() => checkMixtureSamples(shape(64, 2048), null, 64, 'full')).toThrow(
      /K = 64 components of D = 2048 features need K x D\(D\+1\)\/2 = 134283264 covariance sums, over the limit of 134217728 .* 'full' covariances/,
    );
  });

  it('diag and spherical hold K x D: at D = 2048, K = 64 fits and the limit is K = 65,536', () => {
    for (const type of ['diag', 'spherical'] as const) {
      expect(family(type).secondMoments(2048)).toBe(2048);
      expect(() => checkMixtureSamples(shape(65_537, 2048), null, 64, type)).not.toThrow();
      expect(() => checkMixtureSamples(shape(65_537, 2048), null, 65_536, type)).not.toThrow();
      expect(() => checkMixtureSamples(shape(65_537, 2048), null, 65_537, type)).toThrow(
        /need K x D = 134219776 covariance sums, over the limit/,
      );
    }
  });

  it('initialisation sums D second moments per component for diag and spherical', () => {
    const x = makeBlobs({ n: 300, d: 6, k: 3, seed: 5 });
    const k = 3;
    const d = 6;
    const random = randomResponsibilitySums(x, k, new Random(1), null, 'diagonal');
    expect(random.stats.secondMomentLayout).toBe('diagonal');
    expect(random.stats.secondMoment.length).toBe(k * d);
    const labels = Int32Array.from({ length: 300 }, (_, r) => r % k);
    expect(labelSums(x, labels, k, null, 'diagonal').stats.secondMoment.length).toBe(k * d);
    // The same answer as the diagonals of the full covariances from the same centres.
    const centres = new Float64Array(k * d);
    for (let c = 0; c < k; c++) for (let i = 0; i < d; i++) centres[c * d + i] = x.data[c * 100 * d + i];
    const full = parametersFromCentres(x, centres, 1e-6, 'full');
    const diag = parametersFromCentres(x, centres, 1e-6, 'diag');
    expect(Array.from(diag.means)).toEqual(Array.from(full.means));
    const fullDiagonals = family('diag').fromFullMatrices(
      family('full').toArray(full.covariances, k, d),
      k,
      d,
    );
    for (let e = 0; e < k * d; e++) expect(diag.covariances[e]).toBeCloseTo(fullDiagonals[e], 12);
  });
});
