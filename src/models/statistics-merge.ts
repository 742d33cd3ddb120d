import { dataError, usageError } from '../errors.js';
import type { KMeansShardStatistics, MixtureShardStatistics, ShardStatistics } from './statistics-records.js';

// Statistics of shards evaluated under the same parameters add up, in float64, to the
// statistics of their union: what makes a sharded pass exact EM (or exact Lloyd).

/**
 * Adds statistics of the same parameters (same kind, family, K, D, shifts and parameter hash)
 * in float64. k-means statistics keep the K farthest samples of all.
 */
export function mergeStatistics<S extends ShardStatistics>(...parts: readonly S[]): S {
  if (parts.length === 0) throw usageError('mergeStatistics needs at least one set of statistics');
  const [first] = parts;
  for (const p of parts.slice(1)) checkMergeable(first, p);
  const sum = (pick: (s: S) => Float64Array) => {
    const out = new Float64Array(pick(first).length);
    for (const p of parts) {
      const v = pick(p);
      for (let i = 0; i < out.length; i++) out[i] += v[i];
    }
    return out;
  };
  const total = (pick: (s: S) => number) => parts.reduce((a, p) => a + pick(p), 0);
  const header = {
    ...first,
    shifts: Float64Array.from(first.shifts),
    rows: total((s) => s.rows),
    weightSum: total((s) => s.weightSum),
  };
  if (first.kind === 'mixture') {
    const m = parts as readonly ShardStatistics[] as readonly MixtureShardStatistics[];
    return {
      ...header,
      logLikelihoodSum: m.reduce((a, s) => a + s.logLikelihoodSum, 0),
      nk: sum((s) => (s as MixtureShardStatistics).nk),
      firstMoment: sum((s) => s.firstMoment),
      secondMoment: sum((s) => (s as MixtureShardStatistics).secondMoment),
    } as S;
  }
  const km = parts as readonly ShardStatistics[] as readonly KMeansShardStatistics[];
  const d = first.nFeatures;
  const candidates = km.flatMap((s) =>
    Array.from(s.farthest.distances, (dist, i) => ({
      dist,
      row: s.farthest.samples.subarray(i * d, i * d + d),
    })),
  );
  // Stable: equal distances keep the order of the parts.
  const kept = candidates
    .sort((a, b) => b.dist - a.dist)
    .slice(0, (first as KMeansShardStatistics).nClusters);
  const samples = new Float64Array(kept.length * d);
  kept.forEach((c, i) => samples.set(c.row, i * d));
  return {
    ...header,
    inertia: km.reduce((a, s) => a + s.inertia, 0),
    changed: km.reduce((a, s) => a + s.changed, 0),
    counts: sum((s) => (s as KMeansShardStatistics).counts),
    firstMoment: sum((s) => s.firstMoment),
    farthest: { distances: Float64Array.from(kept, (c) => c.dist), samples },
  } as S;
}

/** Refuses to merge b with a: another kind, family, K, D, parameter hash or shifts. */
export function checkMergeable(a: ShardStatistics, b: ShardStatistics): void {
  const what = (s: ShardStatistics) =>
    s.kind === 'mixture'
      ? `a '${s.covarianceType}' mixture of K = ${s.nComponents}, D = ${s.nFeatures}`
      : `k-means of K = ${s.nClusters}, D = ${s.nFeatures}`;
  if (what(a) !== what(b)) {
    throw dataError(`cannot merge statistics of ${what(a)} with statistics of ${what(b)}`);
  }
  const sameShifts = a.shifts.length === b.shifts.length && a.shifts.every((v, i) => v === b.shifts[i]);
  if (a.parameterHash !== b.parameterHash || !sameShifts) {
    throw dataError(
      `cannot merge statistics computed under different parameters (hash ${a.parameterHash} vs ${b.parameterHash}); ` +
        'evaluate every shard under the same parameters',
    );
  }
}
