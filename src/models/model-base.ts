/// <reference lib="esnext.disposable" preserve="true" />
import type { BoundData, DataUse, RenderView, ViewLabels } from '../backends/backend.js';
import { LazyBackend, type GpuOptions } from '../backends/select.js';
import type { BackendChoice, BackendName } from '../core/names.js';
import type { Matrix, MatrixInput } from '../data/matrix.js';
import { usageError, WebGpuEmError } from '../errors.js';
import { Random } from '../core/random.js';
import type { CheckedChunk, GpuRows, RowSource } from '../data/row-source.js';
import { openGpuRows } from './gpu-rows.js';
import { mapSource, openSource, type OpenedData } from './streamed-data.js';
import { readOnlyArray, ResultCache } from './results.js';

/**
 * Samples already on a backend: `data` holds `matrix`. The one who bound them frees them; a
 * model given them (a mixture's k-means initialisation, the candidates of a model selection)
 * runs every pass on them instead of uploading the samples again.
 */
export interface BoundSamples {
  readonly matrix: Matrix;
  readonly data: BoundData;
}

/** The progress callback and stop signal of a fit, as every model's fit options name them. */
interface LoopOptions<Iteration> {
  signal?: AbortSignal;
  onIteration?: (record: Iteration & { initIndex: number }) => void;
}

/**
 * What every iterative model shares: the backend handle, the samples bound once per fit (every
 * restart and every pass of the fit reuses them), one fit at a time, `dispose`, the stepwise
 * API (`initialize`, `step`, `done`) and the restart loop that `fit` is (keep the best restart,
 * leave the model as it was when the fit fails). A model supplies its start, its run (one
 * iteration per step) and what a fit of it keeps (`Saved`).
 */
export abstract class IterativeModel<
  Iteration,
  Run extends {
    /** True once the run has converged or run maxIter iterations. */
    readonly done: boolean;
    /** Runs one iteration. */
    step(): Promise<Iteration>;
  },
  Saved,
> {
  /** Created on first use; a model that only ever gets bound samples never creates one. */
  protected readonly backendHandle: LazyBackend;
  /** The samples of the fit in progress (or of the last initialize), and whether we bound them. */
  private samples: (BoundSamples & { owned: boolean }) | null = null;
  /** Counts releases, so that a bind that finishes after dispose() frees what it made. */
  private generation = 0;
  /** The fit or initialize in progress, if any. */
  private busy: string | null = null;
  /** Counts dispose() calls: a call that fails after one failed because of it. */
  private disposals = 0;
  /** The component or cluster of each training sample, from the end of the last fit. */
  protected fitLabels: Int32Array | null = null;
  /** The results handed out (read-only, one object each until the state they show changes). */
  protected readonly results = new ResultCache();
  /** The stream each restart's initialisation forks from, reseeded by every fit. */
  private rng: Random;
  /** The run of the stepwise fit or restart in progress; dropped with the samples it runs on. */
  protected run: Run | null = null;

  /**
   * Names of the features (the training data's columns), or null: saved by `toJSON()`, read by
   * `fromJSON()`, and checked by the command line's `predict` and `score` against the data's header.
   */
  featureNames: readonly string[] | null = null;

  constructor(
    backend: BackendChoice,
    gpu: GpuOptions,
    /** How messages name the model: 'model', 'KMeans'. */
    private readonly noun: string,
    /** What the bound samples are fitted with: the GPU's feature limits differ per use. */
    private readonly purpose: DataUse,
    /** K: the backend's limits for it are checked before the samples are uploaded. */
    private readonly components: number,
    /** The seed of the initialisations' stream. */
    private readonly seed: number,
  ) {
    this.backendHandle = new LazyBackend(backend, gpu);
    this.rng = new Random(seed);
  }

  /** The generator of the next initialisation: the next fork of the seeded stream. */
  protected nextInitStream(): Random {
    return new Random(this.rng.fork());
  }

  /**
   * Starts a stepwise fit on X: binds it (once; a later initialize with the same samples reuses
   * them) and draws the initial state. Follow with {@link step} until {@link done}.
   */
  abstract initialize(x: MatrixInput): Promise<void>;

  /** Runs one iteration of the fit started by {@link initialize}. */
  async step(): Promise<Iteration> {
    return this.exclusive('step()', () => this.stepNow());
  }

  /** True when the stepwise fit has converged or run maxIter iterations (and before any). */
  get done(): boolean {
    return this.run?.done ?? true;
  }

  /** One step of the current run; the model then takes the run's state ({@link took}). */
  protected async stepNow(): Promise<Iteration> {
    const run = this.run;
    if (!run) throw usageError('step() needs initialize(X) first');
    if (run.done)
      throw usageError('the fit is done (converged or maxIter reached); call initialize(X) again');
    const record = await run.step();
    // dispose() during the step dropped the run: what it computed belongs to no model.
    if (this.run !== run) throw disposedDuringFit();
    this.took(run);
    return record;
  }

  /** Takes what the model shows of `run` after one of its steps. */
  protected abstract took(run: Run): void;

  /** What a fit changes: saved before it (restored when it fails) and after each restart. */
  protected abstract saveFit(): Saved;

  /** Puts back what {@link saveFit} saved. */
  protected abstract restoreFit(saved: Saved): void;

  /** How good a restart's fit is: the highest wins (the first of equals). */
  protected abstract objective(saved: Saved): number;

  /**
   * The fit: `restarts` runs, each begun by `start` and stepped until done, the best kept, then
   * the labels of the training samples under it (null: none). The signal is checked before each
   * step and after it (no iteration is reported once aborted). A fit that fails or is aborted
   * leaves the model as it was; the samples it bound are freed either way.
   */
  protected async restartLoop(
    restarts: number,
    options: LoopOptions<Iteration>,
    start: () => Promise<void>,
    labels: (best: Saved) => Promise<Int32Array | null>,
  ): Promise<void> {
    const { signal, onIteration } = options;
    // Every fit draws its initialisations from the seed afresh: refitting gives the same result.
    this.rng = new Random(this.seed);
    const previous = this.saveFit();
    let best: Saved | null = null;
    try {
      for (let initIndex = 0; initIndex < restarts; initIndex++) {
        await start();
        while (!this.liveRun().done) {
          signal?.throwIfAborted();
          const record = await this.stepNow();
          signal?.throwIfAborted();
          onIteration?.({ ...record, initIndex });
        }
        const fit = this.saveFit();
        if (best === null || this.objective(fit) > this.objective(best)) best = fit;
      }
      this.restoreFit(best!);
      this.fitLabels = await labels(best!);
    } catch (error) {
      this.restoreFit(previous);
      throw error;
    } finally {
      // The samples are bound once for every restart, and freed with the fit.
      this.run = null;
      this.releaseOwnedSamples();
    }
  }

  /** The running fit's run; gone when the model was disposed during the fit. */
  protected liveRun(): Run {
    if (!this.run) throw disposedDuringFit();
    return this.run;
  }

  /**
   * The bound samples and each one's label as buffers on the model's GPU device, for a renderer
   * that draws millions of points without reading anything back (see {@link RenderView}): a
   * mixture's labels are its most probable components under the current parameters (one
   * E-step pass and an argmax on the GPU), k-means' the clusters of its last pass. Null on the
   * CPU backend and when no samples are bound (before `initialize`, after `fit` freed them):
   * use the stepwise API. Call it between steps, and again after each step.
   */
  async renderView(): Promise<RenderView | null> {
    const data = this.samples?.data;
    const labels = this.viewLabels();
    if (!data?.renderView || !labels) return null;
    const view = data.renderView;
    return this.exclusive('renderView()', () => view(labels));
  }

  /** What the labels of {@link renderView} come from, or null when there is no state yet. */
  protected abstract viewLabels(): ViewLabels | null;

  /** The backend that runs (or ran) the passes: 'webgpu' or 'cpu'. Resolves the backend if needed. */
  async backendName(): Promise<BackendName> {
    return (await this.backendHandle.current()).name;
  }

  /** The adapter's description, or null on the CPU backend. */
  async adapterDescription(): Promise<string | null> {
    return (await this.backendHandle.current()).adapterDescription;
  }

  /**
   * Frees the model's GPU buffers (the process's shared device stays for the next model; see
   * `releaseSharedDevices`) and stops a fit in progress. The fitted state stays readable; a later
   * call that needs the backend (predict, fit, ...) acquires it again: dispose again after it.
   */
  dispose(): void {
    this.disposals++;
    this.releaseSamples();
    this.backendHandle.dispose();
  }

  /** `using model = ...` disposes the model at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * The most likely component (or nearest cluster) of each training sample under the fitted
   * model, from one pass at the end of `fit` (scikit-learn's `labels_`): a read-only view, the
   * same one until the next fit (`labels.slice()` gives a plain copy, faster to loop over).
   */
  get labels(): Int32Array {
    const labels = this.fitLabels;
    if (!labels) {
      throw usageError(
        `labels are known after fit(X) only (this ${this.noun} was built from saved parameters or fitted without them); call predict(X)`,
      );
    }
    return this.results.get('labels', labels, () => readOnlyArray(labels));
  }

  /**
   * The samples of this fit on the backend: those given by {@link useSamples} or bound by an
   * earlier call of this fit when `matrix` is theirs, else `matrix` bound now (and freed by the
   * next bind, {@link releaseSamples} or dispose).
   */
  protected async bindSamples(
    matrix: Matrix,
    weights: Float64Array | null,
    signal?: AbortSignal,
  ): Promise<BoundData> {
    const s = this.samples;
    // Samples given by useSamples come with their own weights.
    if (s && sameMatrix(s.matrix, matrix) && (!s.owned || sameWeights(s.data.weights, weights)))
      return s.data;
    this.releaseSamples();
    const generation = this.generation;
    const data = await this.backendHandle.bind(matrix, {
      signal,
      purpose: this.purpose,
      components: this.components,
      weights,
    });
    if (generation !== this.generation) {
      // dispose() came while the samples were uploading.
      data.dispose();
      throw disposedDuringFit();
    }
    this.samples = { matrix, data, owned: true };
    return data;
  }

  /** Runs the next fits and scores of `samples.matrix` on `samples.data`; the caller frees them. */
  useSamples(samples: BoundSamples): void {
    this.releaseSamples();
    this.samples = { ...samples, owned: false };
  }

  /** Frees the samples this model bound (not those it was given) and forgets both. */
  protected releaseSamples(): void {
    if (this.samples?.owned) this.samples.data.dispose();
    this.samples = null;
    this.generation++;
    // The run that used the samples goes with them.
    this.run = null;
  }

  /** Frees the samples if this model bound them; samples it was given stay for the next call. */
  protected releaseOwnedSamples(): void {
    if (this.samples?.owned) this.releaseSamples();
  }

  /**
   * Runs `pass` on `matrix` bound to the backend: the fit's samples when `matrix` is theirs,
   * otherwise a binding made for this call only.
   */
  protected async withSamples<T>(matrix: Matrix, pass: (data: BoundData) => Promise<T>): Promise<T> {
    if (this.samples && sameMatrix(this.samples.matrix, matrix)) return pass(this.samples.data);
    const data = await this.backendHandle.bind(matrix, {
      purpose: this.purpose,
      components: this.components,
    });
    try {
      return await pass(data);
    } finally {
      data.dispose();
    }
  }

  /**
   * A row source opened for a fit: one pass scans it (size, a seeded initialisation sample),
   * and its data makes one pass per call. Weights come with the chunks.
   */
  protected async openStream(
    source: RowSource | GpuRows,
    k: number,
    seed: number,
    options: { sampleWeight?: unknown; signal?: AbortSignal },
  ): Promise<OpenedData> {
    if (options.sampleWeight != null) {
      throw usageError(
        'sampleWeight cannot be given with a row source or a GPUBuffer; give each chunk its weights ({ data, rows, cols, weights })',
      );
    }
    const o = { k, purpose: this.purpose, seed, signal: options.signal };
    return typeof source === 'function'
      ? openSource(source, this.backendHandle, o)
      : openGpuRows(source, this.backendHandle, o);
  }

  /** Runs `pass` on a caller's GPU buffer of samples, bound in place for this call. */
  protected async withGpuRows<T>(x: GpuRows, pass: (data: BoundData) => Promise<T>): Promise<T> {
    const data = await this.backendHandle.bindBuffer(x, { purpose: this.purpose });
    try {
      return await pass(data);
    } finally {
      data.dispose();
    }
  }

  /** `evaluate` on each chunk of a row source in turn (as many rows as the memory budget allows). */
  protected mapChunks<T>(source: RowSource, k: number, evaluate: (c: CheckedChunk) => Promise<T>) {
    return mapSource(source, this.backendHandle, k, evaluate);
  }

  /** Runs `work` as the model's one fit or initialize: a second would pull the data from under the first. */
  protected async exclusive<T>(what: string, work: () => Promise<T>): Promise<T> {
    if (this.busy) {
      throw usageError(
        `${what} was called while ${this.busy} is still running on this ${this.noun}; await it first, or use a second model to fit in parallel`,
      );
    }
    this.busy = what;
    const disposals = this.disposals;
    try {
      return await work();
    } catch (error) {
      // Whatever the pass in flight then hit (a buffer freed under it, a stop check), the cause is dispose().
      if (this.disposals !== disposals) throw disposedDuringFit(what, error);
      throw error;
    } finally {
      this.busy = null;
    }
  }
}

/** The error of a fit whose model was disposed under it. */
export function disposedDuringFit(call = 'fit()', cause?: unknown) {
  return new WebGpuEmError('usage', `the model was disposed during ${call}; await ${call} before dispose()`, {
    cause,
  });
}

/** The same weights (or both none): an O(N) comparison, small beside binding anew. */
function sameWeights(a: Float64Array | null, b: Float64Array | null): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The same samples: toMatrix makes a new object around the caller's Float32Array, not a copy. */
function sameMatrix(a: Matrix, b: Matrix): boolean {
  return a === b || (a.data === b.data && a.rows === b.rows && a.cols === b.cols);
}
