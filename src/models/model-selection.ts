import { createBackend } from '../backends/select.js';
import { toMatrix, type MatrixInput } from '../data/matrix.js';
import { usageError } from '../errors.js';
import { GaussianMixture, type GaussianMixtureOptions } from './gaussian-mixture.js';
import { COVARIANCE_TYPES, type CovarianceType } from './gmm-parameters.js';

/** One candidate of {@link selectGaussianMixture}. */
export interface CandidateScore {
  readonly nComponents: number;
  readonly covarianceType: CovarianceType;
  readonly bic: number;
  readonly aic: number;
  readonly lowerBound: number;
  readonly converged: boolean;
  readonly nIter: number;
}

/** Options of {@link selectGaussianMixture}: the fit options, less what the search varies. */
export interface SelectionOptions extends Omit<
  GaussianMixtureOptions,
  'nComponents' | 'covarianceType' | 'init'
> {
  /** Component counts to try, e.g. [1, 2, ..., 10]. */
  nComponents: readonly number[];
  /** Families to try; default ['full']. */
  covarianceTypes?: readonly CovarianceType[];
  /** What picks the winner (lower is better); default 'bic'. */
  criterion?: 'bic' | 'aic';
  /** Called after each candidate is fitted. */
  onCandidate?: (score: CandidateScore) => void;
  /** Stops the search (between passes of the backend). */
  signal?: AbortSignal;
}

/**
 * Fits a Gaussian mixture for every (K, covariance type) and picks the one with the lowest BIC
 * (or AIC), as R's mclust does. Every fit shares one backend (one GPU device). Resolves to the
 * scores, in the order tried, and the winner as a fitted model.
 */
export async function selectGaussianMixture(
  x: MatrixInput,
  options: SelectionOptions,
): Promise<{ scores: CandidateScore[]; best: CandidateScore; model: GaussianMixture }> {
  const {
    nComponents: ks,
    covarianceTypes = ['full'],
    criterion = 'bic',
    onCandidate,
    signal,
    ...fitOptions
  } = options;
  if (!Array.isArray(ks) || ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1)) {
    throw usageError('nComponents must be a non-empty list of integers >= 1, e.g. [1, 2, 3]');
  }
  for (const t of covarianceTypes) {
    if (!COVARIANCE_TYPES.includes(t))
      throw usageError(`unknown covariance type '${t}'; use ${COVARIANCE_TYPES.join(', ')}`);
  }
  if (criterion !== 'bic' && criterion !== 'aic')
    throw usageError(`criterion must be 'bic' or 'aic', got '${criterion}'`);
  const m = toMatrix(x);
  // One device for every candidate, unless the caller brought one.
  const shared =
    fitOptions.device || fitOptions.backend === 'cpu'
      ? null
      : await createBackend(fitOptions.backend ?? 'auto', fitOptions);
  const device =
    shared && 'context' in shared ? (shared as { context: { device: GPUDevice } }).context.device : undefined;
  // The choice itself goes to every candidate, so that 'auto' can still fall back per data set.
  const backend = fitOptions.backend;
  const scores: CandidateScore[] = [];
  let best: { score: CandidateScore; model: GaussianMixture } | null = null;
  try {
    for (const covarianceType of covarianceTypes) {
      for (const nComponents of ks) {
        const gmm = new GaussianMixture({
          ...fitOptions,
          backend,
          device: fitOptions.device ?? device,
          nComponents,
          covarianceType,
        });
        try {
          await gmm.fit(m, { signal });
          const score: CandidateScore = {
            nComponents,
            covarianceType,
            ...(await gmm.informationCriteria(m)),
            lowerBound: gmm.lowerBound,
            converged: gmm.converged,
            nIter: gmm.nIter,
          };
          scores.push(score);
          onCandidate?.(score);
          if (!best || score[criterion] < best.score[criterion]) {
            // A model of its own, without the shared device (freed below), with the winner's fit.
            const model = new GaussianMixture({ ...fitOptions, nComponents, covarianceType });
            model.adoptFit(gmm);
            best = { score, model };
          }
        } finally {
          gmm.dispose();
        }
      }
    }
  } finally {
    shared?.dispose();
  }
  return { scores, best: best!.score, model: best!.model };
}
