import { LazyBackend } from '../backends/select.js';
import {
  checkChoice,
  COVARIANCE_TYPES,
  CRITERIA,
  DEFAULT_COVARIANCE_TYPE,
  optionKeys,
  type CovarianceType,
} from '../core/names.js';
import { choice, resolveSchema, value, type OptionsOf } from '../core/option-schema.js';
import { toMatrix, type MatrixInput } from '../data/matrix.js';
import { sampleWeights, type SampleWeightInput } from '../data/weights.js';
import { usageError } from '../errors.js';
import { GAUSSIAN_MIXTURE_SCHEMA } from './gaussian-mixture-options.js';
import { mixtureInit } from './options.js';
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

// The mixture's options, less what the search varies.
const { nComponents: _k, covarianceType: _type, init: _init, ...CANDIDATE_SCHEMA } = GAUSSIAN_MIXTURE_SCHEMA;

/** Every option of {@link selectGaussianMixture} but its callbacks, declared once. */
export const SELECTION_SCHEMA = {
  /** Component counts to try, e.g. [1, 2, ..., 10]. */
  nComponents: value<readonly number[]>()({
    required: true,
    help: 'component counts to try',
    check: (ks) => {
      if (!Array.isArray(ks) || ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1))
        throw usageError('nComponents must be a non-empty list of integers >= 1, e.g. [1, 2, 3]');
    },
  }),
  /** Families to try. */
  covarianceTypes: value<readonly CovarianceType[]>()({
    default: [DEFAULT_COVARIANCE_TYPE],
    help: 'covariance types to try',
    check: (types) => {
      if (!Array.isArray(types) || types.length === 0)
        throw usageError(`covarianceTypes must be a non-empty list of ${COVARIANCE_TYPES.join(', ')}`);
      for (const t of types) checkChoice('covariance type', t, COVARIANCE_TYPES);
    },
  }),
  /** What picks the winner (lower is better). */
  criterion: choice()(CRITERIA, {
    default: 'bic',
    cli: { flags: ['--criterion'] },
    help: 'what picks the winner (lower is better)',
  }),
  /** How each candidate starts: a method by name (a model would fix K). */
  init: mixtureInit<never>(''),
  ...CANDIDATE_SCHEMA,
} as const;

/** Options of {@link selectGaussianMixture}: the fit options, less what the search varies. */
export interface SelectionOptions extends OptionsOf<typeof SELECTION_SCHEMA> {
  /** Called after each candidate is fitted. */
  onCandidate?: (score: CandidateScore) => void;
  /** Stops the search (between passes of the backend). */
  signal?: AbortSignal;
  /** One weight per sample, as GaussianMixture's `fit(X, { sampleWeight })`; BIC's n is their sum. */
  sampleWeight?: SampleWeightInput | null;
}

/** The options that are not settings of the search. */
const SELECTION_CALLS = optionKeys<Omit<SelectionOptions, keyof typeof SELECTION_SCHEMA>>({
  onCandidate: true,
  signal: true,
  sampleWeight: true,
});

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
  const {
    nComponents: ks,
    covarianceTypes,
    criterion,
    ...fitOptions
  } = resolveSchema('selectGaussianMixture', SELECTION_SCHEMA, options, SELECTION_CALLS);
  const { onCandidate, signal, sampleWeight } = options;
  const m = toMatrix(x);
  const weights = sampleWeights(sampleWeight, m.rows);
  // One backend and one upload for every candidate; 'auto' still falls back for this data set.
  const shared = new LazyBackend(fitOptions.backend, fitOptions);
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
