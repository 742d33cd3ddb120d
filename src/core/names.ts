import { usageError } from '../errors.js';

/**
 * Every name a user may pass, listed once: the union types, the runtime checks and the command
 * line's choices and help are derived from these tables. The first entry of each is the default.
 */

/** Covariance families, as in scikit-learn (their maths: core/families.ts). */
export const COVARIANCE_TYPES = ['full', 'tied', 'diag', 'spherical'] as const;
export type CovarianceType = (typeof COVARIANCE_TYPES)[number];
export const DEFAULT_COVARIANCE_TYPE: CovarianceType = COVARIANCE_TYPES[0];

/** Where the E-step runs: 'auto' takes WebGPU when an adapter exists, else the CPU. */
export const BACKEND_CHOICES = ['auto', 'webgpu', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
/** A backend that runs: every choice but 'auto'. */
export type BackendName = Exclude<BackendChoice, 'auto'>;

/** Initialisations of a Gaussian mixture. */
export const GMM_INIT_METHODS = ['kmeans++', 'kmeans', 'random', 'random-from-data'] as const;
export type InitMethod = (typeof GMM_INIT_METHODS)[number];

/** Initialisations of k-means. */
export const KMEANS_INIT_METHODS = ['kmeans++', 'random'] as const;
export type KMeansInit = (typeof KMEANS_INIT_METHODS)[number];

/** What picks the winner of a model selection (lower is better). */
export const CRITERIA = ['bic', 'aic'] as const;
export type Criterion = (typeof CRITERIA)[number];

/** "a, b or c", for messages and help text; the first marked as the default when asked. */
export function listOf(names: readonly string[], options: { defaultFirst?: boolean } = {}): string {
  const shown = names.map((n, i) => (i === 0 && options.defaultFirst ? `${n} (default)` : n));
  return shown.length < 2 ? shown.join('') : `${shown.slice(0, -1).join(', ')} or ${shown.at(-1)}`;
}

/** Throws a usage error naming the option unless `value` is one of `names`. */
export function checkChoice<T extends string>(
  what: string,
  value: unknown,
  names: readonly T[],
  extra = '',
): asserts value is T {
  if (typeof value === 'string' && (names as readonly string[]).includes(value)) return;
  const near = typeof value === 'string' ? nearest(value, names) : null;
  throw usageError(
    `${what} must be ${listOf(names.map((n) => `'${n}'`))}${extra}, got '${String(value)}'` +
      (near ? `; did you mean '${near}'?` : ''),
  );
}

/**
 * The keys of an options type, as a table the compiler holds to the type: a key missing from
 * the table, or one the type lacks, fails to compile.
 */
export function optionKeys<T>(table: { readonly [K in keyof Required<T>]: true }): readonly string[] {
  return Object.keys(table);
}

/** Refuses keys of `options` that `known` lacks, suggesting the nearest known one. */
export function checkOptionKeys(what: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = nearest(key, known);
    throw usageError(
      `${what}: unknown option '${key}'` +
        (near ? `; did you mean '${near}'?` : `; the options are ${known.join(', ')}`),
    );
  }
}

/**
 * The known name closest to `name` (case, '_' and '-' ignored, so `max_iter` finds `maxIter`),
 * or null when none is within a third of its length in edits.
 */
export function nearest(name: string, known: readonly string[]): string | null {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const target = norm(name);
  let best: string | null = null;
  let bestDistance = Math.max(1, Math.floor(target.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(target, norm(k));
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance (short names only, so the quadratic table is fine). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length];
}
