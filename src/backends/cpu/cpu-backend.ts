import type { Matrix } from '../../data/matrix.js';
import { lastPositive } from '../sampling.js';
import type {
  Assignments,
  BoundData,
  KMeansStatistics,
  ComponentParameters,
  EStepOptions,
  EStepResult,
  MixtureBackend,
  SeedingState,
  SufficientStatistics,
} from '../backend.js';

const LOG_2PI = Math.log(2 * Math.PI);

/**
 * The float64 reference: the same math as the GPU kernels, written plainly, sharing no code
 * with them. It is the oracle in tests and the fallback when no adapter exists.
 */
export class CpuBackend implements MixtureBackend {
  readonly name = 'cpu' as const;
  readonly adapterDescription = null;

  async bindData(x: Matrix): Promise<BoundData> {
    return new CpuBoundData(x);
  }

  dispose(): void {}
}

const diagonalPrecision = (p: ComponentParameters) =>
  p.covarianceType === 'diag' || p.covarianceType === 'spherical';

class CpuBoundData implements BoundData {
  readonly rows: number;
  readonly cols: number;
  readonly lastGpuSeconds = null;
  private readonly x: Float64Array;
  /** Labels of the last k-means pass, to count those that change. */
  private lastLabels: { k: number; labels: Int32Array } | null = null;

  constructor(m: Matrix) {
    this.rows = m.rows;
    this.cols = m.cols;
    this.x = Float64Array.from(m.data);
  }

  async prepare(): Promise<void> {}

  async sufficientStatistics(p: ComponentParameters, shifts: Float64Array): Promise<SufficientStatistics> {
    const { nComponents: K, nFeatures: D } = p;
    const diagonal = diagonalPrecision(p);
    const P = diagonal ? D : (D * (D + 1)) / 2;
    const nk = new Float64Array(K);
    const first = new Float64Array(K * D);
    const second = new Float64Array(K * P);
    const logProb = new Float64Array(K);
    const diff = new Float64Array(D);
    let logLikelihoodSum = 0;
    for (let n = 0; n < this.rows; n++) {
      const lse = logResponsibilities(p, this.x, n * D, logProb, diff);
      logLikelihoodSum += lse;
      for (let k = 0; k < K; k++) {
        const r = Math.exp(logProb[k] - lse);
        if (r === 0) continue;
        nk[k] += r;
        for (let i = 0; i < D; i++) diff[i] = this.x[n * D + i] - shifts[k * D + i];
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
    return {
      nComponents: K,
      nFeatures: D,
      weightSum: this.rows,
      logLikelihoodSum,
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
    for (let n = 0; n < this.rows; n++) {
      const lse = logResponsibilities(p, this.x, n * D, logProb, diff);
      logLikelihood[n] = lse;
      if (resp) for (let k = 0; k < K; k++) resp[n * K + k] = Math.exp(logProb[k] - lse);
      if (labels) {
        let best = 0;
        for (let k = 1; k < K; k++) if (logProb[k] > logProb[best]) best = k;
        labels[n] = best;
      }
    }
    return { logLikelihood, responsibilities: resp, labels };
  }

  async kmeansStatistics(centres: Float64Array, k: number): Promise<KMeansStatistics> {
    const d = this.cols;
    const counts = new Float64Array(k);
    const firstMoment = new Float64Array(k * d);
    if (this.lastLabels?.k !== k) this.lastLabels = { k, labels: new Int32Array(this.rows).fill(-1) };
    const last = this.lastLabels.labels;
    let inertia = 0;
    let changed = 0;
    for (let n = 0; n < this.rows; n++) {
      const [best, dist] = this.nearest(n, centres, k);
      if (last[n] !== best) changed++;
      last[n] = best;
      counts[best] += 1;
      inertia += dist;
      for (let i = 0; i < d; i++) firstMoment[best * d + i] += this.x[n * d + i] - centres[best * d + i];
    }
    return { nClusters: k, nFeatures: d, counts, firstMoment, inertia, changed };
  }

  async assign(centres: Float64Array, k: number, options: { allDistances: boolean }): Promise<Assignments> {
    const d = this.cols;
    const labels = new Int32Array(this.rows);
    const minDistances = new Float64Array(this.rows);
    const distances = options.allDistances ? new Float64Array(this.rows * k) : null;
    for (let n = 0; n < this.rows; n++) {
      [labels[n], minDistances[n]] = this.nearest(n, centres, k);
      if (distances) {
        for (let c = 0; c < k; c++) {
          let s = 0;
          for (let i = 0; i < d; i++) s += (this.x[n * d + i] - centres[c * d + i]) ** 2;
          distances[n * k + c] = s;
        }
      }
    }
    return { labels, minDistances, distances };
  }

  async seedingPass(candidate: Float64Array, base: SeedingState | null): Promise<SeedingState> {
    const d = this.cols;
    const previous = base ? (base as CpuSeedingState).distances : null;
    const distances = new Float64Array(this.rows);
    let potential = 0;
    for (let n = 0; n < this.rows; n++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += (this.x[n * d + i] - candidate[i]) ** 2;
      distances[n] = previous ? Math.min(previous[n], s) : s;
      potential += distances[n];
    }
    return new CpuSeedingState(distances, potential);
  }

  /** Nearest centre of sample n (the lowest index on ties) and its squared distance. */
  private nearest(n: number, centres: Float64Array, k: number): [number, number] {
    const d = this.cols;
    let best = 0;
    let bestDist = Infinity;
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += (this.x[n * d + i] - centres[c * d + i]) ** 2;
      if (s < bestDist) [best, bestDist] = [c, s];
    }
    return [best, bestDist];
  }

  dispose(): void {}
}

class CpuSeedingState implements SeedingState {
  constructor(
    readonly distances: Float64Array,
    readonly potential: number,
  ) {}

  async sample(u: number): Promise<number> {
    let target = u * this.potential;
    for (let n = 0; n < this.distances.length; n++) {
      target -= this.distances[n];
      if (target < 0) return n;
    }
    return lastPositive(this.distances);
  }

  release(): void {}
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
