import type { BackendChoice, CovarianceType } from '../core/names.js';
import type { Matrix } from '../data/matrix.js';
import { dataError, WebGpuEmError } from '../errors.js';
import { BGMM_FORMAT, GMM_FORMAT, KMEANS_FORMAT, parseModel } from './model-file.js';
import { BayesianGaussianMixture } from './bayesian-mixture.js';
import { GaussianMixture } from './gaussian-mixture.js';
import { KMeans } from './kmeans.js';
import { plainArray, type Matrix64 } from './results.js';
import { kmeansHash, mixtureHash } from './parameter-hash.js';
import type { StatisticsShard } from './shard-statistics.js';
import type { ShardStatistics } from './statistics-records.js';

// Every model format in one place: predict, score, sample and info ask this table, so a new
// kind of model plugs into them by adding its entry.

/** How a saved model is loaded. */
export interface LoadOptions {
  readonly backend?: BackendChoice;
  readonly adapter?: string;
  /** Seed of `sample`. */
  readonly seed?: number;
  /** The file name, for messages. */
  readonly source: string;
}

/** A saved model, loaded: what the commands that apply a model need of it. */
export interface LoadedModel {
  readonly format: string;
  /** One line for `info`: what the model is. */
  readonly description: string;
  readonly nFeatures: number;
  readonly nComponents: number;
  readonly featureNames: readonly string[] | null;
  predict(x: Matrix): Promise<Int32Array>;
  /** N x K probabilities of each component; null for a kind that has none. */
  readonly predictProba: ((x: Matrix) => Promise<Matrix64>) | null;
  /** The per-sample score, which `score` combines as {@link scoreBy} says. */
  scoreSamples(x: Matrix): Promise<Float64Array>;
  /**
   * How the model's `score(X)` combines the per-sample scores, and so the `score` command: the
   * mixtures' mean log-likelihood, k-means' sum (minus the inertia), as in scikit-learn.
   */
  readonly scoreBy: 'mean' | 'sum';
  /** What `score` prints, for `info`. */
  readonly scoreName: string;
  /** Draws n samples (seeded); null for a kind that is not a distribution. */
  readonly sample: ((n: number) => { x: Matrix64; labels: Int32Array }) | null;
  /** The same draws, at most `chunkRows` at a time (n too large to hold); null as `sample`. */
  readonly sampleChunks:
    ((n: number, chunkRows: number) => Iterable<{ x: Matrix64; labels: Int32Array }>) | null;
  /**
   * The model's parameters as the E-step of distributed EM sees them (`stats`, `mstep`); null
   * for a model whose fit is not an M-step of merged statistics (the variational mixture).
   */
  readonly statistics: ModelStatistics | null;
  backendName(): Promise<string>;
  dispose(): void;
}

/** How a saved model's parameters are evaluated over a shard as mergeable statistics. */
export interface ModelStatistics {
  /** What the shard is bound for (the GPU's limits differ by covariance family and k-means). */
  readonly use: CovarianceType | 'kmeans';
  /** The hash that statistics computed under these parameters carry. */
  readonly parameterHash: string;
  /** The model's covariance regularisation (null for k-means). */
  readonly regCovar: number | null;
  /** One pass over the shard under these parameters. */
  of(shard: StatisticsShard): Promise<ShardStatistics>;
}

/** A model format: its name (with its version) and how to load it. */
export interface ModelFormat {
  readonly format: string;
  load(json: unknown, options: LoadOptions): LoadedModel;
}

const gpu = (o: LoadOptions) => ({
  ...(o.backend ? { backend: o.backend } : {}),
  ...(o.adapter ? { adapter: o.adapter } : {}),
  ...(o.seed !== undefined ? { seed: o.seed } : {}),
});

/** What the two mixture models have in common as a loaded model. */
function loadedMixture(
  m: GaussianMixture | BayesianGaussianMixture,
  own: Pick<LoadedModel, 'format' | 'description' | 'scoreName' | 'statistics'>,
): LoadedModel {
  const p = m.parameters;
  return {
    ...own,
    scoreBy: 'mean',
    nFeatures: p.nFeatures,
    nComponents: p.nComponents,
    featureNames: m.featureNames,
    predict: (x) => m.predict(x),
    predictProba: (x) => m.predictProba(x),
    scoreSamples: (x) => m.scoreSamples(x),
    sample: (n) => m.sample(n),
    sampleChunks: (n, chunkRows) => m.sampleChunks(n, chunkRows),
    backendName: () => m.backendName(),
    dispose: () => m.dispose(),
  };
}

/** The formats this version reads and writes. */
export const MODEL_FORMATS: readonly ModelFormat[] = [
  {
    format: GMM_FORMAT,
    load(json, o) {
      const m = GaussianMixture.fromJSON(json, gpu(o), o.source);
      const p = m.parameters;
      return loadedMixture(m, {
        format: GMM_FORMAT,
        description: `Gaussian mixture, ${p.nComponents} components, '${p.covarianceType}' covariances`,
        scoreName: 'the mean log-likelihood per row',
        statistics: {
          use: p.covarianceType,
          parameterHash: mixtureHash(p),
          regCovar: m.options.regCovar,
          of: (shard) => shard.mixture(p),
        },
      });
    },
  },
  {
    format: BGMM_FORMAT,
    load(json, o) {
      const m = BayesianGaussianMixture.fromJSON(json, gpu(o), o.source);
      const p = m.parameters;
      return loadedMixture(m, {
        format: BGMM_FORMAT,
        description: `Bayesian Gaussian mixture (${p.weightConcentrationPriorType}), ${p.nComponents} components at most, '${p.covarianceType}' covariances`,
        scoreName: 'the mean log-likelihood per row under the posterior expectations',
        statistics: null,
      });
    },
  },
  {
    format: KMEANS_FORMAT,
    load(json, o) {
      const m = KMeans.fromJSON(json, gpu(o), o.source);
      const centres = m.clusterCenters;
      return {
        format: KMEANS_FORMAT,
        description: `k-means, ${centres.rows} clusters`,
        nFeatures: centres.cols,
        nComponents: centres.rows,
        featureNames: m.featureNames,
        predict: (x) => m.predict(x),
        predictProba: null,
        scoreSamples: (x) => m.scoreSamples(x),
        scoreBy: 'sum',
        scoreName: 'minus the inertia: the sum over rows of the squared distance to the nearest centre',
        sample: null,
        sampleChunks: null,
        statistics: {
          use: 'kmeans',
          parameterHash: kmeansHash(plainArray(centres.data), centres.rows, centres.cols),
          regCovar: null,
          of: (shard) => shard.kmeans(plainArray(centres.data)),
        },
        backendName: () => m.backendName(),
        dispose: () => m.dispose(),
      };
    },
  },
];

/** Loads a saved model of any registered format (checked in full by the format's reader). */
export function loadModel(json: unknown, options: LoadOptions): LoadedModel {
  const { format } = parseModel(json, options.source);
  const entry = MODEL_FORMATS.find((f) => f.format === format);
  if (!entry) {
    throw dataError(
      `${options.source}: no reader for model format ${format}; this version reads ${MODEL_FORMATS.map((f) => f.format).join(', ')}`,
    );
  }
  return entry.load(json, options);
}

/** A loaded model's statistics for `stats` and `mstep`, or a usage error naming what to use instead. */
export function mergeableStatistics(model: LoadedModel, source: string): ModelStatistics {
  if (model.statistics) return model.statistics;
  throw new WebGpuEmError(
    'usage',
    `${source}: a ${model.format} model has no mergeable statistics (its update is not an M-step of summed statistics); give a gmm or kmeans model`,
  );
}
