import { family } from '../core/families.js';
import { checkValue, defaultOf } from '../core/option-schema.js';
import { GAUSSIAN_MIXTURE_SCHEMA } from './gaussian-mixture-options.js';
import type { Matrix } from '../data/matrix.js';
import { dataError } from '../errors.js';
import { mStep, type GmmParameters } from './gmm-parameters.js';
import type { KMeansShardStatistics, MixtureShardStatistics, ShardStatistics } from './statistics-records.js';

// The next parameters from (merged) statistics, in float64: the mixture's M-step and Lloyd's
// centre update, the latter with the farthest samples that re-seed its empty clusters (Lloyd's
// in-memory fit takes the same two steps from here).

/**
 * The M-step from (merged) mixture statistics, in float64: the next parameters (regCovar as in
 * GaussianMixture, with its default) and the mean log-likelihood of the parameters the statistics
 * were computed under (the lower bound a fit reports for that iteration).
 */
export function mixtureMStep(
  stats: MixtureShardStatistics,
  options: { regCovar?: number } = {},
): { parameters: GmmParameters; lowerBound: number } {
  const regCovar = options.regCovar ?? defaultOf(GAUSSIAN_MIXTURE_SCHEMA, 'regCovar');
  checkValue('regCovar', GAUSSIAN_MIXTURE_SCHEMA.regCovar, regCovar);
  checkWeight(stats);
  const parameters = mStep(
    {
      nComponents: stats.nComponents,
      nFeatures: stats.nFeatures,
      weightSum: stats.weightSum,
      logLikelihoodSum: stats.logLikelihoodSum,
      nk: stats.nk,
      firstMoment: stats.firstMoment,
      secondMomentLayout: family(stats.covarianceType).statistics,
      secondMoment: stats.secondMoment,
    },
    stats.shifts,
    regCovar,
    stats.covarianceType,
  );
  return { parameters, lowerBound: stats.logLikelihoodSum / stats.weightSum };
}

/** An M-step needs weight: shards of weight 0 add nothing, so all of them together leave nothing to fit. */
function checkWeight(stats: ShardStatistics): void {
  if (!(stats.weightSum > 0)) {
    throw dataError(
      `the statistics sum no sample weight: every shard's weights sum to 0 (or every shard is empty; ${stats.rows} rows in all); give some rows a positive weight`,
    );
  }
}

/**
 * The Lloyd update from (merged) k-means statistics: each centre moves to the weighted mean of
 * its samples; a centre with none moves to the farthest sample the statistics carry (one per
 * empty centre, in order, as KMeans does). Also the squared centre shift (summed) and the
 * inertia of the centres the statistics were computed under.
 */
export function kmeansMStep(stats: KMeansShardStatistics): {
  centres: Float64Array;
  relocated: number;
  centerShift: number;
  inertia: number;
} {
  checkWeight(stats);
  const { nClusters: k, nFeatures: d } = stats;
  const { next, empty } = lloydUpdate(stats.shifts, stats.counts, stats.firstMoment, k, d);
  if (empty.length > stats.farthest.distances.length) {
    throw dataError(
      `${empty.length} clusters are empty but the statistics carry only ${stats.farthest.distances.length} samples; ` +
        'use fewer clusters or more data',
    );
  }
  empty.forEach((c, slot) => next.set(stats.farthest.samples.subarray(slot * d, slot * d + d), c * d));
  let centerShift = 0;
  for (let e = 0; e < next.length; e++) centerShift += (next[e] - stats.shifts[e]) ** 2;
  return { centres: next, relocated: empty.length, centerShift, inertia: stats.inertia };
}

/** Centres moved to their samples' weighted means, and the clusters that got none. */
export function lloydUpdate(
  centres: Float64Array,
  counts: Float64Array,
  firstMoment: Float64Array,
  k: number,
  d: number,
): { next: Float64Array; empty: number[] } {
  const next = new Float64Array(k * d);
  const empty: number[] = [];
  for (let c = 0; c < k; c++) {
    if (counts[c] === 0) empty.push(c);
    for (let i = 0; i < d; i++) {
      next[c * d + i] =
        counts[c] > 0 ? centres[c * d + i] + firstMoment[c * d + i] / counts[c] : centres[c * d + i];
    }
  }
  return { next, empty };
}

/** The K rows of positive weight with the largest distances, farthest first (ties: lower row first). */
export function farthestSamples(m: Matrix, weights: Float64Array | null, dist: Float64Array, k: number) {
  const order = Array.from(dist.keys())
    .filter((n) => !weights || weights[n] > 0)
    .sort((a, b) => dist[b] - dist[a] || a - b)
    .slice(0, k);
  const d = m.cols;
  const samples = new Float64Array(order.length * d);
  order.forEach((row, i) => {
    for (let j = 0; j < d; j++) samples[i * d + j] = m.data[row * d + j];
  });
  return { distances: Float64Array.from(order, (row) => dist[row]), samples };
}
