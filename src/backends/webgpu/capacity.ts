import { WebGpuEmError } from '../../errors.js';
import type { DataUse } from '../backend.js';
import {
  FUSED_MAX_FEATURES,
  KMEANS_SUMS_WORKGROUP,
  KMEANS_TILE,
  PARTIALS_BUDGET_BYTES,
  STATS_PER_THREAD,
  STATS_WORKGROUP,
  componentLayout,
  fullStatsLayout,
  kmeansCentreFloats,
  kmeansStatsEntries,
  maxFeatures,
  reduceGrid,
  statsKindOf,
  statsLayout,
} from './layout.js';
import { SLICE_ROW_ALIGN } from './submissions.js';

/** The adapter limits the kernels' buffers and dispatches depend on. */
export type CapacityLimits = Pick<
  GPUSupportedLimits,
  | 'maxStorageBufferBindingSize'
  | 'maxBufferSize'
  | 'maxComputeWorkgroupStorageSize'
  | 'maxComputeInvocationsPerWorkgroup'
  | 'maxComputeWorkgroupsPerDimension'
>;

/** One thing K components of D features need from the adapter: `need` of at most `limit`. */
export interface GpuRequirement {
  /** What is needed, for messages: '8836 bytes of component parameters in one binding'. */
  readonly what: string;
  readonly need: number;
  readonly limit: number;
  /** The limit, for messages: "maxStorageBufferBindingSize of 134217728". */
  readonly limitName: string;
}

/**
 * What the kernels of a use (a covariance family or k-means) allocate and dispatch for K
 * components of D features, as mixture-workspace.ts and kmeans-passes.ts make them: each
 * requirement grows with K, so the largest K is where the first one fails. N does not enter:
 * samples and per-row buffers are split into chunks that fit.
 */
export function gpuRequirements(
  limits: CapacityLimits,
  k: number,
  d: number,
  use: DataUse,
): GpuRequirement[] {
  // A buffer bound whole must fit both the binding and the buffer limit.
  const binding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const bindingName =
    binding === limits.maxStorageBufferBindingSize
      ? `maxStorageBufferBindingSize of ${binding}`
      : `maxBufferSize of ${binding}`;
  const sumsLimit = Math.min(binding, PARTIALS_BUDGET_BYTES);
  const sumsName = sumsLimit === binding ? bindingName : `limit of ${sumsLimit} bytes for them`;
  const perDim = limits.maxComputeWorkgroupsPerDimension;
  const perDimName = `maxComputeWorkgroupsPerDimension of ${perDim}`;
  const wgBytes = limits.maxComputeWorkgroupStorageSize;
  const wgName = `maxComputeWorkgroupStorageSize of ${wgBytes} bytes`;
  const bytes = (need: number, what: string, limit = binding, limitName = bindingName): GpuRequirement => ({
    what: `${need} bytes of ${what}`,
    need,
    limit,
    limitName,
  });
  const groups = (need: number, what: string): GpuRequirement => ({
    what: `${need} workgroups along one dimension of ${what}`,
    need,
    limit: perDim,
    limitName: perDimName,
  });

  if (use === 'kmeans') {
    const stride = kmeansStatsEntries(k, d);
    // kmeans_sums.wgsl holds K_TILE clusters' D + 1 sums in workgroup memory beside its inertia partials.
    const kTile = Math.min(k, Math.floor((Math.floor(wgBytes / 4) - KMEANS_SUMS_WORKGROUP) / (d + 1)));
    return [
      bytes(Math.ceil(k / KMEANS_TILE) * KMEANS_TILE * (d + 1) * 4, 'centres in one binding'),
      bytes(kmeansCentreFloats(k, d) * 4, 'raw centres in one binding'),
      bytes(stride * 4, 'sums in one binding', sumsLimit, sumsName),
      kTile < 1
        ? {
            what: `${4 * (d + 1 + KMEANS_SUMS_WORKGROUP)} bytes of workgroup memory for one cluster's sums`,
            need: 4 * (d + 1 + KMEANS_SUMS_WORKGROUP),
            limit: wgBytes,
            limitName: wgName,
          }
        : groups(Math.ceil(k / kTile), 'the sums kernel'),
      bytes(k * 4, 'distances per row (transform)'),
      groups(reduceGrid(stride, perDim)[1], 'the reduction'),
    ];
  }

  const kind = statsKindOf({ covarianceType: use });
  const layout = statsLayout(d, k, wgBytes, kind);
  // Full and tied sums of wide data run sufficient_stats_full.wgsl (one dispatch row, a scratch
  // row past the sums) when its workgroup fits; everything else may run sufficient_stats.wgsl.
  const blocked = kind === 'full' && d > FUSED_MAX_FEATURES.full ? fullStatsLayout(d, k, limits) : null;
  const scratch = blocked?.scratch ?? 0;
  const out: GpuRequirement[] = [
    bytes(componentLayout(k, d, kind).length * 4, 'component parameters in one binding'),
    // predictProba's responsibilities go in slices of rows from a multiple of SLICE_ROW_ALIGN.
    bytes(SLICE_ROW_ALIGN * k * 4, `responsibilities of ${SLICE_ROW_ALIGN} rows`),
    bytes((layout.entries + scratch) * 4, 'sums in one binding', sumsLimit, sumsName),
  ];
  if (!blocked) {
    out.push(
      groups(Math.ceil(layout.entries / (STATS_WORKGROUP * STATS_PER_THREAD)), 'the statistics kernel'),
    );
    // sufficient_stats.wgsl stages at least one row and its responsibilities.
    const staged = 4 * (d + 1 + layout.kSpan);
    out.push({
      what: `${staged} bytes of workgroup memory for one row`,
      need: staged,
      limit: wgBytes,
      limitName: wgName,
    });
  }
  out.push(groups(reduceGrid(layout.entries, perDim)[1], 'the reduction'));
  return out;
}

/** The first requirement of K components of D features the adapter does not meet, or null. */
export function unmetRequirement(
  limits: CapacityLimits,
  k: number,
  d: number,
  use: DataUse,
): GpuRequirement | null {
  // A limit that is missing (NaN) fails closed.
  return gpuRequirements(limits, k, d, use).find((r) => !(r.need <= r.limit)) ?? null;
}

/** The most components (clusters) of D features the GPU kernels of a use take on these limits (0: none). */
export function maxGpuComponents(limits: CapacityLimits, d: number, use: DataUse): number {
  if (unmetRequirement(limits, 1, d, use)) return 0;
  // Every requirement grows with K: the largest K that meets them all, by bisection.
  let lo = 1;
  let hi = 2;
  while (hi < 2 ** 31 && !unmetRequirement(limits, hi, d, use)) [lo, hi] = [hi, hi * 2];
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (unmetRequirement(limits, mid, d, use)) hi = mid;
    else lo = mid;
  }
  return lo;
}

/**
 * Checks that K components of D features fit the adapter's limits, before any data is uploaded
 * or any seeding pass runs (with `auto`, a failure sends the data to the CPU); the error names
 * the limit and the largest K that fits. The kernels' own checks stay as a backstop.
 */
export function checkGpuCapacity(limits: CapacityLimits, k: number, d: number, use: DataUse): void {
  const unmet = unmetRequirement(limits, k, d, use);
  if (!unmet) return;
  const what = use === 'kmeans' ? 'k-means' : `'${use}' covariances`;
  const noun = use === 'kmeans' ? 'clusters' : 'components';
  const most = maxGpuComponents(limits, d, use);
  const fits = most > 0 ? `at most K = ${most} ${noun} fit at this D` : `no K fits at this D`;
  throw new WebGpuEmError(
    'gpu',
    `K = ${k} components of D = ${d} features (${what}) need ${unmet.what}, over the adapter's ${unmet.limitName} ` +
      `(${fits}); use fewer components or features, or backend: 'cpu' (webgpu-em info shows the limits)`,
  );
}

/** The per-use limit on D, as a one-line error. */
export function checkFeatures(d: number, use: DataUse): void {
  const max = maxFeatures(use);
  if (d <= max) return;
  const what = use === 'kmeans' ? 'k-means' : `'${use}' mixture`;
  throw new WebGpuEmError(
    'gpu',
    `the webgpu backend's ${what} kernels take at most ${max} features, the data has ${d}; ` +
      "reduce the dimension (e.g. PCA) or use backend: 'cpu'",
  );
}
