import type { BoundData } from '../backends/backend.js';
import { LazyBackend, type BackendChoice, type GpuOptions } from '../backends/select.js';
import { toMatrix, type Matrix, type MatrixInput } from '../data/matrix.js';
import { dataError, usageError } from '../errors.js';
import type { Matrix64 } from './gaussian-mixture.js';
import { kmeansPlusPlus, randomFromDataCentres } from './init.js';
import { checkLoopOptions } from './options.js';
import { Random } from '../core/random.js';

/** How to choose the initial centres. */
export type KMeansInit = 'kmeans++' | 'random';

/** Options of {@link KMeans}, named and defaulted as in scikit-learn. */
export interface KMeansOptions {
  /** Number of clusters K (>= 1). */
  nClusters: number;
  /** 'kmeans++' (default), 'random' (K distinct samples), centres `{ means }` (K x D), or a fitted KMeans. */
  init?: KMeansInit | { means: ArrayLike<number> | ArrayLike<ArrayLike<number>> } | KMeans;
  /** Most Lloyd iterations per initialisation; default 300. */
  maxIter?: number;
  /**
   * Stop when the squared centre shift, summed over centres, is at most tol times the mean
   * per-feature variance of the data (scikit-learn's rule); default 1e-4.
   */
  tol?: number;
  /** Initialisations; the one with the lowest inertia wins. Default 1. */
  nInit?: number;
  /** Seed of every random choice; default 0. */
  seed?: number;
  /** 'auto' (default), 'webgpu' or 'cpu'. */
  backend?: BackendChoice;
  device?: GPUDevice;
  adapter?: string;
}

/** What one Lloyd iteration reports. */
export interface KMeansIteration {
  readonly iteration: number;
  /** Inertia of the assignment this iteration made (to the centres it started from). */
  readonly inertia: number;
  /** Sum over centres of the squared distance each moved. */
  readonly centerShift: number;
  /** Clusters that lost every sample and were moved to far-away samples. */
  readonly relocated: number;
  readonly seconds: number;
}

type Resolved = Required<Omit<KMeansOptions, 'device' | 'adapter'>> & GpuOptions;

interface FitState {
  centres: Float64Array;
  inertia: number;
  nIter: number;
  converged: boolean;
  history: KMeansIteration[];
}

/**
 * k-means (hard EM, Lloyd's algorithm): the assignment to the nearest centre and the
 * per-cluster sums run on the backend (WebGPU or the float64 CPU reference); the centre update
 * runs in float64 on the host. Shaped like scikit-learn's `KMeans`.
 */
export class KMeans {
  readonly options: Readonly<Resolved>;
  private readonly backendHandle: LazyBackend;
  private state: FitState | null = null;
  private nFeaturesSeen = 0;
  /** The fit in progress and its data, so that dispose() can stop it. */
  private active: Promise<BoundData> | null = null;
  private activeBound: BoundData | null = null;

  constructor(options: KMeansOptions) {
    this.options = resolveOptions(options);
    this.backendHandle = new LazyBackend(this.options.backend, this.options);
  }

  /** Fits the centres to X; with nInit > 1 the lowest inertia wins. Resolves to this model. */
  async fit(
    x: MatrixInput,
    options: {
      signal?: AbortSignal;
      onIteration?: (r: KMeansIteration & { initIndex: number }) => void;
    } = {},
  ): Promise<this> {
    if (this.active) {
      throw usageError(
        'fit() was called while another fit() is still running on this KMeans; await it first, or use a second model to fit in parallel',
      );
    }
    const m = toMatrix(x);
    const pending = this.backendHandle.bind(m, { signal: options.signal });
    this.active = pending;
    try {
      const bound = await pending;
      try {
        if (this.active !== pending) throw disposedDuringFit();
        this.activeBound = bound;
        await this.fitBound(bound, m, options);
      } finally {
        bound.dispose();
      }
    } finally {
      this.active = null;
      this.activeBound = null;
    }
    return this;
  }

  /**
   * Fits to samples already on a backend (`bound` holds `m`); the caller keeps and frees them.
   * Lets a mixture's `init: 'kmeans'` reuse the data it uploaded.
   */
  async fitBound(
    bound: BoundData,
    m: Matrix,
    options: {
      signal?: AbortSignal;
      onIteration?: (r: KMeansIteration & { initIndex: number }) => void;
    } = {},
  ): Promise<void> {
    const k = this.options.nClusters;
    if (m.rows < k) {
      throw dataError(
        `X has ${m.rows} samples but nClusters = ${k}; need at least as many samples as clusters`,
      );
    }
    // Every limit of the backend for this K is checked here, before any seeding work.
    await bound.prepare(k, 'kmeans');
    const tolAbs = this.options.tol * meanVariance(m);
    const rng = new Random(this.options.seed);
    let best: FitState | null = null;
    for (let initIndex = 0; initIndex < this.options.nInit; initIndex++) {
      const centres = await this.initialCentres(bound, m, new Random(rng.fork()));
      const run = await this.lloyd(bound, m, centres, tolAbs, (r) => {
        options.signal?.throwIfAborted();
        options.onIteration?.({ ...r, initIndex });
      });
      if (!best || run.inertia < best.inertia) best = run;
    }
    this.state = best;
    this.nFeaturesSeen = m.cols;
  }

  private async lloyd(
    bound: BoundData,
    m: Matrix,
    start: Float64Array,
    tolAbs: number,
    report: (r: KMeansIteration) => void,
  ): Promise<FitState> {
    const k = this.options.nClusters;
    const d = m.cols;
    let centres = Float64Array.from(start, Math.fround);
    const history: KMeansIteration[] = [];
    let converged = false;
    for (let iter = 1; iter <= this.options.maxIter && !converged; iter++) {
      const started = performance.now();
      const stats = await bound.kmeansStatistics(centres, k);
      const next = new Float64Array(k * d);
      const empty: number[] = [];
      for (let c = 0; c < k; c++) {
        if (stats.counts[c] === 0) empty.push(c);
        for (let i = 0; i < d; i++) {
          next[c * d + i] =
            stats.counts[c] > 0
              ? centres[c * d + i] + stats.firstMoment[c * d + i] / stats.counts[c]
              : centres[c * d + i];
        }
      }
      if (empty.length > 0) await relocate(bound, m, centres, k, empty, next);
      for (let e = 0; e < next.length; e++) next[e] = Math.fround(next[e]);
      let shift = 0;
      for (let e = 0; e < next.length; e++) shift += (next[e] - centres[e]) ** 2;
      centres = next;
      // Unchanged labels give identical sums and so a shift of exactly 0.
      converged = shift <= tolAbs;
      const record = {
        iteration: iter,
        inertia: stats.inertia,
        centerShift: shift,
        relocated: empty.length,
        seconds: (performance.now() - started) / 1000,
      };
      history.push(record);
      report(record);
    }
    // The inertia of the final centres (scikit-learn reports it after a last assignment).
    const final = await bound.kmeansStatistics(centres, k);
    return { centres, inertia: final.inertia, nIter: history.length, converged, history };
  }

  /** Cluster centres, K x D. */
  get clusterCenters(): Matrix64 {
    const s = this.fitted();
    return { data: Float64Array.from(s.centres), rows: this.options.nClusters, cols: this.nFeaturesSeen };
  }

  /** Sum of squared distances of the training samples to their nearest centre. */
  get inertia(): number {
    return this.fitted().inertia;
  }

  /** Iterations run by the best initialisation. */
  get nIter(): number {
    return this.fitted().nIter;
  }

  /** Whether the centre shift fell within tol before maxIter. */
  get converged(): boolean {
    return this.fitted().converged;
  }

  /** One record per iteration of the best initialisation. */
  get history(): readonly KMeansIteration[] {
    return this.fitted().history;
  }

  /** The backend that ran the fit. */
  async backendName(): Promise<'webgpu' | 'cpu'> {
    return (await this.backendHandle.current()).name;
  }

  /** The adapter's description, or null on the CPU. */
  async adapterDescription(): Promise<string | null> {
    return (await this.backendHandle.current()).adapterDescription;
  }

  /** Nearest centre of each sample. */
  async predict(x: MatrixInput): Promise<Int32Array> {
    return (await this.assign(x, false)).labels;
  }

  /** Euclidean distances to every centre, N x K. */
  async transform(x: MatrixInput): Promise<Matrix64> {
    const a = await this.assign(x, true);
    const data = a.distances!.map(Math.sqrt);
    return { data, rows: a.labels.length, cols: this.options.nClusters };
  }

  /** Opposite of the inertia of X (scikit-learn's score). */
  async score(x: MatrixInput): Promise<number> {
    let s = 0;
    for (const v of (await this.assign(x, false)).minDistances) s += v;
    return -s;
  }

  /** Frees GPU resources; the centres stay readable (a later predict acquires a new backend). */
  dispose(): void {
    this.active = null;
    this.activeBound?.dispose();
    this.activeBound = null;
    this.backendHandle.dispose();
  }

  private async assign(x: MatrixInput, all: boolean) {
    const s = this.fitted();
    const m = toMatrix(x);
    if (m.cols !== this.nFeaturesSeen) {
      throw dataError(
        `X has ${m.cols} features but the centres have ${this.nFeaturesSeen}; pass data with ${this.nFeaturesSeen} columns`,
      );
    }
    const bound = await this.backendHandle.bind(m);
    try {
      return await bound.assign(s.centres, this.options.nClusters, { allDistances: all });
    } finally {
      bound.dispose();
    }
  }

  private async initialCentres(bound: BoundData, m: Matrix, rng: Random): Promise<Float64Array> {
    const { init, nClusters: k } = this.options;
    if (init instanceof KMeans) return centresOf(init.clusterCenters.data, k, m.cols);
    if (typeof init === 'object') return centresOf(init.means, k, m.cols);
    return init === 'random' ? randomFromDataCentres(m, k, rng) : kmeansPlusPlus(bound, m, k, rng);
  }

  private fitted(): FitState {
    if (!this.state) throw usageError('this KMeans is not fitted yet; call fit(X) first');
    return this.state;
  }
}

/**
 * Moves each empty cluster to a sample far from its centre, as scikit-learn does: the samples
 * with the largest distance to their nearest centre, one per empty cluster.
 */
async function relocate(
  bound: BoundData,
  m: Matrix,
  centres: Float64Array,
  k: number,
  empty: number[],
  next: Float64Array,
): Promise<void> {
  const { minDistances } = await bound.assign(centres, k, { allDistances: false });
  const order = Array.from(minDistances.keys()).sort((a, b) => minDistances[b] - minDistances[a] || a - b);
  empty.forEach((c, slot) => {
    const row = order[slot];
    for (let i = 0; i < m.cols; i++) next[c * m.cols + i] = m.data[row * m.cols + i];
  });
}

function centresOf(
  means: ArrayLike<number> | ArrayLike<ArrayLike<number>>,
  k: number,
  d: number,
): Float64Array {
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

function disposedDuringFit() {
  return usageError('the model was disposed during fit(); await fit() before dispose()');
}

/** Mean over features of the per-feature variance (scales tol as scikit-learn does). */
function meanVariance(m: Matrix): number {
  let total = 0;
  for (let i = 0; i < m.cols; i++) {
    let mean = 0;
    for (let r = 0; r < m.rows; r++) mean += m.data[r * m.cols + i];
    mean /= m.rows;
    let v = 0;
    for (let r = 0; r < m.rows; r++) v += (m.data[r * m.cols + i] - mean) ** 2;
    total += v / m.rows;
  }
  return total / m.cols;
}

function resolveOptions(o: KMeansOptions): Resolved {
  if (!o || typeof o !== 'object') throw usageError('KMeans needs an options object: { nClusters }');
  const r: Resolved = {
    nClusters: o.nClusters,
    init: o.init ?? 'kmeans++',
    maxIter: o.maxIter ?? 300,
    tol: o.tol ?? 1e-4,
    nInit: o.nInit ?? 1,
    seed: o.seed ?? 0,
    backend: o.backend ?? 'auto',
    device: o.device,
    adapter: o.adapter,
  };
  if (!Number.isInteger(r.nClusters) || r.nClusters < 1) {
    throw usageError(`nClusters must be an integer >= 1, got ${r.nClusters}`);
  }
  checkLoopOptions(r);
  if (typeof r.init === 'string' && !['kmeans++', 'random'].includes(r.init)) {
    throw usageError(`init must be 'kmeans++', 'random' or centres, got '${r.init}'`);
  }
  return r;
}
