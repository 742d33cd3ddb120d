/** What a benchmark fits. */
export type BenchModel = 'gmm-full' | 'gmm-diag' | 'kmeans';

/**
 * Groups of configurations: 'standard' is timed beside the float64 CPU reference and
 * scikit-learn, 'sweep' shows how time grows with N, K and D on the GPU alone, and 'large' is
 * beyond what a CPU peer finishes in reasonable time (GPU and GPU peers only).
 */
export const BENCH_SETS = ['standard', 'sweep', 'large'] as const;
export type BenchSet = (typeof BENCH_SETS)[number];

/** One benchmark: a model, a data shape and how many measured iterations. */
export interface BenchConfig {
  readonly name: string;
  readonly set: BenchSet;
  readonly model: BenchModel;
  readonly n: number;
  readonly d: number;
  readonly k: number;
  readonly iterations: number;
  /** Also run the float64 CPU reference (too slow for the widest data). */
  readonly cpuReference: boolean;
  /** Iterations scikit-learn's timing fits run (more than the GPU rows: its fits are short). */
  readonly sklearnIterations: number;
  /**
   * Distance scale between the blobs' centres: k-means configurations use overlapping blobs, so
   * Lloyd does not converge before the timed iterations end.
   */
  readonly spread: number;
}

function config(
  set: BenchSet,
  model: BenchModel,
  n: number,
  d: number,
  k: number,
  iterations: number,
  extra: Partial<Pick<BenchConfig, 'cpuReference' | 'sklearnIterations'>> = {},
): BenchConfig {
  const prefix = set === 'standard' ? model : `${set}-${model}`;
  return {
    name: `${prefix}-N${label(n)}-D${d}-K${k}`,
    set,
    model,
    n,
    d,
    k,
    iterations,
    cpuReference: extra.cpuReference ?? set === 'standard',
    sklearnIterations: extra.sklearnIterations ?? iterations,
    spread: model === 'kmeans' ? 1 : 6,
  };
}

/** The configurations of the given sets, in the order of BENCH_SETS. */
export function benchConfigs(sets: readonly BenchSet[], quick: boolean): BenchConfig[] {
  return [
    ...(sets.includes('standard') ? standardConfigs(quick) : []),
    ...(sets.includes('sweep') ? sweepConfigs(quick) : []),
    ...(sets.includes('large') ? largeConfigs(quick) : []),
  ];
}

/** The standard configurations. */
export function standardConfigs(quick: boolean): BenchConfig[] {
  const scale = quick ? 10 : 1;
  const iters = quick ? 2 : 3;
  const gmmSk = quick ? 5 : 10;
  const kmIters = quick ? 5 : 10;
  const kmSk = quick ? 10 : 20;
  return [
    config('standard', 'gmm-full', 1_000_000 / scale, 8, 16, iters, { sklearnIterations: gmmSk }),
    config('standard', 'gmm-full', 200_000 / scale, 32, 32, iters, { sklearnIterations: gmmSk }),
    config('standard', 'gmm-diag', 1_000_000 / scale, 16, 32, iters, { sklearnIterations: gmmSk }),
    config('standard', 'kmeans', 1_000_000 / scale, 16, 64, kmIters, { sklearnIterations: kmSk }),
    config('standard', 'kmeans', 200_000 / scale, 384, 64, quick ? 3 : 5, {
      cpuReference: false,
      sklearnIterations: kmSk,
    }),
  ];
}

/** How time grows with N, K and D (full covariance, GPU only). */
export function sweepConfigs(quick: boolean): BenchConfig[] {
  const ns = quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000, 10_000_000];
  const ks = quick ? [4, 32] : [4, 16, 64];
  const ds = quick ? [2, 16] : [2, 8, 32, 64];
  const base = quick ? 20_000 : 100_000;
  return [
    ...ns.map((n) => config('sweep', 'gmm-full', n, 8, 16, 2)),
    ...ks.filter((k) => k !== 16).map((k) => config('sweep', 'gmm-full', base, 8, k, 2)),
    ...ds.filter((d) => d !== 8).map((d) => config('sweep', 'gmm-full', base, d, 16, 2)),
  ];
}

/** Sizes that only a GPU finishes quickly: full covariances, N = 10M, D = 16, K = 32. */
export function largeConfigs(quick: boolean): BenchConfig[] {
  return [config('large', 'gmm-full', quick ? 100_000 : 10_000_000, 16, 32, quick ? 2 : 5)];
}

function label(n: number): string {
  if (n >= 1_000_000 && n % 1_000_000 === 0) return `${n / 1_000_000}M`;
  if (n >= 1000 && n % 1000 === 0) return `${n / 1000}k`;
  return String(n);
}

/**
 * Work of one iteration as the algorithm needs it, not as a particular kernel spends it (a
 * multiply-add is 2 FLOP; exp and log count 1). Per (sample, component):
 * - full E-step: D subtractions, D(D+1)/2 multiply-adds for M_k (x - mu_k), D multiply-adds for
 *   the squared norm, ~6 for log-sum-exp and the responsibility; statistics: r (x - c), D
 *   multiplies, its outer product with (x - c), D(D+1)/2 multiply-adds, and D + 1 additions for
 *   the first moments and the count.
 * - diag E-step: D subtractions, D multiplies, D multiply-adds, ~6; statistics: D multiplies,
 *   D multiply-adds for the squares, D + 1 additions.
 * - k-means (Lloyd): the distances as a product, x.c_k, D multiply-adds (the norms are O(N + K)
 *   and the argmin ~1); the sums add each sample to its own cluster only: D + 1 additions per
 *   sample, not per (sample, component).
 * Bytes: the samples, read once; every other per-sample value (responsibilities, labels) can
 * stay on chip, and the parameters are small.
 */
export function workPerIteration(
  model: BenchModel,
  n: number,
  d: number,
  k: number,
): { flop: number; bytes: number } {
  const bytes = 4 * n * d;
  if (model === 'kmeans') return { flop: 2 * n * k * d + n * (d + 1), bytes };
  const perPair =
    model === 'gmm-full' ? d + d * (d + 1) + 2 * d + 6 + d + d * (d + 1) + d + 1 : 4 * d + 6 + 3 * d + d + 1;
  return { flop: n * k * perPair, bytes };
}
