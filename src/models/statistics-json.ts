import { family } from '../core/families.js';
import { checkChoice, COVARIANCE_TYPES, type CovarianceType } from '../core/names.js';
import { dataError, WebGpuEmError } from '../errors.js';
import { STATISTICS_FORMAT, type ShardStatistics } from './statistics-records.js';

// Mergeable statistics as versioned JSON (`webgpu-em/stats@1`), read back with every field checked.

/** The statistics as plain JSON (`webgpu-em/stats@1`): float64 values survive JSON exactly. */
export function statisticsToJSON(s: ShardStatistics): Record<string, unknown> {
  const common = {
    format: STATISTICS_FORMAT,
    kind: s.kind,
    family: s.kind === 'mixture' ? s.covarianceType : 'kmeans',
    nComponents: s.kind === 'mixture' ? s.nComponents : s.nClusters,
    nFeatures: s.nFeatures,
    parameterHash: s.parameterHash,
    shifts: Array.from(s.shifts),
    rows: s.rows,
    weightSum: s.weightSum,
  };
  if (s.kind === 'mixture') {
    return {
      ...common,
      logLikelihoodSum: s.logLikelihoodSum,
      nk: Array.from(s.nk),
      firstMoment: Array.from(s.firstMoment),
      secondMomentLayout: family(s.covarianceType).statistics,
      secondMoment: Array.from(s.secondMoment),
    };
  }
  return {
    ...common,
    inertia: s.inertia,
    changed: s.changed,
    counts: Array.from(s.counts),
    firstMoment: Array.from(s.firstMoment),
    farthest: { distances: Array.from(s.farthest.distances), samples: Array.from(s.farthest.samples) },
  };
}

/** Reads statistics written by {@link statisticsToJSON} (an object or its JSON text), checking every field. */
export function statisticsFromJSON(input: unknown): ShardStatistics {
  const o = (typeof input === 'string' ? parseJson(input) : input) as Record<string, unknown>;
  if (!o || typeof o !== 'object') throw dataError('statistics must be a JSON object');
  if (o.format !== STATISTICS_FORMAT) {
    throw dataError(`statistics have format ${JSON.stringify(o.format)}, expected "${STATISTICS_FORMAT}"`);
  }
  const int = (name: string) => {
    const v = o[name];
    if (!Number.isInteger(v) || (v as number) < 1)
      throw dataError(`statistics.${name} must be an integer >= 1, got ${String(v)}`);
    return v as number;
  };
  const num = (name: string, min = -Infinity) => {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min)
      throw dataError(
        `statistics.${name} must be a finite number${min > -Infinity ? ` >= ${min}` : ''}, got ${String(v)}`,
      );
    return v;
  };
  const count = (name: string) => {
    const v = num(name, 0);
    if (!Number.isInteger(v)) throw dataError(`statistics.${name} must be a whole number, got ${v}`);
    return v;
  };
  const arr = (v: unknown, name: string, length: number, min = -Infinity) => {
    if (!Array.isArray(v) || v.length !== length) {
      throw dataError(`statistics.${name} must be an array of ${length} numbers`);
    }
    const out = Float64Array.from(v as number[]);
    out.forEach((x, i) => {
      if (typeof v[i] !== 'number' || !Number.isFinite(x) || x < min)
        throw dataError(
          `statistics.${name}[${i}] is not a finite number${min > -Infinity ? ` >= ${min}` : ''}`,
        );
    });
    return out;
  };
  const k = int('nComponents');
  const d = int('nFeatures');
  if (typeof o.parameterHash !== 'string' || !/^[0-9a-f]{16}$/.test(o.parameterHash)) {
    throw dataError('statistics.parameterHash must be 16 hex digits');
  }
  const header = {
    format: STATISTICS_FORMAT,
    nFeatures: d,
    parameterHash: o.parameterHash,
    shifts: arr(o.shifts, 'shifts', k * d),
    rows: count('rows'),
    weightSum: num('weightSum', 0),
  } as const;
  if (o.kind === 'mixture') {
    const covarianceType = o.family as CovarianceType;
    checkChoice('statistics.family', covarianceType, COVARIANCE_TYPES);
    const second = family(covarianceType).statistics === 'diagonal' ? d : (d * (d + 1)) / 2;
    return {
      ...header,
      kind: 'mixture',
      covarianceType,
      nComponents: k,
      logLikelihoodSum: num('logLikelihoodSum'),
      nk: arr(o.nk, 'nk', k, 0),
      firstMoment: arr(o.firstMoment, 'firstMoment', k * d),
      secondMoment: arr(o.secondMoment, 'secondMoment', k * second),
    };
  }
  if (o.kind === 'kmeans') {
    const f = o.farthest as { distances?: unknown; samples?: unknown } | undefined;
    const m = Array.isArray(f?.distances) ? f.distances.length : -1;
    if (m < 0 || m > k)
      throw dataError(`statistics.farthest.distances must be an array of at most ${k} numbers`);
    return {
      ...header,
      kind: 'kmeans',
      nClusters: k,
      inertia: num('inertia', 0),
      changed: count('changed'),
      counts: arr(o.counts, 'counts', k, 0),
      firstMoment: arr(o.firstMoment, 'firstMoment', k * d),
      farthest: {
        distances: arr(f!.distances, 'farthest.distances', m),
        samples: arr(f!.samples, 'farthest.samples', m * d),
      },
    };
  }
  throw dataError(`statistics.kind must be "mixture" or "kmeans", got ${JSON.stringify(o.kind)}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new WebGpuEmError('data', `statistics are not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
