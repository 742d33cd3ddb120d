import type { BoundData, ComponentParameters } from '../backends/backend.js';
import type { CovarianceType } from '../core/names.js';
import { WebGpuEmError } from '../errors.js';
import { shiftsFor } from './gmm-parameters.js';
import {
  posteriorWeights,
  variationalComponentParameters,
  variationalLowerBound,
  variationalMStep,
  type VariationalPosterior,
  type VariationalPriors,
} from './variational.js';

/** Settings of the variational loop. */
export interface VariationalSettings {
  readonly covarianceType: CovarianceType;
  readonly tol: number;
  readonly maxIter: number;
  readonly regCovar: number;
}

/** What one variational iteration reports. */
export interface VariationalIterationRecord {
  /** 1-based iteration number. */
  readonly iteration: number;
  /** The evidence lower bound after this iteration (scikit-learn's, a total over the samples). */
  readonly lowerBound: number;
  /** Change of lowerBound from the previous iteration (Infinity on the first). */
  readonly change: number;
  /** Wall-clock seconds this iteration took. */
  readonly seconds: number;
  /** Components whose sample covariance needed diagonal jitter beyond regCovar; usually 0. */
  readonly jitteredComponents: number;
  /** The expected weights after this iteration, length K: components switching off go to ~0. */
  readonly weights: Float64Array;
}

/**
 * One variational run from an initial posterior. Each `step()` is one E-step with the posterior's
 * expectations (by the backend, as the same sufficient statistics as EM's plus sum r log r) and
 * one M-step and lower bound (here, in float64). Knows nothing of how the backend computes.
 */
export class VariationalRun {
  posterior: VariationalPosterior;
  /** The E-step's per-component parameters under the current posterior (also what renderView labels by). */
  componentParams: ComponentParameters;
  nIter = 0;
  lowerBound = -Infinity;
  converged = false;
  readonly history: VariationalIterationRecord[] = [];

  constructor(
    private readonly data: BoundData,
    initial: VariationalPosterior,
    private readonly priors: VariationalPriors,
    private readonly settings: VariationalSettings,
  ) {
    this.posterior = initial;
    this.componentParams = variationalComponentParameters(initial);
  }

  /** True once converged or after maxIter iterations. */
  get done(): boolean {
    return this.converged || this.nIter >= this.settings.maxIter;
  }

  async step(): Promise<VariationalIterationRecord> {
    const started = performance.now();
    const shifts = shiftsFor(this.posterior);
    const stats = await this.data.sufficientStatistics(this.componentParams, shifts);
    const { regCovar, covarianceType } = this.settings;
    const next = variationalMStep(stats, shifts, this.priors, regCovar, covarianceType);
    const lowerBound = variationalLowerBound(next, stats.respLogRespSum);
    if (!Number.isFinite(lowerBound)) {
      throw new WebGpuEmError(
        'numerical',
        `the lower bound became ${lowerBound} at iteration ${this.nIter + 1}; ` +
          'scale the input data or increase regCovar',
      );
    }
    this.componentParams = variationalComponentParameters(next);
    this.posterior = next;
    const change = lowerBound - this.lowerBound;
    this.lowerBound = lowerBound;
    this.nIter += 1;
    this.converged = Math.abs(change) < this.settings.tol;
    const record: VariationalIterationRecord = {
      iteration: this.nIter,
      lowerBound,
      change,
      seconds: (performance.now() - started) / 1000,
      jitteredComponents: next.jittered ?? 0,
      weights: posteriorWeights(next),
    };
    this.history.push(record);
    return record;
  }
}
