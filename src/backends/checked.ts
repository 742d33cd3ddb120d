import type { Matrix } from '../data/matrix.js';
import { WebGpuEmError } from '../errors.js';
import type { BackendName, CovarianceType } from '../core/names.js';
import type {
  Assignments,
  BoundData,
  ComponentParameters,
  EStepOptions,
  EStepResult,
  KMeansStatistics,
  RenderView,
  SeedingState,
  SeedingStep,
  SufficientStatistics,
  ViewLabels,
} from './backend.js';

/**
 * Float32 squares and sums overflow for samples much beyond 2^32 in magnitude and lose their
 * digits for samples much below 2^-32: such data is scaled by a power of two (exact in float32)
 * before a float32 backend sees it, and every result is scaled back in float64. Large data is
 * brought down only to 2^32, so that columns of a much smaller magnitude keep theirs.
 */
const SCALE_ABOVE = 2 ** 32;
const SCALE_BELOW = 2 ** -32;
/** A column whose largest |x| is below this after scaling has squares near float32's smallest normal. */
const COLUMN_FLOOR = 2 ** -60;

/**
 * The power of two to divide float32 data by (1 when none is needed). Throws when the columns
 * differ in magnitude by more than float32's squares can hold at once.
 */
export function float32Scale(x: Matrix): number {
  const { rows, cols, data } = x;
  const columnMax = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const a = Math.abs(data[r * cols + c]);
      if (a > columnMax[c]) columnMax[c] = a;
    }
  }
  let max = 0;
  for (const m of columnMax) max = Math.max(max, m);
  let scale = 1;
  if (max > SCALE_ABOVE) scale = 2 ** (Math.ceil(Math.log2(max)) - 32);
  else if (max > 0 && max < SCALE_BELOW) scale = 2 ** Math.ceil(Math.log2(max));
  for (let c = 0; c < cols; c++) {
    if (columnMax[c] > 0 && columnMax[c] / scale < COLUMN_FLOOR) {
      const big = columnMax.indexOf(max);
      // A limit of the GPU path: with backend 'auto' the CPU takes such data instead.
      throw new WebGpuEmError(
        'gpu',
        `column ${c} (largest |x| ${columnMax[c].toPrecision(3)}) and column ${big} (${max.toPrecision(3)}) differ in ` +
          "magnitude beyond what float32 on the GPU can hold together; standardise the columns or use backend: 'cpu'",
      );
    }
  }
  return scale;
}

/** x / scale (exact: scale is a power of two). */
export function scaledMatrix(x: Matrix, scale: number): Matrix {
  if (scale === 1) return x;
  const inv = 1 / scale;
  const data = new Float32Array(x.data.length);
  for (let i = 0; i < data.length; i++) data[i] = x.data[i] * inv;
  return { data, rows: x.rows, cols: x.cols };
}

/**
 * A backend's bound data as the models use it: results in the units of the caller's data (see
 * {@link float32Scale}), every number checked for finiteness before it is returned, the caller's
 * AbortSignal honoured before each pass, and a clear error for a call made after dispose.
 */
export class CheckedBoundData implements BoundData {
  readonly rows: number;
  readonly cols: number;
  private disposed = false;
  private readonly logScale: number;

  constructor(
    private readonly inner: BoundData,
    private readonly backend: BackendName,
    /** Samples were divided by this before `inner` got them. */
    private readonly scale: number,
    private readonly signal?: AbortSignal,
    /** Throws when K components exceed the backend's limits (a named limit), before any work. */
    private readonly capacity: (k: number, family: CovarianceType | 'kmeans') => void = () => {},
  ) {
    this.rows = inner.rows;
    this.cols = inner.cols;
    this.logScale = Math.log(scale);
    const view = inner.renderView?.bind(inner);
    if (view) {
      this.renderView = async (labels) => {
        const scaled: ViewLabels =
          labels.kind === 'mixture' ? { ...labels, params: this.scaledParameters(labels.params) } : labels;
        return { ...(await this.call(() => view(scaled))), scale: this.scale };
      };
    }
  }

  /** Present when the inner backend has it (the GPU); the view reports the samples' scale. */
  readonly renderView?: (labels: ViewLabels) => Promise<RenderView>;

  get weights(): Float64Array | null {
    return this.inner.weights;
  }

  get lastGpuSeconds(): number | null {
    return this.inner.lastGpuSeconds;
  }

  async prepare(nComponents: number, family: CovarianceType | 'kmeans'): Promise<void> {
    this.capacity(nComponents, family);
    try {
      await this.call(() => this.inner.prepare(nComponents, family));
    } catch (error) {
      // A limit the checks above do not model still surfaces here, before any work: say so.
      if (!(error instanceof WebGpuEmError) || !/^WebGPU validation error/.test(error.message)) throw error;
      const detail = error.message.split('\n')[0].replace(/^WebGPU validation error in [^:]*: /, '');
      throw new WebGpuEmError(
        'gpu',
        `K = ${nComponents} components of D = ${this.cols} features do not fit the adapter's limits (${detail.trim()}); ` +
          "use fewer components or features, or backend: 'cpu' (webgpu-em info shows the limits)",
        { cause: error },
      );
    }
  }

  async sufficientStatistics(p: ComponentParameters, shifts: Float64Array): Promise<SufficientStatistics> {
    this.capacity(p.nComponents, p.covarianceType);
    const s = await this.call(() =>
      this.inner.sufficientStatistics(this.scaledParameters(p), this.down(shifts)),
    );
    const out: SufficientStatistics = {
      ...s,
      logLikelihoodSum: s.logLikelihoodSum - s.weightSum * p.nFeatures * this.logScale,
      firstMoment: this.up(s.firstMoment, this.scale),
      secondMoment: this.up(s.secondMoment, this.scale * this.scale),
    };
    this.check(
      'sufficient statistics',
      [out.nk, out.firstMoment, out.secondMoment, Float64Array.of(out.respLogRespSum)],
      out.logLikelihoodSum,
    );
    return out;
  }

  async eStep(p: ComponentParameters, options: EStepOptions): Promise<EStepResult> {
    this.capacity(p.nComponents, p.covarianceType);
    const r = await this.call(() => this.inner.eStep(this.scaledParameters(p), options));
    const shift = p.nFeatures * this.logScale;
    const ll = r.logLikelihood;
    if (ll && shift !== 0) for (let n = 0; n < ll.length; n++) ll[n] -= shift;
    this.check('per-sample log-likelihoods', [ll, r.responsibilities]);
    // Labels without log-likelihoods: -1 marks a sample whose log-likelihood is not finite.
    if (!ll && r.labels?.includes(-1)) this.check('per-sample log-likelihoods', [], NaN);
    return r;
  }

  async kmeansStatistics(centres: Float64Array, k: number): Promise<KMeansStatistics> {
    this.capacity(k, 'kmeans');
    const s = await this.call(() => this.inner.kmeansStatistics(this.down(centres), k));
    const out = {
      ...s,
      firstMoment: this.up(s.firstMoment, this.scale),
      inertia: s.inertia * this.scale * this.scale,
    };
    this.check('k-means sums', [out.counts, out.firstMoment], out.inertia);
    return out;
  }

  async seedingStep(candidates: readonly Float64Array[], base: SeedingState | null): Promise<SeedingStep> {
    const inner = base ? (base as CheckedSeedingState).inner : null;
    // Scaling by a power of two is exact: the inner backend's choice is the caller's.
    const { index, state } = await this.call(() =>
      this.inner.seedingStep(
        candidates.map((c) => this.down(c)),
        inner,
      ),
    );
    const wrapped = new CheckedSeedingState(state, state.potential * this.scale * this.scale);
    try {
      this.check('k-means++ distances', [], wrapped.potential);
    } catch (error) {
      state.release();
      throw error;
    }
    return { index, state: wrapped };
  }

  async assign(centres: Float64Array, k: number, options: { allDistances: boolean }): Promise<Assignments> {
    this.capacity(k, 'kmeans');
    const a = await this.call(() => this.inner.assign(this.down(centres), k, options));
    const s2 = this.scale * this.scale;
    const out = {
      ...a,
      minDistances: this.up(a.minDistances, s2),
      distances: a.distances && this.up(a.distances, s2),
    };
    this.check('distances to the centres', [out.minDistances, out.distances]);
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.inner.dispose();
  }

  /** Runs one pass of the backend unless the caller aborted or disposed. */
  private async call<T>(work: () => Promise<T>): Promise<T> {
    this.throwIfStopped();
    const result = await work();
    this.throwIfStopped();
    return result;
  }

  private throwIfStopped(): void {
    this.signal?.throwIfAborted();
    if (this.disposed) {
      throw new WebGpuEmError(
        'usage',
        'the model was disposed while a call on it was running; await fit() and predict() before dispose()',
      );
    }
  }

  private scaledParameters(p: ComponentParameters): ComponentParameters {
    if (this.scale === 1) return p;
    return {
      ...p,
      means: this.down(p.means),
      // Sigma' = Sigma / s^2, so its inverse Cholesky factor is s M and log det grows by D log s.
      precisionCholesky: this.up(p.precisionCholesky, this.scale),
      logDetPrecisionCholesky: p.logDetPrecisionCholesky.map((v) => v + p.nFeatures * this.logScale),
    };
  }

  private down(v: Float64Array): Float64Array {
    return this.scale === 1 ? v : v.map((e) => e / this.scale);
  }

  private up(v: Float64Array, factor: number): Float64Array {
    return factor === 1 ? v : v.map((e) => e * factor);
  }

  /** A non-finite result is an error, never a return value. */
  private check(what: string, arrays: Array<Float64Array | null>, ...scalars: number[]): void {
    let bad: number | null = null;
    for (const v of scalars) if (!Number.isFinite(v)) bad = v;
    for (const a of arrays) {
      if (!a || bad !== null) continue;
      for (let i = 0; i < a.length; i++) {
        if (!Number.isFinite(a[i])) {
          bad = a[i];
          break;
        }
      }
    }
    if (bad === null) return;
    throw new WebGpuEmError(
      'numerical',
      this.backend === 'webgpu'
        ? `the webgpu backend's ${what} came back as ${bad}: float32 overflowed on the GPU; ` +
            "divide the data by a constant (e.g. standardise each column) or use backend: 'cpu'"
        : `the cpu backend's ${what} came back as ${bad}: the data's magnitude overflows float64; ` +
            'divide the data by a constant (e.g. standardise each column)',
    );
  }
}

class CheckedSeedingState implements SeedingState {
  constructor(
    readonly inner: SeedingState,
    readonly potential: number,
  ) {}

  sample(u: number): Promise<number> {
    return this.inner.sample(u);
  }

  samples(us: readonly number[]): Promise<number[]> {
    return this.inner.samples(us);
  }

  release(): void {
    this.inner.release();
  }
}
