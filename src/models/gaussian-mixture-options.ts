import { optionKeys, type CovarianceType, type InitMethod } from '../core/names.js';
import { integer, resolveSchema, type OptionsOf, type ResolvedOf } from '../core/option-schema.js';
import { WEIGHT_OPTIONS, type SampleWeightInput, type WeightOptions } from '../data/weights.js';
import type { IterationRecord } from './em.js';
import type { GmmParameters } from './gmm-parameters.js';
import type { InitialLabels } from './init-labels.js';
import type { InitialModel } from './init.js';
import { GPU_BYTES_SCHEMA, MIXTURE_SCHEMA, mixtureInit, RUN_SCHEMA } from './options.js';

export type { CovarianceType, InitMethod };

/** A fitted mixture to start from (a GaussianMixture is one). */
export interface FittedMixture {
  readonly parameters: GmmParameters;
}

/** Every option of {@link GaussianMixture}, declared once (see core/option-schema.ts). */
export const GAUSSIAN_MIXTURE_SCHEMA = {
  /** Number of mixture components K (>= 1). */
  nComponents: integer({
    required: true,
    min: 1,
    cli: { flags: ['-k', '--n-components'] },
    help: 'number of components',
    sklearn: 'n_components',
  }),
  ...MIXTURE_SCHEMA,
  /**
   * Initialisation: 'kmeans++' (default: k-means++ centres, then each sample's nearest), 'kmeans'
   * (a k-means run's clusters, scikit-learn's default), 'random' (random responsibilities),
   * 'random-from-data' (K samples as centres), a model to start from exactly, or `{ labels }`:
   * one label in [0, K) per sample, the M-step of those hard assignments (to compare runs from
   * the same start exactly).
   */
  init: mixtureInit<InitialModel | FittedMixture | InitialLabels>(' or a model'),
  ...RUN_SCHEMA,
  ...GPU_BYTES_SCHEMA,
} as const;

/**
 * Options of {@link GaussianMixture}, named, defaulted and meant as in scikit-learn, except
 * `init` ('kmeans++' here, 'kmeans' there) and `seed` (0; scikit-learn's None draws anew). Each
 * option's default and range: docs/options.md.
 */
// An interface (not a type alias) so that the API reference lists each option with its doc comment.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface GaussianMixtureOptions extends OptionsOf<typeof GAUSSIAN_MIXTURE_SCHEMA> {}

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
export type ResolvedMixtureOptions = ResolvedOf<typeof GAUSSIAN_MIXTURE_SCHEMA>;

/** Fills in the defaults and checks every option; each mistake is a usage error naming it. */
export function resolveMixtureOptions(o: GaussianMixtureOptions): ResolvedMixtureOptions {
  return resolveSchema('GaussianMixture', GAUSSIAN_MIXTURE_SCHEMA, o);
}
