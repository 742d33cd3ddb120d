import { COVARIANCE_TYPES, type CovarianceType, type Criterion } from '../core/names.js';
import { defaultOf } from '../core/option-schema.js';
import type { Matrix } from '../data/matrix.js';
import { WebGpuEmError } from '../errors.js';
import { SELECTION_SCHEMA, selectGaussianMixture } from '../models/model-selection.js';
import type { ParsedArgs } from './args.js';
import { commandInput, modelJson, report, type Run } from './common.js';
import { Progress } from './progress.js';
import { schemaOptions } from './schema-flags.js';

/** Most component counts `select --k-range` may try. */
export const MAX_K_CANDIDATES = 1000;

export async function runSelect(args: ParsedArgs, run: Run): Promise<number> {
  let ks: number[] = [];
  let types: CovarianceType[] = [];
  const input = await commandInput(
    'select',
    args,
    run,
    (o) => {
      if (!o.kRange) throw new WebGpuEmError('usage', 'select needs --k-range, e.g. --k-range 1..10');
      ks = parseKRange(o.kRange as string);
      const given = o.covarianceTypes as string | undefined;
      types = given
        ? (given.split(',').map((t) => t.trim()) as CovarianceType[])
        : [...defaultOf(SELECTION_SCHEMA, 'covarianceTypes')];
      for (const t of types) {
        if (!COVARIANCE_TYPES.includes(t)) {
          throw new WebGpuEmError(
            'usage',
            `--covariance: unknown type '${t}'; use a list of ${COVARIANCE_TYPES.join(', ')}`,
          );
        }
      }
    },
    false,
  );
  const { o, columnNames } = input;
  const matrix = input.data as Matrix;
  const largest = Math.max(...ks);
  if (largest > matrix.rows) {
    throw new WebGpuEmError(
      'usage',
      `--k-range goes up to K = ${largest} but the data has ${matrix.rows} samples; K can be at most the number of samples`,
    );
  }
  const criterion = (o.criterion as Criterion | undefined) ?? defaultOf(SELECTION_SCHEMA, 'criterion');
  const total = ks.length * types.length;
  const progress = new Progress(run, o, 'select', criterion.toUpperCase(), total, 1, 'candidate');
  let done = 0;
  let previous = Infinity;
  const { scores, best, model } = await selectGaussianMixture(matrix, {
    ...schemaOptions(o, SELECTION_SCHEMA),
    nComponents: ks,
    covarianceTypes: types,
    criterion,
    signal: run.signal,
    sampleWeight: input.sampleWeight,
    onCandidate: (s) => {
      const value = s[criterion];
      progress.update({ iteration: ++done, initIndex: 0, value, change: value - previous });
      previous = value;
    },
  }).finally(() => progress.end());
  try {
    const fields = {
      model: await modelJson(model, columnNames),
      criterion,
      best,
      scores,
    };
    const rows = scores.map((s) =>
      [
        s.covarianceType,
        s.nComponents,
        s.bic.toFixed(2),
        s.aic.toFixed(2),
        s.lowerBound.toFixed(5),
        s.converged,
        s === best ? '<- best' : '',
      ].join('\t'),
    );
    return await report(run, input, model, {
      fields,
      what: `candidates: ${scores.length}`,
      warning: null,
      body: () => [
        ['covariance', 'K', 'BIC', 'AIC', 'lower bound', 'converged', ''].join('\t'),
        ...rows,
        `best by ${criterion.toUpperCase()}: K = ${best.nComponents}, ${best.covarianceType}`,
      ],
    });
  } finally {
    model.dispose();
  }
}

/** "1..10" or "1,2,4,8": checked (at most MAX_K_CANDIDATES values) before any list is built. */
export function parseKRange(text: string): number[] {
  const bad = () =>
    new WebGpuEmError(
      'usage',
      `--k-range '${text}' is not a range like 1..10 or a list like 1,2,4 of integers >= 1`,
    );
  const tooMany = (n: number) =>
    new WebGpuEmError(
      'usage',
      `--k-range '${text}' has ${n} values, over the limit of ${MAX_K_CANDIDATES} candidates; give a shorter range or a list`,
    );
  const range = /^(\d+)\.\.(\d+)$/.exec(text.trim());
  if (range) {
    const [from, to] = [Number(range[1]), Number(range[2])];
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 1 || to < from) throw bad();
    if (to - from + 1 > MAX_K_CANDIDATES) throw tooMany(to - from + 1);
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  }
  const parts = text.split(',');
  if (parts.length > MAX_K_CANDIDATES) throw tooMany(parts.length);
  const values = parts.map((t) => (t.trim() === '' ? NaN : Number(t.trim())));
  if (values.length === 0 || values.some((v) => !Number.isSafeInteger(v) || v < 1)) throw bad();
  return [...new Set(values)];
}
