import { optionKeys } from '../core/names.js';
import { dataError } from '../errors.js';

/** Per-sample weights as the API accepts them: one number per row of X. */
export type SampleWeightInput = ArrayLike<number>;

/** Options of a stepwise `initialize` and of scoring with weights. */
export interface WeightOptions {
  /** One weight per sample (finite, >= 0), as `fit(X, { sampleWeight })`. */
  sampleWeight?: SampleWeightInput | null;
}

/** Every option name of {@link WeightOptions}; unknown keys are refused. */
export const WEIGHT_OPTIONS = optionKeys<WeightOptions>({ sampleWeight: true });

/**
 * Checks sample weights against N rows and copies them to float64: every weight finite and
 * >= 0, with a positive sum. An integer weight counts its row that many times (the fit equals
 * that of the duplicated rows); a zero weight drops its row. Errors name the first bad row.
 */
export function toSampleWeights(input: SampleWeightInput, rows: number, what = 'sampleWeight'): Float64Array {
  if (input == null || typeof input !== 'object' || typeof input.length !== 'number') {
    throw dataError(`${what} must be an array of numbers (one per sample); got ${String(input)}`);
  }
  if (input.length !== rows) {
    throw dataError(
      `${what} has ${input.length} values but X has ${rows} rows; give exactly one weight per sample`,
    );
  }
  const out = new Float64Array(rows);
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    const v = input[r];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw dataError(`${what}[${r}] = ${String(v)} is not a finite number; weights must be finite and >= 0`);
    }
    if (v < 0) throw dataError(`${what}[${r}] = ${v} is negative; weights must be >= 0 (0 drops the sample)`);
    out[r] = v;
    sum += v;
  }
  if (!(sum > 0)) throw dataError(`${what} sums to 0; at least one sample needs a positive weight`);
  if (!Number.isFinite(sum)) throw dataError(`${what} sums to ${sum}; scale the weights down`);
  return out;
}

/** Sum of the weights, or N when every sample counts once. */
export function weightTotal(weights: Float64Array | null, rows: number): number {
  if (!weights) return rows;
  let s = 0;
  for (const w of weights) s += w;
  return s;
}

/** The checked weights of N samples, or null when none were given. */
export function sampleWeights(input: SampleWeightInput | null | undefined, rows: number): Float64Array | null {
  return input == null ? null : toSampleWeights(input, rows);
}

/** Samples that count: those of positive weight (every sample without weights). */
export function positiveRows(m: { readonly rows: number }, weights: Float64Array | null): number {
  if (!weights) return m.rows;
  let n = 0;
  for (const w of weights) if (w > 0) n++;
  return n;
}
