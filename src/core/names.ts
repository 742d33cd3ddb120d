import { usageError } from '../errors.js';

/**
 * Every name a user may pass, listed once: the union types, the runtime checks and the command
 * line's choices and help are derived from these tables. The first entry of each is the default.
 */

/** Covariance families, as in scikit-learn (their maths: core/families.ts). */
export const COVARIANCE_TYPES = ['full', 'tied', 'diag', 'spherical'] as const;
/** A covariance family: `'full'`, `'tied'`, `'diag'` or `'spherical'`. */
export type CovarianceType = (typeof COVARIANCE_TYPES)[number];
export const DEFAULT_COVARIANCE_TYPE: CovarianceType = COVARIANCE_TYPES[0];

/** Where the E-step runs: 'auto' takes WebGPU when an adapter exists, else the CPU. */
const BACKENDS = ['auto', 'webgpu', 'cpu'] as const;
/** Other names of a backend, accepted as it (reports and model files name the backend itself). */
export const BACKEND_ALIASES = { gpu: 'webgpu' } as const satisfies Record<string, BackendName>;
/** Every name `backend` takes: the backends, then their aliases. */
export const BACKEND_CHOICES = [
  ...BACKENDS,
  ...(Object.keys(BACKEND_ALIASES) as Array<keyof typeof BACKEND_ALIASES>),
] as const;
/** The `backend` option: `'auto'`, `'webgpu'` or `'cpu'`, or an accepted alias of one. */
export type BackendChoice = (typeof BACKENDS)[number] | keyof typeof BACKEND_ALIASES;
/** A backend that runs: every backend but 'auto'. */
export type BackendName = Exclude<(typeof BACKENDS)[number], 'auto'>;

/** The backend a choice names ('gpu' is 'webgpu'). */
export function backendOf(choice: BackendChoice): (typeof BACKENDS)[number] {
  return (BACKEND_ALIASES as Record<string, BackendName>)[choice] ?? (choice as (typeof BACKENDS)[number]);
}

/** Initialisations of a Gaussian mixture. */
export const GMM_INIT_METHODS = ['kmeans++', 'kmeans', 'random', 'random-from-data'] as const;
/** A Gaussian mixture's initialisation by name (the `init` option also takes a model or labels). */
export type InitMethod = (typeof GMM_INIT_METHODS)[number];

/** Initialisations of k-means. */
export const KMEANS_INIT_METHODS = ['kmeans++', 'random'] as const;
/** A k-means initialisation by name (the `init` option also takes centres). */
export type KMeansInit = (typeof KMEANS_INIT_METHODS)[number];

/** What picks the winner of a model selection (lower is better). */
export const CRITERIA = ['bic', 'aic'] as const;
/** A model selection criterion: `'bic'` or `'aic'`. */
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
 * Words for our values that users bring from elsewhere, and the value each is here: `'diagonal'`
 * suggests `'diag'`. (Options' own scikit-learn names are in each model's option schema.)
 */
const VALUE_ALIASES: Readonly<Record<string, string>> = { diagonal: 'diag' };

const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');

/**
 * The known name closest to `name` (case, '_' and '-' ignored, so `max_iter` finds `maxIter`),
 * or null when none is within a third of its length in edits. A name of `foreign` (another
 * library's name for one of ours, e.g. `random_state` for `seed`) is looked up as ours first.
 */
export function nearest(
  name: string,
  known: readonly string[],
  foreign: Readonly<Record<string, string>> = {},
): string | null {
  const byNorm = new Map(Object.entries({ ...VALUE_ALIASES, ...foreign }).map(([t, o]) => [norm(t), o]));
  const ours = byNorm.get(norm(name));
  return (ours !== undefined && closest(ours, known)) || closest(name, known);
}

function closest(name: string, known: readonly string[]): string | null {
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
