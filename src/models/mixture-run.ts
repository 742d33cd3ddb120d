import { yieldIfDue } from '../core/turns.js';
import type { BoundData, ComponentParameters, SufficientStatistics } from '../backends/backend.js';
import { WebGpuEmError } from '../errors.js';
import { shiftsFor } from './gmm-parameters.js';

/** What every mixture iteration reports. */
interface RecordBase {
  readonly iteration: number;
  readonly lowerBound: number;
  readonly change: number;
  readonly seconds: number;
  readonly jitteredComponents: number;
}

/** How a mixture's parameters P are used and updated: what tells EM and variational runs apart. */
export interface MixtureUpdate<P, Extra> {
  /** What messages call the objective: 'the log-likelihood', 'the lower bound'. */
  readonly objective: string;
  /** The E-step's per-component constants under `p`. */
  componentParameters(p: P): ComponentParameters;
  /**
   * The next parameters and the objective from one pass's statistics; `check` rejects a
   * non-finite objective (called as soon as it is known, before work that would fail on it).
   */
  next(
    stats: SufficientStatistics,
    shifts: Float64Array,
    check: (objective: number) => void,
  ): { params: P; lowerBound: number };
  /** What a record adds to the common fields. */
  extra(params: P): Extra;
}

/**
 * One mixture run from initial parameters. Each `step()` is one E-step (by the backend, as
 * sufficient statistics) and one update (here, in float64). Knows nothing of how the backend
 * computes.
 */
export class MixtureRun<P extends { readonly means: Float64Array; readonly jittered?: number }, Extra> {
  params: P;
  /** The E-step's per-component parameters under `params` (also what renderView labels by). */
  componentParams: ComponentParameters;
  nIter = 0;
  lowerBound = -Infinity;
  converged = false;
  readonly history: (RecordBase & Extra)[] = [];

  constructor(
    private readonly data: BoundData,
    initial: P,
    private readonly settings: { readonly tol: number; readonly maxIter: number },
    private readonly update: MixtureUpdate<P, Extra>,
  ) {
    this.params = initial;
    this.componentParams = update.componentParameters(initial);
  }

  /** True once converged or after maxIter iterations. */
  get done(): boolean {
    return this.converged || this.nIter >= this.settings.maxIter;
  }

  async step(): Promise<RecordBase & Extra> {
    // Host work between passes counts against the process's one slice too (see turns.ts).
    await yieldIfDue();
    const started = performance.now();
    const shifts = shiftsFor(this.params);
    const stats = await this.data.sufficientStatistics(this.componentParams, shifts);
    const { params: next, lowerBound } = this.update.next(stats, shifts, (value) => {
      if (!Number.isFinite(value)) {
        throw new WebGpuEmError(
          'numerical',
          `${this.update.objective} became ${value} at iteration ${this.nIter + 1}; ` +
            'scale the input data or increase regCovar',
        );
      }
    });
    this.componentParams = this.update.componentParameters(next);
    this.params = next;
    const change = lowerBound - this.lowerBound;
    this.lowerBound = lowerBound;
    this.nIter += 1;
    this.converged = Math.abs(change) < this.settings.tol;
    const record = {
      iteration: this.nIter,
      lowerBound,
      change,
      seconds: (performance.now() - started) / 1000,
      jitteredComponents: next.jittered ?? 0,
      ...this.update.extra(next),
    };
    this.history.push(record);
    return record;
  }
}
