import {
  BACKEND_CHOICES,
  COVARIANCE_TYPES,
  DEFAULT_COVARIANCE_TYPE,
  GMM_INIT_METHODS,
} from '../core/names.js';
import { boolean, choice, integer, number, text, value } from '../core/option-schema.js';

// The options several models share, each declared once; a model's schema spreads the ones it
// takes (see gaussian-mixture-options.ts, bayesian-mixture-options.ts, kmeans-options.ts).

/** Largest seed: the generator is seeded with 32 bits. */
export const MAX_SEED = 2 ** 32 - 1;

/** Smallest `maxGpuBytes`: one chunk of a few rows must fit twice. */
const MIN_GPU_BYTES = 1 << 16;

/** The run: where it runs, what seeds it, how often it restarts. */
export const RUN_SCHEMA = {
  /** Number of initialisations; the one with the best objective is kept. */
  nInit: integer({
    default: 1,
    min: 1,
    cli: { flags: ['--n-init'] },
    help: 'initialisations; the best one is kept',
    sklearn: 'n_init',
  }),
  /** Seed of every random choice; the same seed gives the same result (scikit-learn's None draws anew). */
  seed: integer({
    default: 0,
    min: 0,
    // The generator takes 32 bits: any other seed would silently equal one of these.
    max: MAX_SEED,
    cli: { flags: ['--seed'] },
    help: `seed of every random choice (0 to ${MAX_SEED})`,
    sklearn: 'random_state',
  }),
  /** 'auto' uses WebGPU when an adapter exists, else the float64 CPU backend; 'gpu' is 'webgpu'. */
  backend: choice()(BACKEND_CHOICES, {
    default: 'auto',
    cli: { flags: ['--backend'] },
    help: 'where the work runs: auto takes WebGPU when an adapter exists, else the CPU',
  }),
  /** A GPUDevice to use instead of creating one (it is not destroyed by dispose()). */
  device: value<GPUDevice>()({ help: 'a GPUDevice to use instead of creating one' }),
  /** Node only: the Dawn adapter to use, by name. */
  adapter: text({
    defaultText: '$WEBGPU_EM_ADAPTER or the first',
    cli: { flags: ['--adapter'] },
    help: 'the Dawn adapter to use, by name (webgpu-em info lists them)',
  }),
} as const;

/** Device memory a streamed fit may take (two chunks in flight). See docs/large-data.md. */
export const GPU_BYTES_SCHEMA = {
  /**
   * Device memory a streamed fit's chunks may take (two in flight); default 256 MiB, or the
   * adapter's largest buffer when smaller. See docs/large-data.md.
   */
  maxGpuBytes: integer({
    min: MIN_GPU_BYTES,
    unit: 'bytes',
    defaultText: "256 MiB, or the adapter's largest buffer",
    help: 'device memory a streamed fit may use',
  }),
} as const;

/** What both mixtures share: the family, the iterations, the regularisation, the restarts. */
export const MIXTURE_SCHEMA = {
  /** Covariance family: 'full', 'tied', 'diag' or 'spherical', as in scikit-learn. */
  covarianceType: choice()(COVARIANCE_TYPES, {
    default: DEFAULT_COVARIANCE_TYPE,
    cli: { flags: ['--covariance'] },
    help: 'the covariance family',
    sklearn: 'covariance_type',
  }),
  /** Stop when the lower bound changes by less than this; 0 runs exactly maxIter iterations. */
  tol: number({
    default: 1e-3,
    min: 0,
    cli: { flags: ['--tol'] },
    help: 'stop when the lower bound changes by less (0 runs exactly --max-iter)',
    sklearn: 'tol',
  }),
  /** Added to every covariance diagonal, for numerical stability. */
  regCovar: number({
    default: 1e-6,
    min: 0,
    cli: { flags: ['--reg-covar'] },
    help: 'added to covariance diagonals',
    sklearn: 'reg_covar',
  }),
  /** Most iterations per initialisation. */
  maxIter: integer({
    default: 100,
    min: 1,
    cli: { flags: ['--max-iter'] },
    help: 'most iterations per initialisation',
    sklearn: 'max_iter',
  }),
  /**
   * When true, each fit() after the first continues from the current parameters (nInit is then
   * ignored), as scikit-learn's warm_start.
   */
  warmStart: boolean({ default: false, help: 'each fit() continues from the last', sklearn: 'warm_start' }),
} as const;

/** A mixture's `init`: a method by name, or what else the model takes (`orElse` says what). */
export function mixtureInit<Else>(orElse: string) {
  return choice<Else>()(GMM_INIT_METHODS, {
    default: 'kmeans++',
    orElse,
    cli: { flags: ['--init'] },
    help: 'how EM starts',
    sklearn: 'init_params',
  });
}
