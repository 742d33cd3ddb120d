import { family } from '../../core/families.js';
import { nearestCentre } from '../../core/nearest.js';
import type { Matrix } from '../../data/matrix.js';
import { WebGpuEmError } from '../../errors.js';
import { lastPositive } from '../sampling.js';
import { toSampleWeights, weightTotal } from '../../data/weights.js';
import { turnDue, yieldTurn } from '../../core/turns.js';
import type {
  Assignments,
  BindOptions,
  BoundData,
  KMeansStatistics,
  ComponentParameters,
  EStepOptions,
  EStepResult,
  MixtureBackend,
  SeedingState,
  SeedingStep,
  SufficientStatistics,
} from '../backend.js';
import { keptCandidate } from '../backend.js';

const LOG_2PI = Math.log(2 * Math.PI);
/** Multiply-adds between clock reads. */
const WORK_PER_CHECK = 1 << 18;

/** Rows between clock reads for a pass doing `perRow` multiply-adds per row. */
const rowsPerCheck = (perRow: number) => Math.max(1, Math.floor(WORK_PER_CHECK / Math.max(1, perRow)));

/**
 * The float64 reference: the same math as the GPU kernels, written plainly, sharing no code
 * with them. It is the oracle in tests and the fallback when no adapter exists.
 */
export class CpuBackend implements MixtureBackend {
  readonly name = 'cpu' as const;
  readonly adapterDescription = null;

  async bindData(x: Matrix, options: BindOptions = {}): Promise<BoundData> {
    const weights = options.weights ? toSampleWeights(options.weights, x.rows) : null;
    return new CpuBoundData(x, weights, options.signal);
  }

  dispose(): void {}
}

/** diag and spherical: one precision factor per feature, and diagonal second moments. */
const diagonalPrecision = (p: ComponentParameters) => family(p.covarianceType).statistics === 'diagonal';

class CpuBoundData implements BoundData {
  readonly rows: number;
  readonly cols: number;
  readonly lastGpuSeconds = null;
  private readonly x: Float64Array;
  private disposed = false;
  /** Labels of the last k-means pass, to count those that change. */
  private lastLabels: { k: number; labels: Int32Array } | null = null;

  /** Sum of the weights (N when unweighted). */
  private readonly weightSum: number;

  constructor(
    m: Matrix,
    readonly weights: Float64Array | null,
    private readonly signal?: AbortSignal,
  ) {
    this.rows = m.rows;
    this.cols = m.cols;
    this.x = Float64Array.from(m.data);
    this.weightSum = weightTotal(weights, m.rows);
  }

  /**
   * Runs `rows(from, to)` over every row, in blocks of about WORK_PER_CHECK multiply-adds. Between
   * blocks it asks the process's one clock (turns.ts), not one of its own: once a slice of
   * computing is used up, by this pass or by the short passes before it, it lets the event loop
   * run (so that timers, an abort or a dispose get their turn), then stops if either happened.
   */
  private async inBlocks(perRow: number, rows: (from: number, to: number) => void): Promise<void> {
    this.throwIfStopped();
    const block = rowsPerCheck(perRow);
    for (let from = 0; from < this.rows; from += block) {
      if (turnDue()) {
        await yieldTurn();
        this.throwIfStopped();
      }
      rows(from, Math.min(this.rows, from + block));
    }
    // A pass shorter than a slice still yields when the slices before it used the clock up.
    if (turnDue()) {
      await yieldTurn();
      this.throwIfStopped();
    }
  }

  private throwIfStopped(): void {
    this.signal?.throwIfAborted();
    if (this.disposed) {
      throw new WebGpuEmError(
        'usage',
        'the data was disposed during a pass (the model was disposed); bind it again',
      );
    }
  }

  async prepare(): Promise<void> {}

  async sufficientStatistics(p: ComponentParameters, shifts: Float64Array): Promise<SufficientStatistics> {
    const { nComponents: K, nFeatures: D } = p;
    const diagonal = diagonalPrecision(p);
    const P = diagonal ? D : (D * (D + 1)) / 2;
    const nk = new Float64Array(K);
    const first = new Float64Array(K * D);
    const second = new Float64Array(K * P);
    // The running sums [log-likelihood, r log r] in an array: a captured mutable double would be boxed.
    const sums = new Float64Array(2);
    await this.inBlocks(2 * K * (D + P), (from, to) => {
      statisticsRows(p, this.x, this.weights, shifts, from, to, nk, first, second, sums);
    });
    return {
      nComponents: K,
      nFeatures: D,
      weightSum: this.weightSum,
      logLikelihoodSum: sums[0],
      respLogRespSum: sums[1],
      nk,
      firstMoment: first,
      secondMomentLayout: diagonal ? 'diagonal' : 'packed',
      secondMoment: second,
    };
  }

  async eStep(p: ComponentParameters, options: EStepOptions): Promise<EStepResult> {
    const { nComponents: K, nFeatures: D } = p;
    const logLikelihood = new Float64Array(this.rows);
    const resp = options.responsibilities ? new Float64Array(this.rows * K) : null;
    const labels = options.labels ? new Int32Array(this.rows) : null;
    const logProb = new Float64Array(K);
    const diff = new Float64Array(D);
    await this.inBlocks(K * D * D, (from, to) => {
      for (let n = from; n < to; n++) {
        const lse = logResponsibilities(p, this.x, n * D, logProb, diff);
        logLikelihood[n] = lse;
        if (resp) for (let k = 0; k < K; k++) resp[n * K + k] = Math.exp(logProb[k] - lse);
        if (labels) {
          let best = 0;
          for (let k = 1; k < K; k++) if (logProb[k] > logProb[best]) best = k;
          labels[n] = best;
        }
      }
    });
    return { logLikelihood, responsibilities: resp, labels };
  }

  async kmeansStatistics(centres: Float64Array, k: number): Promise<KMeansStatistics> {
    const d = this.cols;
    const counts = new Float64Array(k);
    const firstMoment = new Float64Array(k * d);
    if (this.lastLabels?.k !== k) this.lastLabels = { k, labels: new Int32Array(this.rows).fill(-1) };
    const last = this.lastLabels.labels;
    // [inertia, changed labels], carried through a plain function (captured doubles are boxed).
    const totals = new Float64Array(2);
    await this.inBlocks(k * d, (from, to) => {
      kmeansRows(this.x, this.weights, d, centres, k, from, to, counts, firstMoment, last, totals);
    });
    return { nClusters: k, nFeatures: d, counts, firstMoment, inertia: totals[0], changed: totals[1] };
  }

  async assign(centres: Float64Array, k: number, options: { allDistances: boolean }): Promise<Assignments> {
    const d = this.cols;
    const labels = new Int32Array(this.rows);
    const minDistances = new Float64Array(this.rows);
    const distances = options.allDistances ? new Float64Array(this.rows * k) : null;
    await this.inBlocks(2 * k * d, (from, to) => {
      for (let n = from; n < to; n++) {
        [labels[n], minDistances[n]] = nearestCentre(this.x, d, n, centres, k);
        if (distances) {
          for (let c = 0; c < k; c++) {
            let s = 0;
            for (let i = 0; i < d; i++) s += (this.x[n * d + i] - centres[c * d + i]) ** 2;
            distances[n * k + c] = s;
          }
        }
      }
    });
    return { labels, minDistances, distances };
  }

  async seedingStep(candidates: readonly Float64Array[], base: SeedingState | null): Promise<SeedingStep> {
    // One candidate at a time, the loser released at once: two sets of distances at most.
    let kept: SeedingStep | null = null;
    for (const [index, candidate] of candidates.entries()) {
      const state = await this.seedingPass(candidate, base);
      if (kept && keptCandidate([kept.state.potential, state.potential]) === 0) state.release();
      else {
        kept?.state.release();
        kept = { index, state };
      }
    }
    return kept!;
  }

  private async seedingPass(candidate: Float64Array, base: SeedingState | null): Promise<CpuSeedingState> {
    const d = this.cols;
    const previous = base ? (base as CpuSeedingState).distances : null;
    const distances = new Float64Array(this.rows);
    let potential = 0;
    await this.inBlocks(d, (from, to) => {
      potential = seedingRows(this.x, this.weights, d, candidate, previous, from, to, distances, potential);
    });
    return new CpuSeedingState(distances, potential, this.weights);
  }

  dispose(): void {
    this.disposed = true;
  }
}

class CpuSeedingState implements SeedingState {
  constructor(
    readonly distances: Float64Array,
    readonly potential: number,
    /** The draw is proportional to weight x distance. */
    private readonly weights: Float64Array | null,
  ) {}

  async sample(u: number): Promise<number> {
    const w = this.weights;
    let target = u * this.potential;
    for (let n = 0; n < this.distances.length; n++) {
      target -= w ? w[n] * this.distances[n] : this.distances[n];
      if (target < 0) return n;
    }
    return lastPositive(w ? this.distances.map((v, n) => v * w[n]) : this.distances);
  }

  async samples(us: readonly number[]): Promise<number[]> {
    return Promise.all(us.map((u) => this.sample(u)));
  }

  release(): void {}
}

/** Adds rows [from, to) to the sufficient statistics; returns the running log-likelihood sum. */
function statisticsRows(
  p: ComponentParameters,
  x: Float64Array,
  weights: Float64Array | null,
  shifts: Float64Array,
  from: number,
  to: number,
  nk: Float64Array,
  first: Float64Array,
  second: Float64Array,
  sums: Float64Array,
): void {
  const { nComponents: K, nFeatures: D } = p;
  const diagonal = diagonalPrecision(p);
  const P = diagonal ? D : (D * (D + 1)) / 2;
  const logProb = new Float64Array(K);
  const diff = new Float64Array(D);
  for (let n = from; n < to; n++) {
    const w = weights ? weights[n] : 1;
    // A row of weight zero is as good as absent (and its log-likelihood may be -Infinity).
    if (w === 0) continue;
    const lse = logResponsibilities(p, x, n * D, logProb, diff);
    sums[0] += w * lse;
    for (let k = 0; k < K; k++) {
      const logR = logProb[k] - lse;
      const r = w * Math.exp(logR);
      if (r === 0) continue;
      sums[1] += r * logR;
      nk[k] += r;
      for (let i = 0; i < D; i++) diff[i] = x[n * D + i] - shifts[k * D + i];
      for (let i = 0; i < D; i++) {
        const ri = r * diff[i];
        first[k * D + i] += ri;
        if (diagonal) {
          second[k * D + i] += ri * diff[i];
        } else {
          const row = k * P + (i * (i + 1)) / 2;
          for (let j = 0; j <= i; j++) second[row + j] += ri * diff[j];
        }
      }
    }
  }
}

/** Adds rows [from, to) to the k-means sums; returns the running inertia. */
function kmeansRows(
  x: Float64Array,
  weights: Float64Array | null,
  d: number,
  centres: Float64Array,
  k: number,
  from: number,
  to: number,
  counts: Float64Array,
  firstMoment: Float64Array,
  lastLabels: Int32Array,
  totals: Float64Array,
): void {
  let inertia = totals[0];
  let changed = totals[1];
  for (let n = from; n < to; n++) {
    const w = weights ? weights[n] : 1;
    const [best, dist] = nearestCentre(x, d, n, centres, k);
    // A row of weight zero is as good as absent: its label changing does not keep Lloyd going.
    if (lastLabels[n] !== best && w > 0) changed++;
    lastLabels[n] = best;
    counts[best] += w;
    inertia += w * dist;
    for (let i = 0; i < d; i++) firstMoment[best * d + i] += w * (x[n * d + i] - centres[best * d + i]);
  }
  totals[0] = inertia;
  totals[1] = changed;
}

/** Distances of rows [from, to) to the nearest centre so far; returns the running potential. */
function seedingRows(
  x: Float64Array,
  weights: Float64Array | null,
  d: number,
  candidate: Float64Array,
  previous: Float64Array | null,
  from: number,
  to: number,
  distances: Float64Array,
  potential: number,
): number {
  for (let n = from; n < to; n++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += (x[n * d + i] - candidate[i]) ** 2;
    distances[n] = previous ? Math.min(previous[n], s) : s;
    potential += weights ? weights[n] * distances[n] : distances[n];
  }
  return potential;
}

/** Fills logProb[k] = log w_k + log N(x | mu_k, Sigma_k) and returns their log-sum-exp. */
function logResponsibilities(
  p: ComponentParameters,
  x: Float64Array,
  offset: number,
  logProb: Float64Array,
  diff: Float64Array,
): number {
  const { nComponents: K, nFeatures: D } = p;
  const diagonal = diagonalPrecision(p);
  const P = (D * (D + 1)) / 2;
  let max = -Infinity;
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < D; i++) diff[i] = x[offset + i] - p.means[k * D + i];
    let maha = 0;
    for (let i = 0; i < D; i++) {
      let y = 0;
      if (diagonal) {
        y = p.precisionCholesky[k * D + i] * diff[i];
      } else {
        const row = k * P + (i * (i + 1)) / 2;
        for (let j = 0; j <= i; j++) y += p.precisionCholesky[row + j] * diff[j];
      }
      maha += y * y;
    }
    const lp = p.logWeights[k] + p.logDetPrecisionCholesky[k] - 0.5 * (D * LOG_2PI + maha);
    logProb[k] = lp;
    if (lp > max) max = lp;
  }
  if (max === -Infinity) return -Infinity;
  let s = 0;
  for (let k = 0; k < K; k++) s += Math.exp(logProb[k] - max);
  return max + Math.log(s);
}
