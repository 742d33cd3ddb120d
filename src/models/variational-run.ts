import type { BoundData } from '../backends/backend.js';
import type { CovarianceType } from '../core/names.js';
import { MixtureRun } from './mixture-run.js';
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

/** A variational run: each step one E-step with the posterior's expectations and its update. */
export type VariationalRun = MixtureRun<VariationalPosterior, { readonly weights: Float64Array }>;

/**
 * One variational run from an initial posterior. Each step's E-step gives the same sufficient
 * statistics as EM's plus sum r log r; the update is the posterior's M-step, and the objective
 * the evidence lower bound after it.
 */
export function variationalRun(
  data: BoundData,
  initial: VariationalPosterior,
  priors: VariationalPriors,
  settings: VariationalSettings,
): VariationalRun {
  const { regCovar, covarianceType } = settings;
  return new MixtureRun(data, initial, settings, {
    objective: 'the lower bound',
    componentParameters: variationalComponentParameters,
    next(stats, shifts, check) {
      const params = variationalMStep(stats, shifts, priors, regCovar, covarianceType);
      const lowerBound = variationalLowerBound(params, stats.respLogRespSum);
      check(lowerBound);
      return { params, lowerBound };
    },
    extra: (params) => ({ weights: posteriorWeights(params) }),
  });
}
