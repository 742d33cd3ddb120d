import type { BoundData } from '../backends/backend.js';
import { LazyBackend, type GpuOptions } from '../backends/select.js';
import { family } from '../core/families.js';
import {
  BACKEND_CHOICES,
  checkChoice,
  checkOptionKeys,
  COVARIANCE_TYPES,
  optionKeys,
  type BackendChoice,
  type CovarianceType,
} from '../core/names.js';
import { toMatrix, type Matrix, type MatrixInput } from '../data/matrix.js';
import { sampleWeights, weightTotal, type SampleWeightInput } from '../data/weights.js';
import { dataError } from '../errors.js';
import { shiftsFor, toComponentParameters, type GmmParameters } from './gmm-parameters.js';
import { kmeansHash, mixtureHash } from './parameter-hash.js';
import { farthestSamples } from './statistics-m-step.js';
import {
  STATISTICS_FORMAT,
  type KMeansShardStatistics,
  type MixtureShardStatistics,
} from './statistics-records.js';

// Sharded EM: a shard of the data evaluated under given parameters gives mergeable sums. The
// records, their merge, the M-steps from them and the parameter hash have a module each; this
// one, the feature's entry point, re-exports them for the package and the command line.
export {
  STATISTICS_FORMAT,
  type KMeansShardStatistics,
  type MixtureShardStatistics,
  type ShardStatistics,
} from './statistics-records.js';
export { checkMergeable, mergeStatistics } from './statistics-merge.js';
export { kmeansMStep, mixtureMStep } from './statistics-m-step.js';

/** Options of {@link StatisticsShard.create}. */
export interface ShardOptions {
  /** 'auto' (default), 'webgpu' or 'cpu'. */
  backend?: BackendChoice;
  device?: GPUDevice;
  adapter?: string;
  /** One weight per row of the shard (finite, >= 0), as `fit(X, { sampleWeight })`. */
  sampleWeight?: SampleWeightInput | null;
  /** What the shard will be evaluated for: a covariance family or 'kmeans' (the GPU's limits differ); default 'full'. */
  use?: CovarianceType | 'kmeans';
}

const SHARD_OPTIONS = optionKeys<ShardOptions>({
  backend: true,
  device: true,
  adapter: true,
  sampleWeight: true,
  use: true,
});

/**
 * One shard of the data bound to a backend once (the GPU, the CPU reference), evaluated under
 * parameters as often as needed: each call is one pass over the shard.
 *
 * ```ts
 * const shard = await StatisticsShard.create(rows, { backend: 'webgpu' });
 * const stats = await shard.mixture(gmm.parameters); // send statisticsToJSON(stats) anywhere
 * ```
 */
export class StatisticsShard {
  private constructor(
    private readonly matrix: Matrix,
    private readonly backend: LazyBackend | null,
    /** null: every weight is 0, so the shard adds nothing (and is bound nowhere). */
    private readonly data: BoundData | null,
  ) {}

  /**
   * Binds X (and its weights) to the chosen backend. Weights that are all 0 leave every row out:
   * the shard's statistics are then zero sums (of its rows and weight 0), which add nothing to a merge.
   */
  static async create(x: MatrixInput, options: ShardOptions = {}): Promise<StatisticsShard> {
    checkOptionKeys('StatisticsShard', options, SHARD_OPTIONS);
    const use = options.use ?? 'full';
    checkChoice('use', use, [...COVARIANCE_TYPES, 'kmeans']);
    const matrix = toMatrix(x);
    if (allZero(options.sampleWeight, matrix.rows)) return new StatisticsShard(matrix, null, null);
    const weights = sampleWeights(options.sampleWeight, matrix.rows);
    const gpu: GpuOptions = { device: options.device, adapter: options.adapter };
    const backend = new LazyBackend(options.backend ?? BACKEND_CHOICES[0], gpu);
    try {
      return new StatisticsShard(matrix, backend, await backend.bind(matrix, { purpose: use, weights }));
    } catch (error) {
      backend.dispose();
      throw error;
    }
  }

  /** The E-step sums of a mixture with these parameters over the shard. */
  async mixture(
    params: GmmParameters | { readonly parameters: GmmParameters },
  ): Promise<MixtureShardStatistics> {
    const p = 'parameters' in params ? params.parameters : params;
    this.checkFeatures(p.nFeatures);
    const shifts = shiftsFor(p);
    const { nComponents: k, nFeatures: d } = p;
    const second = family(p.covarianceType).secondMoments(d);
    const s = this.data
      ? await this.data.sufficientStatistics(toComponentParameters(p), shifts)
      : {
          weightSum: 0,
          logLikelihoodSum: 0,
          nk: new Float64Array(k),
          firstMoment: new Float64Array(k * d),
          secondMoment: new Float64Array(k * second),
        };
    return {
      format: STATISTICS_FORMAT,
      kind: 'mixture',
      covarianceType: p.covarianceType,
      nComponents: p.nComponents,
      nFeatures: p.nFeatures,
      parameterHash: mixtureHash(p),
      shifts,
      rows: this.matrix.rows,
      weightSum: s.weightSum,
      logLikelihoodSum: s.logLikelihoodSum,
      nk: Float64Array.from(s.nk),
      firstMoment: Float64Array.from(s.firstMoment),
      secondMoment: Float64Array.from(s.secondMoment),
    };
  }

  /**
   * One Lloyd assignment of the shard to these centres (K x D, flat or nested): the sums, and
   * the K samples farthest from their centre (a second pass over the shard in the same call).
   */
  async kmeans(centres: ArrayLike<number> | ArrayLike<ArrayLike<number>>): Promise<KMeansShardStatistics> {
    const c = flatCentres(centres, this.matrix.cols);
    const k = c.length / this.matrix.cols;
    // A shard of weight 0 (bound to no backend) adds nothing: zero sums, no farthest samples.
    const s = this.data
      ? await this.data.kmeansStatistics(c, k)
      : { inertia: 0, changed: 0, counts: new Float64Array(k), firstMoment: new Float64Array(c.length) };
    const farthest = this.data
      ? farthestSamples(
          this.matrix,
          this.data.weights,
          (await this.data.assign(c, k, { allDistances: false })).minDistances,
          k,
        )
      : { distances: new Float64Array(0), samples: new Float64Array(0) };
    return {
      format: STATISTICS_FORMAT,
      kind: 'kmeans',
      nClusters: k,
      nFeatures: this.matrix.cols,
      parameterHash: kmeansHash(c, k, this.matrix.cols),
      shifts: c,
      rows: this.matrix.rows,
      weightSum: this.data ? weightTotal(this.data.weights, this.data.rows) : 0,
      inertia: s.inertia,
      changed: s.changed,
      counts: Float64Array.from(s.counts),
      firstMoment: Float64Array.from(s.firstMoment),
      farthest,
    };
  }

  /** Frees the shard on its backend. */
  dispose(): void {
    this.data?.dispose();
    this.backend?.dispose();
  }

  private checkFeatures(d: number): void {
    if (d !== this.matrix.cols) {
      throw dataError(`the parameters have D = ${d} features but the shard has ${this.matrix.cols} columns`);
    }
  }
}

/** Weights given for every row and each exactly 0 (anything else is checked as sampleWeight). */
function allZero(input: SampleWeightInput | null | undefined, rows: number): boolean {
  if (input == null || typeof input !== 'object' || input.length !== rows || rows === 0) return false;
  for (let r = 0; r < rows; r++) if (input[r] !== 0) return false;
  return true;
}

function flatCentres(centres: ArrayLike<number> | ArrayLike<ArrayLike<number>>, d: number): Float64Array {
  const flat: number[] = [];
  const nested = centres.length > 0 && typeof centres[0] !== 'number';
  for (let r = 0; r < centres.length; r++) {
    const row = centres[r];
    if ((typeof row === 'number') === nested || (typeof row !== 'number' && row.length !== d)) {
      throw dataError(
        `centres[${r}] is not ${nested ? `a row of ${d} numbers` : 'a number'}; give K rows of ${d} numbers, or K x ${d} numbers flat`,
      );
    }
    if (typeof row === 'number') flat.push(row);
    else for (let i = 0; i < row.length; i++) flat.push(row[i]);
  }
  if (flat.length === 0 || flat.length % d !== 0 || flat.some((v) => !Number.isFinite(v))) {
    throw dataError(
      `the centres must be K x ${d} finite numbers (the shard's columns); got ${flat.length} values`,
    );
  }
  return Float64Array.from(flat);
}
