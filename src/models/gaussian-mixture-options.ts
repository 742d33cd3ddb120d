import type { GpuOptions } from '../backends/select.js';
import {
  BACKEND_CHOICES,
  checkChoice,
  checkOptionKeys,
  COVARIANCE_TYPES,
  GMM_INIT_METHODS,
  optionKeys,
  type BackendChoice,
  type CovarianceType,
  type InitMethod,
} from '../core/names.js';
import { usageError } from '../errors.js';
import { WEIGHT_OPTIONS, type SampleWeightInput, type WeightOptions } from '../data/weights.js';
import type { IterationRecord } from './em.js';
import type { GmmParameters } from './gmm-parameters.js';
import type { InitialLabels } from './init-labels.js';
import type { InitialModel } from './init.js';
import { checkGpuBytes, checkLoopOptions } from './options.js';

export type { CovarianceType, InitMethod };

/** A fitted mixture to start from (a GaussianMixture is one). */
export interface FittedMixture {
  readonly parameters: GmmParameters;
}

/**
 * Options of {@link GaussianMixture}, named and defaulted as in scikit-learn, except `init`
 * ('kmeans++' here, 'kmeans' there) and `seed` (0; scikit-learn's None draws anew).
 */
export interface GaussianMixtureOptions {
  /** Number of mixture components K (>= 1). */
  nComponents: number;
  /** Covariance family: 'full' (default), 'tied', 'diag' or 'spherical', as in scikit-learn. */
  covarianceType?: CovarianceType;
  /** Stop when the lower bound changes by less than this; default 1e-3. 0 runs exactly maxIter iterations. */
  tol?: number;
  /** Most EM iterations per initialisation; default 100. */
  maxIter?: number;
  /** Added to every covariance diagonal, for numerical stability; default 1e-6. */
  regCovar?: number;
  /** Number of initialisations; the one with the best lower bound is kept. Default 1. */
  nInit?: number;
  /**
   * Initialisation: 'kmeans++' (default: k-means++ centres, then each sample's nearest), 'kmeans'
   * (a k-means run's clusters, scikit-learn's default), 'random' (random responsibilities),
   * 'random-from-data' (K samples as centres), a model to start from exactly, or `{ labels }`:
   * one label in [0, K) per sample, the M-step of those hard assignments (to compare runs from
   * the same start exactly).
   */
  init?: InitMethod | InitialModel | FittedMixture | InitialLabels;
  /**
   * When true, each fit() after the first continues from the current parameters (nInit is then
   * ignored), as scikit-learn's warm_start. Default false.
   */
  warmStart?: boolean;
  /** Seed of every random choice; the same seed gives the same result. Default 0. */
  seed?: number;
  /** 'auto' (default) uses WebGPU when an adapter exists, else the float64 CPU backend. */
  backend?: BackendChoice;
  /** A GPUDevice to use instead of creating one (it is not destroyed by dispose()). */
  device?: GPUDevice;
  /** Node only: the Dawn adapter to use, by name. */
  adapter?: string;
  /**
   * Device memory a streamed fit's chunks may take (two in flight); default 256 MiB, or the
   * adapter's largest buffer when smaller. See docs/large-data.md.
   */
  maxGpuBytes?: number;
}

/** Every option's name, held to the interface by the compiler; unknown keys are refused. */
export const GAUSSIAN_MIXTURE_OPTIONS = optionKeys<GaussianMixtureOptions>({
  nComponents: true,
  covarianceType: true,
  tol: true,
  maxIter: true,
  regCovar: true,
  nInit: true,
  init: true,
  warmStart: true,
  seed: true,
  backend: true,
  device: true,
  adapter: true,
  maxGpuBytes: true,
});

/** Options of {@link GaussianMixture.fit}. */
export interface FitOptions {
  /** Aborts the fit: between passes of the backend (the CPU backend checks every ~20 ms). */
  signal?: AbortSignal;
  /** Called after every iteration. */
  onIteration?: (record: IterationRecord & { initIndex: number }) => void;
  /**
   * One weight per sample (finite, >= 0): an integer weight gives the fit of that sample
   * repeated that many times, a zero weight the fit without it. Every sum over the samples is
   * weighted (the statistics, the lower bound's mean, the initialisation's draws).
   */
  sampleWeight?: SampleWeightInput | null;
  /**
   * Keep the label of every training sample (`labels`), from one E-step pass at the end of the
   * fit; default true. False saves that pass (model selection fits many candidates).
   */
  labels?: boolean;
}

/** Every fit option's name; unknown keys are refused. */
export const FIT_OPTIONS = optionKeys<FitOptions>({
  signal: true,
  onIteration: true,
  sampleWeight: true,
  labels: true,
});

export { WEIGHT_OPTIONS, type WeightOptions };

/** The options with their defaults filled in. */
export type ResolvedMixtureOptions = Required<
  Omit<GaussianMixtureOptions, 'device' | 'adapter' | 'maxGpuBytes'>
> &
  GpuOptions;

/** Fills in the defaults and checks every option; each mistake is a usage error naming it. */
export function resolveMixtureOptions(o: GaussianMixtureOptions): ResolvedMixtureOptions {
  if (!o || typeof o !== 'object')
    throw usageError('GaussianMixture needs an options object: { nComponents }');
  checkOptionKeys('GaussianMixture', o, GAUSSIAN_MIXTURE_OPTIONS);
  const r: ResolvedMixtureOptions = {
    nComponents: o.nComponents,
    covarianceType: o.covarianceType ?? COVARIANCE_TYPES[0],
    warmStart: o.warmStart ?? false,
    tol: o.tol ?? 1e-3,
    maxIter: o.maxIter ?? 100,
    regCovar: o.regCovar ?? 1e-6,
    nInit: o.nInit ?? 1,
    init: o.init ?? GMM_INIT_METHODS[0],
    seed: o.seed ?? 0,
    backend: o.backend ?? BACKEND_CHOICES[0],
    device: o.device,
    adapter: o.adapter,
    maxGpuBytes: checkGpuBytes(o.maxGpuBytes),
  };
  if (!Number.isInteger(r.nComponents) || r.nComponents < 1) {
    throw usageError(`nComponents must be an integer >= 1, got ${r.nComponents}`);
  }
  checkChoice('covarianceType', r.covarianceType, COVARIANCE_TYPES);
  if (!(r.regCovar >= 0) || !Number.isFinite(r.regCovar))
    throw usageError(`regCovar must be a finite number >= 0, got ${r.regCovar}`);
  checkLoopOptions(r);
  if (typeof r.init === 'string') checkChoice('init', r.init, GMM_INIT_METHODS, ' or a model');
  return r;
}
