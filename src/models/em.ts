import type { BoundData } from '../backends/backend.js';
import { mStep, toComponentParameters, type GmmParameters } from './gmm-parameters.js';
import { MixtureRun } from './mixture-run.js';
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

/** An EM run: each step one E-step and the M-step. */
export type EmRun = MixtureRun<GmmParameters, Record<never, never>>;

/**
 * One EM run from given initial parameters. Each step's objective is the mean log-likelihood
 * under the parameters its E-step used, checked before the M-step needs it finite.
 */
export function emRun(data: BoundData, initial: GmmParameters, settings: EmSettings): EmRun {
  return new MixtureRun(data, initial, settings, {
    objective: 'the log-likelihood',
    componentParameters: toComponentParameters,
    next(stats, shifts, check) {
      const lowerBound = stats.logLikelihoodSum / stats.weightSum;
      check(lowerBound);
      return { params: mStep(stats, shifts, settings.regCovar, settings.covarianceType), lowerBound };
    },
    extra: () => ({}),
  });
}
