import { LazyBackend } from '../backends/select.js';
import {
  checkChoice,
  checkOptionKeys,
  COVARIANCE_TYPES,
  CRITERIA,
  BACKEND_CHOICES,
  DEFAULT_COVARIANCE_TYPE,
  optionKeys,
  type CovarianceType,
  type Criterion,
} from '../core/names.js';
import { toMatrix, type MatrixInput } from '../data/matrix.js';
import { sampleWeights, type SampleWeightInput } from '../data/weights.js';
import { usageError } from '../errors.js';
import { GAUSSIAN_MIXTURE_OPTIONS, type GaussianMixtureOptions } from './gaussian-mixture-options.js';
import { GaussianMixture } from './gaussian-mixture.js';

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
  criterion?: Criterion;
  /** Called after each candidate is fitted. */
  onCandidate?: (score: CandidateScore) => void;
  /** Stops the search (between passes of the backend). */
  signal?: AbortSignal;
  /** One weight per sample, as GaussianMixture's `fit(X, { sampleWeight })`; BIC's n is their sum. */
  sampleWeight?: SampleWeightInput | null;
}

/** Every option's name: the mixture's, less what the search varies, and the search's own. */
const SELECTION_OPTIONS = [
  ...GAUSSIAN_MIXTURE_OPTIONS.filter((k) => !['nComponents', 'covarianceType', 'init'].includes(k)),
  ...optionKeys<Omit<SelectionOptions, keyof GaussianMixtureOptions>>({
    covarianceTypes: true,
    criterion: true,
    onCandidate: true,
    signal: true,
    sampleWeight: true,
  }),
  'nComponents',
];

/**
 * Fits a Gaussian mixture for every (K, covariance type) and picks the one with the lowest BIC
 * (or AIC), as R's mclust does. The samples are bound to one backend once: every candidate's fit
 * and score runs on them. Resolves to the scores, in the order tried, and the winner as a
 * fitted model.
 */
export async function selectGaussianMixture(
  x: MatrixInput,
  options: SelectionOptions,
): Promise<{ scores: CandidateScore[]; best: CandidateScore; model: GaussianMixture }> {
  if (!options || typeof options !== 'object')
    throw usageError('selectGaussianMixture needs options: { nComponents }');
  checkOptionKeys('selectGaussianMixture', options, SELECTION_OPTIONS);
  const {
    nComponents: ks,
    covarianceTypes = [DEFAULT_COVARIANCE_TYPE],
    criterion = 'bic',
    onCandidate,
    signal,
    sampleWeight,
    ...fitOptions
  } = options;
  if (!Array.isArray(ks) || ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1)) {
    throw usageError('nComponents must be a non-empty list of integers >= 1, e.g. [1, 2, 3]');
  }
  for (const t of covarianceTypes) checkChoice('covariance type', t, COVARIANCE_TYPES);
  checkChoice('criterion', criterion, CRITERIA);
  const m = toMatrix(x);
  const weights = sampleWeights(sampleWeight, m.rows);
  // One backend and one upload for every candidate; 'auto' still falls back for this data set.
  const shared = new LazyBackend(fitOptions.backend ?? BACKEND_CHOICES[0], fitOptions);
  const scores: CandidateScore[] = [];
  let best: { score: CandidateScore; model: GaussianMixture } | null = null;
  try {
    const samples = { matrix: m, data: await shared.bind(m, { signal, weights }) };
    try {
      for (const covarianceType of covarianceTypes) {
        for (const nComponents of ks) {
          const gmm = new GaussianMixture({ ...fitOptions, nComponents, covarianceType });
          gmm.useSamples(samples);
          try {
            // Candidates are scored, not labelled: no pass for labels.
            await gmm.fit(m, { signal, sampleWeight: weights, labels: false });
            const score: CandidateScore = {
              nComponents,
              covarianceType,
              ...(await gmm.informationCriteria(m, { sampleWeight: weights })),
              lowerBound: gmm.lowerBound,
              converged: gmm.converged,
              nIter: gmm.nIter,
            };
            scores.push(score);
            onCandidate?.(score);
            if (!best || score[criterion] < best.score[criterion]) {
              // A model of its own, without the shared samples (freed below), with the winner's fit.
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
      samples.data.dispose();
    }
  } finally {
    shared.dispose();
  }
  return { scores, best: best!.score, model: best!.model };
}
