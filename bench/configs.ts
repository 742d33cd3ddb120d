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
}

function config(
  set: BenchSet,
  model: BenchModel,
  n: number,
  d: number,
  k: number,
  iterations: number,
): BenchConfig {
  const prefix = set === 'standard' ? model : `${set}-${model}`;
  return { name: `${prefix}-N${label(n)}-D${d}-K${k}`, set, model, n, d, k, iterations };
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
  return [
    config('standard', 'gmm-full', 1_000_000 / scale, 8, 16, iters),
    config('standard', 'gmm-full', 200_000 / scale, 32, 32, iters),
    config('standard', 'gmm-diag', 1_000_000 / scale, 16, 32, iters),
    config('standard', 'kmeans', 1_000_000 / scale, 16, 64, iters),
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
 * Work of one iteration, as counted here (a multiply-add is 2 FLOP; exp and log count 1).
 * Per (sample, component):
 * - full E-step: D subtractions, D(D+1)/2 multiply-adds for M_k (x - mu_k), D multiply-adds for
 *   the squared norm, ~6 for log-sum-exp and the responsibility; diag E-step: D subtractions,
 *   D multiplies, D multiply-adds, ~6; k-means assignment: D subtractions, D multiply-adds.
 * - statistics: one entry per sum, each 2 subtractions, a multiply and a multiply-add (5 FLOP):
 *   (D+1)(D+2)/2 sums for full, 2D+1 for diag.
 * k-means sums add each sample to its own cluster only: D + 1 subtractions and additions per
 * sample (2 FLOP each), not per (sample, component).
 * Bytes: samples read once by the per-sample kernel and once per group of 512 sums (k-means:
 * once) by the statistics kernel; the per-sample outputs (N x K responsibilities, or N labels)
 * written once and read once per group; N log-likelihoods or distances written and read.
 */
export function workPerIteration(
  model: BenchModel,
  n: number,
  d: number,
  k: number,
): { flop: number; bytes: number } {
  const sums = model === 'gmm-full' ? ((d + 1) * (d + 2)) / 2 : model === 'gmm-diag' ? 2 * d + 1 : d + 1;
  const perSample =
    model === 'gmm-full' ? d + d * (d + 1) + 2 * d + 6 : model === 'gmm-diag' ? 4 * d + 6 : 3 * d;
  const groups = model === 'kmeans' ? 1 : Math.ceil((k * sums + 1) / 512);
  const outputs = model === 'kmeans' ? n : n * k;
  const flop = model === 'kmeans' ? n * k * perSample + 2 * n * (d + 1) : n * k * (perSample + 5 * sums);
  const bytes = 4 * (n * d * (1 + groups) + outputs * (1 + groups) + 2 * n);
  return { flop, bytes };
}
