/** One benchmark: a model, a data shape and how many measured iterations. */
export interface BenchConfig {
  readonly name: string;
  readonly model: 'gmm-full';
  readonly n: number;
  readonly d: number;
  readonly k: number;
  readonly iterations: number;
  /** Also run the float64 CPU reference and scikit-learn (the size sweep runs the GPU alone). */
  readonly compare: boolean;
}

const gmm = (
  name: string,
  n: number,
  d: number,
  k: number,
  iterations: number,
  compare: boolean,
): BenchConfig => ({
  name,
  model: 'gmm-full',
  n,
  d,
  k,
  iterations,
  compare,
});

/** The standard configurations. */
export function standardConfigs(quick: boolean): BenchConfig[] {
  const scale = quick ? 10 : 1;
  const iters = quick ? 2 : 3;
  return [
    gmm(`gmm-full-N${label(1_000_000 / scale)}-D8-K16`, 1_000_000 / scale, 8, 16, iters, true),
    gmm(`gmm-full-N${label(200_000 / scale)}-D32-K32`, 200_000 / scale, 32, 32, iters, true),
  ];
}

/** How time grows with N, K and D (GPU only). */
export function sweepConfigs(quick: boolean): BenchConfig[] {
  const ns = quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000, 10_000_000];
  const ks = quick ? [4, 32] : [4, 16, 64];
  const ds = quick ? [2, 16] : [2, 8, 32, 64];
  const base = quick ? 20_000 : 100_000;
  const iters = 2;
  return [
    ...ns.map((n) => gmm(`sweep-N${label(n)}-D8-K16`, n, 8, 16, iters, false)),
    ...ks.map((k) => gmm(`sweep-N${label(base)}-D8-K${k}`, base, 8, k, iters, false)),
    ...ds.map((d) => gmm(`sweep-N${label(base)}-D${d}-K16`, base, d, 16, iters, false)),
  ];
}

function label(n: number): string {
  if (n >= 1_000_000 && n % 1_000_000 === 0) return `${n / 1_000_000}M`;
  if (n >= 1000 && n % 1000 === 0) return `${n / 1000}k`;
  return String(n);
}

/**
 * Work of one full-covariance EM iteration, as counted here (a multiply-add is 2 FLOP; exp and
 * log count 1):
 * - E-step per (sample, component): D subtractions, D(D+1)/2 multiply-adds for M_k (x - mu_k),
 *   D multiply-adds for the squared norm, and ~6 for log-sum-exp and the responsibility.
 * - statistics per (sample, component): D subtractions, (D+1)(D+2)/2 pairs of 2 multiplies and
 *   an add.
 * Bytes: samples read once by the E-step and once per component by the statistics kernel; the
 * N x K responsibilities written twice and read twice; N log-likelihoods written and read.
 */
export function workPerIteration(n: number, d: number, k: number): { flop: number; bytes: number } {
  const pairs = ((d + 1) * (d + 2)) / 2;
  const estep = d + d * (d + 1) + 2 * d + 6;
  const stats = d + 3 * pairs;
  const flop = n * k * (estep + stats);
  const bytes = 4 * (n * d * (1 + k) + 4 * n * k + 2 * n);
  return { flop, bytes };
}
