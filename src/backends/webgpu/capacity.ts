import { WebGpuEmError } from '../../errors.js';
import type { CovarianceType } from '../../core/names.js';
import {
  KMEANS_SUMS_WORKGROUP,
  KMEANS_TILE,
  componentLayout,
  kmeansStatsEntries,
  statsKindOf,
  statsLayout,
  PARTIALS_BUDGET_BYTES,
} from './layout.js';

/**
 * Checks that K components of D features fit the adapter's limits, before any buffer is made or
 * any seeding pass runs; the error names the limit. The kernels' own checks stay as a backstop.
 */
export function checkGpuCapacity(
  limits: GPUSupportedLimits,
  k: number,
  d: number,
  family: CovarianceType | 'kmeans',
): void {
  const binding = limits.maxStorageBufferBindingSize;
  const what = family === 'kmeans' ? 'k-means' : `'${family}' covariances`;
  const fail = (need: string, limit: string) =>
    new WebGpuEmError(
      'gpu',
      `K = ${k} components of D = ${d} features (${what}) need ${need}, over the adapter's ${limit}; ` +
        "use fewer components or features, or backend: 'cpu' (webgpu-em info shows the limits)",
    );
  const sumsLimit = Math.min(binding, PARTIALS_BUDGET_BYTES);
  if (family === 'kmeans') {
    // As KMeansPasses.create lays them out: centre tiles and per-block sums in one binding each,
    // a cluster's sums in workgroup memory.
    const tiles = Math.ceil(k / KMEANS_TILE) * (d + 1) * KMEANS_TILE * 4;
    if (tiles > binding)
      throw fail(`${tiles} bytes of centres in one binding`, `maxStorageBufferBindingSize of ${binding}`);
    const sums = kmeansStatsEntries(k, d) * 4;
    if (sums > sumsLimit)
      throw fail(`${sums} bytes of sums in one binding`, `limit of ${sumsLimit} bytes for them`);
    const perGroup = Math.floor(limits.maxComputeWorkgroupStorageSize / 4) - KMEANS_SUMS_WORKGROUP;
    const kTile = Math.min(k, Math.floor(perGroup / (d + 1)));
    if (kTile < 1 || Math.ceil(k / kTile) > limits.maxComputeWorkgroupsPerDimension) {
      throw fail(
        'more workgroup memory or workgroups for their sums',
        `maxComputeWorkgroupStorageSize of ${limits.maxComputeWorkgroupStorageSize} bytes`,
      );
    }
    if (k * 4 > binding) {
      throw fail(`${k * 4} bytes per row of distances`, `maxStorageBufferBindingSize of ${binding}`);
    }
    return;
  }
  const kind = statsKindOf({ covarianceType: family });
  const params = componentLayout(k, d, kind).length * 4;
  if (params > binding) {
    throw fail(
      `${params} bytes of component parameters in one binding`,
      `maxStorageBufferBindingSize of ${binding}`,
    );
  }
  if (k * 4 > binding) {
    throw fail(`${k * 4} bytes per row of responsibilities`, `maxStorageBufferBindingSize of ${binding}`);
  }
  const sums = statsLayout(d, k, limits.maxComputeWorkgroupStorageSize, kind).entries * 4;
  if (sums > sumsLimit) {
    throw fail(`${sums} bytes of sums in one binding`, `limit of ${sumsLimit} bytes for them`);
  }
}
