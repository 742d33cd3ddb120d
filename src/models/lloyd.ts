import { yieldIfDue } from '../core/turns.js';
import type { BoundData } from '../backends/backend.js';
import type { Matrix } from '../data/matrix.js';
import { farthestSamples, lloydUpdate } from './statistics-m-step.js';

// One Lloyd run (k-means' hard EM) on bound samples: the assignment and sums on the backend, the
// centre update and the relocation of empty clusters in float64 on the host.

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

export interface FitState {
  centres: Float64Array;
  inertia: number;
  nIter: number;
  converged: boolean;
  history: KMeansIteration[];
}

/** One Lloyd run from given centres on bound samples: `step()` is one assignment and update. */
export class LloydRun {
  centres: Float64Array;
  converged = false;
  /** Inertia of the final centres, once done. */
  finalInertia: number | null = null;
  readonly history: KMeansIteration[] = [];

  constructor(
    private readonly data: BoundData,
    private readonly m: Matrix,
    start: Float64Array,
    private readonly k: number,
    private readonly maxIter: number,
    private readonly tolAbs: number,
    /** The `count` samples farthest from their centres (count x D), when `m` is not all of them. */
    private readonly farthest:
      ((centres: Float64Array, count: number) => Promise<Float64Array>) | null = null,
  ) {
    this.centres = Float64Array.from(start, Math.fround);
  }

  get done(): boolean {
    return this.finalInertia !== null;
  }

  async step(): Promise<KMeansIteration> {
    // Host work between passes counts against the process's one slice too (see turns.ts).
    await yieldIfDue();
    const { data, m, k } = this;
    const d = m.cols;
    const started = performance.now();
    const centres = this.centres;
    const stats = await data.kmeansStatistics(centres, k);
    const { next, empty } = lloydUpdate(centres, stats.counts, stats.firstMoment, k, d);
    if (empty.length > 0) {
      const samples = this.farthest
        ? await this.farthest(centres, empty.length)
        : await farthestOf(data, m, centres, k, empty.length);
      empty.forEach((c, slot) => next.set(samples.subarray(slot * d, (slot + 1) * d), c * d));
    }
    for (let e = 0; e < next.length; e++) next[e] = Math.fround(next[e]);
    let shift = 0;
    for (let e = 0; e < next.length; e++) shift += (next[e] - centres[e]) ** 2;
    this.centres = next;
    // As scikit-learn: converged when no label changed (even with tol = 0; the first pass
    // has no earlier labels), or when the centres moved by at most tol.
    this.converged = (this.history.length > 0 && stats.changed === 0) || shift <= this.tolAbs;
    const record = {
      iteration: this.history.length + 1,
      inertia: stats.inertia,
      centerShift: shift,
      relocated: empty.length,
      seconds: (performance.now() - started) / 1000,
    };
    this.history.push(record);
    if (this.converged || this.history.length >= this.maxIter) {
      // The inertia of the final centres (scikit-learn reports it after a last assignment).
      this.finalInertia = (await data.kmeansStatistics(this.centres, k)).inertia;
    }
    return record;
  }

  get state(): FitState {
    return {
      centres: this.centres,
      inertia: this.finalInertia ?? NaN,
      nIter: this.history.length,
      converged: this.converged,
      history: this.history,
    };
  }
}

/**
 * Moves each empty cluster to a sample far from its centre, as scikit-learn does: the samples
 * with the largest distance to their nearest centre, one per empty cluster (samples of weight
 * zero are not candidates: they are as good as absent).
 */
async function farthestOf(
  bound: BoundData,
  m: Matrix,
  centres: Float64Array,
  k: number,
  count: number,
): Promise<Float64Array> {
  const { minDistances } = await bound.assign(centres, k, { allDistances: false });
  return farthestSamples(m, bound.weights, minDistances, count).samples;
}
