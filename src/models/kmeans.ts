import type { Assignments, BoundData, ViewLabels } from '../backends/backend.js';
import { checkOptionKeys, type KMeansInit } from '../core/names.js';
import { Random } from '../core/random.js';
import { toMatrix, type Matrix, type MatrixInput } from '../data/matrix.js';
import { isGpuRows, isRowSource, type DataInput } from '../data/row-source.js';
import { concatResults, STREAM_SEED, type OpenedData } from './streamed-data.js';
import { dataError, usageError } from '../errors.js';
import { kmeansPlusPlus, randomFromDataCentres } from './init.js';
import { isMatrixLike, meansArray, type MeansInput } from './means-input.js';
import { LloydRun, type FitState, type KMeansIteration } from './lloyd.js';
import { positiveRows, sampleWeights, WEIGHT_OPTIONS, type WeightOptions } from '../data/weights.js';
import { IterativeModel } from './model-base.js';
import { frozenRecords, Matrix64 } from './results.js';
import { centresToJson, readModelJson } from './model-json.js';
import { KMEANS_FORMAT } from './model-file.js';
import {
  KMEANS_FIT_OPTIONS,
  resolveKMeansOptions,
  type KMeansFitOptions,
  type KMeansOptions,
  type ResolvedKMeansOptions,
} from './kmeans-options.js';

export type { KMeansInit, KMeansFitOptions, KMeansOptions };
export type { KMeansIteration };

/** What a fit keeps: restored when a fit fails, compared between restarts. */
interface KMeansFit {
  state: FitState | null;
  nFeatures: number;
  labels: Int32Array | null;
}

/**
 * k-means (hard EM, Lloyd's algorithm): the assignment to the nearest centre and the
 * per-cluster sums run on the backend (WebGPU or the float64 CPU reference); the centre update
 * runs in float64 on the host. Shaped like scikit-learn's `KMeans`.
 */
export class KMeans extends IterativeModel<KMeansIteration, LloydRun, KMeansFit> {
  readonly options: ResolvedKMeansOptions;
  private state: FitState | null = null;
  private nFeaturesSeen = 0;

  constructor(options: KMeansOptions) {
    const resolved = resolveKMeansOptions(options);
    super(resolved.backend, resolved, 'KMeans', 'kmeans', resolved.nClusters, resolved.seed);
    this.options = resolved;
  }

  /**
   * A model saved by {@link toJSON} (its object or JSON text, or a result object with a `model`
   * field), ready to predict without a fit; `inertia` is then unknown until the next fit. A model
   * in another format is refused with a message naming both.
   */
  static fromJSON(
    json: unknown,
    options: Omit<KMeansOptions, 'nClusters'> = {},
    source = 'KMeans.fromJSON',
  ): KMeans {
    const spec = readModelJson(json, KMEANS_FORMAT, source);
    const km = new KMeans({ ...options, nClusters: spec.nComponents, init: { means: spec.means } });
    km.state = { centres: spec.means, inertia: NaN, nIter: 0, converged: false, history: [] };
    km.nFeaturesSeen = spec.nFeatures;
    km.featureNames = spec.columns;
    return km;
  }

  /** The model as a `webgpu-em/kmeans@1` object (centres, and `columns` when {@link featureNames} is set). */
  toJSON(): Record<string, unknown> {
    return centresToJson(this.fitted().centres, this.nFeaturesSeen, this.featureNames);
  }

  /** Fits the centres to X and returns the cluster of each sample (a copy of the labels, yours). */
  async fitPredict(x: MatrixInput, options: Parameters<KMeans['fit']>[1] = {}): Promise<Int32Array> {
    await this.fit(x, options);
    return this.labels.slice();
  }

  /** Fits the centres to X; with nInit > 1 the lowest inertia wins. Resolves to this model. */
  async fit(x: DataInput, options: KMeansFitOptions = {}): Promise<this> {
    checkOptionKeys('fit()', options, KMEANS_FIT_OPTIONS);
    return this.exclusive('fit()', async () => {
      // Samples left bound by initialize() were bound without this fit's signal: bind afresh.
      this.releaseOwnedSamples();
      // A row source: initialisation on its seeded sample, Lloyd passes over the whole of it.
      const k = this.options.nClusters;
      const seed = this.options.seed ^ STREAM_SEED;
      const stream = isRowSource(x) || isGpuRows(x) ? await this.openStream(x, k, seed, options) : null;
      const m = stream ? stream.scan.sample : toMatrix(x as MatrixInput);
      const weights = stream ? stream.scan.sampleWeights : sampleWeights(options.sampleWeight, m.rows);
      try {
        await this.restartLoop(
          this.options.nInit,
          options,
          () => this.start(m, weights, options.signal, stream ?? undefined),
          // The labels of the final centres (scikit-learn's labels_), on the samples still bound.
          async (best) =>
            stream || options.labels === false
              ? null
              : (
                  await this.withSamples(m, (data) =>
                    data.assign(best.state!.centres, k, { allDistances: false }),
                  )
                ).labels,
        );
      } finally {
        stream?.data.dispose();
      }
      return this;
    });
  }

  /**
   * Starts a stepwise fit: binds X to the backend (once: the samples stay bound until another
   * X, the end of a fit or dispose) and draws the initial centres (the next draw of the seeded
   * stream, so repeated calls give the nInit restarts). Follow with {@link step} until {@link done}.
   */
  async initialize(x: MatrixInput, options: WeightOptions = {}): Promise<void> {
    checkOptionKeys('initialize()', options, WEIGHT_OPTIONS);
    await this.exclusive('initialize()', () => {
      const m = toMatrix(x);
      return this.start(m, sampleWeights(options.sampleWeight, m.rows));
    });
  }

  /**
   * Runs one Lloyd iteration of the fit started by {@link initialize}. After it the model holds
   * the run's centres (clusterCenters, predict, toJSON), as a mixture holds its parameters after
   * each step; `inertia` is known once the run is done.
   */
  override async step(): Promise<KMeansIteration> {
    return this.exclusive('step()', async () => {
      const record = await this.stepNow();
      this.show(this.liveRun());
      return record;
    });
  }

  protected viewLabels(): ViewLabels | null {
    return this.run || this.state ? { kind: 'kmeans', k: this.options.nClusters } : null;
  }

  private async start(
    m: Matrix,
    weights: Float64Array | null,
    signal?: AbortSignal,
    /** Streamed data the Lloyd passes run on (initialisation runs on `m`, its sample). */
    stream?: OpenedData,
  ): Promise<void> {
    const k = this.options.nClusters;
    const rows = positiveRows(m, weights);
    if (rows < k) {
      throw dataError(
        `X has ${rows} samples${weights ? ' of positive weight' : ''} but nClusters = ${k}; need at least as many samples as clusters`,
      );
    }
    this.run = null;
    const data = await this.bindSamples(m, weights, signal);
    try {
      // Every limit of the backend for this K is checked here, before any seeding work.
      await data.prepare(k, 'kmeans');
      const centres = await this.initialCentres(data, m, this.nextInitStream());
      const tolAbs = this.options.tol * (stream?.scan.meanVariance ?? meanVariance(m, data.weights));
      const farthest = stream && ((c: Float64Array, n: number) => stream.farthest(c, k, n));
      this.run = new LloydRun(stream?.data ?? data, m, centres, k, this.options.maxIter, tolAbs, farthest);
    } catch (error) {
      this.releaseOwnedSamples();
      throw error;
    }
  }

  protected took(run: LloydRun): void {
    // A fit shows its run once done: inertia is known then.
    if (run.done) this.show(run);
  }

  private show(run: LloydRun): void {
    this.state = run.state;
    this.nFeaturesSeen = run.centres.length / this.options.nClusters;
  }

  protected saveFit(): KMeansFit {
    return { state: this.state, nFeatures: this.nFeaturesSeen, labels: this.fitLabels };
  }

  protected restoreFit(saved: KMeansFit): void {
    this.state = saved.state;
    this.nFeaturesSeen = saved.nFeatures;
    this.fitLabels = saved.labels;
  }

  protected objective(saved: KMeansFit): number {
    return -saved.state!.inertia;
  }

  /** Cluster centres, K x D (frozen, `data` read-only; the same object until the next step or fit). */
  get clusterCenters(): Matrix64 {
    const s = this.fitted();
    const make = () =>
      new Matrix64(Float64Array.from(s.centres), this.options.nClusters, this.nFeaturesSeen, true);
    return this.results.get('clusterCenters', s, make);
  }

  /** Sum of squared distances of the training samples to their nearest centre. */
  get inertia(): number {
    const { inertia } = this.fitted();
    if (Number.isNaN(inertia)) {
      throw usageError(
        'inertia is known after fit(X) only (this KMeans was loaded from a model); use score(X)',
      );
    }
    return inertia;
  }

  /** Iterations run by the best initialisation. */
  get nIter(): number {
    return this.fitted().nIter;
  }

  /** Whether the centre shift fell within tol before maxIter. */
  get converged(): boolean {
    return this.fitted().converged;
  }

  /** One record per iteration of the best initialisation (frozen). */
  get history(): readonly KMeansIteration[] {
    const s = this.fitted();
    return this.results.get('history', s, () => frozenRecords(s.history));
  }

  /** Nearest centre of each sample. */
  async predict(x: DataInput): Promise<Int32Array> {
    return (await this.assign(x, false)).labels;
  }

  /** Euclidean distances to every centre, N x K. */
  async transform(x: DataInput): Promise<Matrix64> {
    const a = await this.assign(x, true);
    const data = a.distances!.map(Math.sqrt);
    return new Matrix64(data, a.labels.length, this.options.nClusters);
  }

  /** Opposite of the inertia of X (scikit-learn's score). */
  async score(x: DataInput): Promise<number> {
    let s = 0;
    for (const v of (await this.assign(x, false)).minDistances) s += v;
    return -s;
  }

  /** Minus the squared distance of each sample to its nearest centre (score(X) is their sum). */
  async scoreSamples(x: DataInput): Promise<Float64Array> {
    return Float64Array.from((await this.assign(x, false)).minDistances, (v) => -v);
  }

  private async assign(x: DataInput, all: boolean): Promise<Assignments> {
    const s = this.fitted();
    if (isRowSource(x)) {
      const parts = await this.mapChunks(x, this.options.nClusters, (c) => this.assign(c.matrix, all));
      return {
        labels: concatResults(
          parts.map((a) => a.labels),
          Int32Array,
        ),
        minDistances: concatResults(
          parts.map((a) => a.minDistances),
          Float64Array,
        ),
        distances: all
          ? concatResults(
              parts.map((a) => a.distances!),
              Float64Array,
            )
          : null,
      };
    }
    const cols = isGpuRows(x) ? x.cols : null;
    const m = isGpuRows(x) ? null : toMatrix(x);
    const d = cols ?? m!.cols;
    if (d !== this.nFeaturesSeen) {
      throw dataError(
        `X has ${d} features but the centres have ${this.nFeaturesSeen}; pass data with ${this.nFeaturesSeen} columns`,
      );
    }
    if (isGpuRows(x)) {
      return this.withGpuRows(x, (data) =>
        data.assign(s.centres, this.options.nClusters, { allDistances: all }),
      );
    }
    return this.withSamples(m!, (data) =>
      data.assign(s.centres, this.options.nClusters, { allDistances: all }),
    );
  }

  private async initialCentres(bound: BoundData, m: Matrix, rng: Random): Promise<Float64Array> {
    const { init, nClusters: k } = this.options;
    if (typeof init === 'object') {
      // A fitted KMeans's clusterCenters is a matrix: its shape is checked as given means' is.
      if ('means' in init) return centresOf(init.means, k, m.cols);
      const fitted = init.clusterCenters;
      return centresOf(isMatrixLike(fitted) ? fitted : fitted.data, k, m.cols, 'init.clusterCenters');
    }
    return init === 'random'
      ? randomFromDataCentres(m, k, rng, bound.weights)
      : kmeansPlusPlus(bound, m, k, rng);
  }

  private fitted(): FitState {
    if (!this.state) throw usageError('this KMeans is not fitted yet; call fit(X) first');
    return this.state;
  }
}

/** Given centres as K x D float64, checked finite (a matrix's shape is checked as K x D too). */
function centresOf(given: MeansInput, k: number, d: number, what = 'init.means'): Float64Array {
  const means = meansArray(given, k, d, what, 'nClusters x nFeatures');
  const flat: number[] = [];
  for (let r = 0; r < means.length; r++) {
    const row = means[r];
    if (typeof row === 'number') flat.push(row);
    else for (let i = 0; i < row.length; i++) flat.push(row[i]);
  }
  if (flat.length !== k * d) {
    throw dataError(
      `the initial centres have ${flat.length} values but nClusters x nFeatures = ${k} x ${d} = ${k * d}`,
    );
  }
  flat.forEach((v, i) => {
    if (!Number.isFinite(v)) throw dataError(`initial centre value ${i} is ${v}; centres must be finite`);
  });
  return Float64Array.from(flat);
}

/**
 * Mean over features of the per-feature variance (scales tol as scikit-learn does); weighted,
 * so that weights give the tolerance of the duplicated samples.
 */
function meanVariance(m: Matrix, weights: Float64Array | null): number {
  let total = 0;
  let wsum = 0;
  for (let r = 0; r < m.rows; r++) wsum += weights ? weights[r] : 1;
  for (let i = 0; i < m.cols; i++) {
    let mean = 0;
    for (let r = 0; r < m.rows; r++) mean += (weights ? weights[r] : 1) * m.data[r * m.cols + i];
    mean /= wsum;
    let v = 0;
    for (let r = 0; r < m.rows; r++) v += (weights ? weights[r] : 1) * (m.data[r * m.cols + i] - mean) ** 2;
    total += v / wsum;
  }
  return total / m.cols;
}
