import { KMEANS_INIT_METHODS, optionKeys } from '../core/names.js';
import {
  choice,
  integer,
  number,
  resolveSchema,
  type OptionsOf,
  type ResolvedOf,
} from '../core/option-schema.js';
import type { SampleWeightInput } from '../data/weights.js';
import type { KMeansIteration } from './lloyd.js';
import type { MeansInput } from './means-input.js';
import { GPU_BYTES_SCHEMA, RUN_SCHEMA } from './options.js';

/** Centres to start from: K x D values, nested or flat, or a matrix (`{ data, rows, cols }`). */
export type KMeansCentres = {
  readonly means: MeansInput;
};

/** A fitted k-means model to start from (a KMeans is one). */
export interface FittedCentres {
  readonly clusterCenters: { readonly data: ArrayLike<number> };
}

/** Every option of {@link KMeans}, declared once (see core/option-schema.ts). */
export const KMEANS_SCHEMA = {
  /** Number of clusters K (>= 1). */
  nClusters: integer({
    required: true,
    min: 1,
    cli: { flags: ['-k', '--n-clusters'] },
    help: 'number of clusters',
    sklearn: 'n_clusters',
  }),
  /** 'kmeans++' (default), 'random' (K distinct samples), centres `{ means }` (K x D), or a fitted KMeans. */
  init: choice<KMeansCentres | FittedCentres>()(KMEANS_INIT_METHODS, {
    default: 'kmeans++',
    orElse: ' or centres',
    cli: { flags: ['--init'] },
    help: 'how the centres start',
    sklearn: 'init',
    aliases: ['init_params'],
  }),
  /** Most Lloyd iterations per initialisation. */
  maxIter: integer({
    default: 300,
    min: 1,
    cli: { flags: ['--max-iter'] },
    help: 'most iterations per initialisation',
    sklearn: 'max_iter',
  }),
  /**
   * Stop when the squared centre shift, summed over centres, is at most tol times the mean
   * per-feature variance of the data, or when no label changed (scikit-learn's rules, the
   * second even with tol 0).
   */
  tol: number({
    default: 1e-4,
    min: 0,
    cli: { flags: ['--tol'] },
    help: 'stop when the centres shift by less, relative to the data variance',
    sklearn: 'tol',
  }),
  ...RUN_SCHEMA,
  ...GPU_BYTES_SCHEMA,
} as const;

/**
 * Options of {@link KMeans}, named and defaulted as in scikit-learn, except `nInit` (1 for every
 * `init`; scikit-learn's 'auto' runs 10 for 'random') and `seed` (0; scikit-learn's None draws
 * anew). Each option's default and range: docs/options.md.
 */
// An interface (not a type alias) so that the API reference lists each option with its doc comment.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface KMeansOptions extends OptionsOf<typeof KMEANS_SCHEMA> {}

/** The options with their defaults filled in. */
export type ResolvedKMeansOptions = ResolvedOf<typeof KMEANS_SCHEMA>;

/** Fills in the defaults and checks every option; each mistake is a usage error naming it. */
export function resolveKMeansOptions(o: KMeansOptions): ResolvedKMeansOptions {
  return resolveSchema('KMeans', KMEANS_SCHEMA, o);
}

/** Options of {@link KMeans.fit}. */
export interface KMeansFitOptions {
  /** Aborts the fit between passes of the backend. */
  signal?: AbortSignal;
  /** Called after every iteration. */
  onIteration?: (r: KMeansIteration & { initIndex: number }) => void;
  /**
   * One weight per sample (finite, >= 0): an integer weight gives the fit of that sample
   * repeated that many times, a zero weight the fit without it (centres, inertia, k-means++).
   */
  sampleWeight?: SampleWeightInput | null;
  /**
   * Keep the cluster of every training sample (`labels`), from one assignment pass at the end of
   * the fit; default true. False saves that pass.
   */
  labels?: boolean;
}

/** Every fit option's name; unknown keys are refused. */
export const KMEANS_FIT_OPTIONS = optionKeys<KMeansFitOptions>({
  signal: true,
  onIteration: true,
  sampleWeight: true,
  labels: true,
});
