import { yieldIfDue } from '../backends/cpu/turns.js';
import type { BoundData, ComponentParameters } from '../backends/backend.js';
import { WebGpuEmError } from '../errors.js';
import { mStep, shiftsFor, toComponentParameters, type GmmParameters } from './gmm-parameters.js';
import type { CovarianceType } from '../core/names.js';

/** Settings of the EM loop. */
export interface EmSettings {
  readonly covarianceType: CovarianceType;
  readonly tol: number;
  readonly maxIter: number;
  readonly regCovar: number;
}

/** What one EM iteration reports. */
export interface IterationRecord {
  /** 1-based iteration number. */
  readonly iteration: number;
  /** Mean log-likelihood per sample under the parameters this iteration's E-step used. */
  readonly lowerBound: number;
  /** Change of lowerBound from the previous iteration (Infinity on the first). */
  readonly change: number;
  /** Wall-clock seconds this iteration took. */
  readonly seconds: number;
  /**
   * Components whose covariance needed diagonal jitter beyond regCovar to stay positive
   * definite (float32 rounding of nearly singular covariances); usually 0.
   */
  readonly jitteredComponents: number;
}

/**
 * One EM run from given initial parameters. Each `step()` is one E-step (by the backend, as
 * sufficient statistics) and one M-step (here, in float64). Knows nothing of how the backend
 * computes.
 */
export class EmRun {
  params: GmmParameters;
  componentParams: ComponentParameters;
  nIter = 0;
  lowerBound = -Infinity;
  converged = false;
  readonly history: IterationRecord[] = [];

  constructor(
    private readonly data: BoundData,
    initial: GmmParameters,
    private readonly settings: EmSettings,
  ) {
    this.params = initial;
    this.componentParams = toComponentParameters(initial);
  }

  /** True once converged or after maxIter iterations. */
  get done(): boolean {
    return this.converged || this.nIter >= this.settings.maxIter;
  }

  async step(): Promise<IterationRecord> {
    // Host work between passes counts against the process's one slice too (see turns.ts).
    await yieldIfDue();
    const started = performance.now();
    const shifts = shiftsFor(this.params);
    const stats = await this.data.sufficientStatistics(this.componentParams, shifts);
    const lowerBound = stats.logLikelihoodSum / stats.weightSum;
    if (!Number.isFinite(lowerBound)) {
      throw new WebGpuEmError(
        'numerical',
        `the log-likelihood became ${lowerBound} at iteration ${this.nIter + 1}; ` +
          'scale the input data or increase regCovar',
      );
    }
    const next = mStep(stats, shifts, this.settings.regCovar, this.settings.covarianceType);
    this.componentParams = toComponentParameters(next);
    this.params = next;
    const change = lowerBound - this.lowerBound;
    this.lowerBound = lowerBound;
    this.nIter += 1;
    this.converged = Math.abs(change) < this.settings.tol;
    const record: IterationRecord = {
      iteration: this.nIter,
      lowerBound,
      change,
      seconds: (performance.now() - started) / 1000,
      jitteredComponents: next.jittered ?? 0,
    };
    this.history.push(record);
    return record;
  }
}
