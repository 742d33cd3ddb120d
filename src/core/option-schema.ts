import { usageError } from '../errors.js';
import { checkChoice, nearest } from './names.js';

// An option is declared once, as data: its type, range, default, command-line flags, one line of
// help and scikit-learn's name. The model's options type, the key check and the resolver (here),
// the CLI's flags and help (cli/schema-flags.ts), the demo's defaults and the JSON schema the
// Python driver reads (scripts/option-schema.ts) are all made from these declarations.

/** How an option is written on the command line. */
export interface CliForm {
  /** Its flags, e.g. `['-k', '--n-components']`. */
  readonly flags: readonly string[];
  /** A list of numbers, written comma-separated (`--mean-prior 0,1.5`). */
  readonly list?: true;
}

/** What the schema says of one option. `T` is its value's type; `R` whether it is required; `D` whether it has a default. */
export interface OptionDef<T = unknown, R extends boolean = boolean, D extends boolean = boolean> {
  readonly kind: 'integer' | 'number' | 'boolean' | 'string' | 'choice' | 'value';
  /** One line: what it does. */
  readonly help: string;
  readonly required: R;
  /** The default, written nowhere else. */
  readonly default?: T;
  /** A default that depends on the data or on other options, in words ("the data's mean"). */
  readonly defaultText?: string;
  /** Integers and numbers: the smallest value allowed. */
  readonly min?: number;
  /** Integers: the largest value allowed. */
  readonly max?: number;
  /** Numbers: a value it must exceed. */
  readonly above?: number;
  /** Integers: the unit named in messages ("bytes"). */
  readonly unit?: string;
  /** Choices: the names it takes (the first is not necessarily the default). */
  readonly choices?: readonly string[];
  /** Choices: what else it takes, for messages (" or a model"); the model checks those values. */
  readonly orElse?: string;
  /** Values: a check of a given value (its shape is the model's business). */
  readonly check?: (value: unknown, name: string) => void;
  /** Its command-line form, where the CLI has one. */
  readonly cli?: CliForm;
  /** scikit-learn's name of it: an unknown `max_iter` suggests `maxIter`. */
  readonly sklearn?: string;
  /** Other names users bring for it (another scikit-learn model's), suggested as above. */
  readonly aliases?: readonly string[];
  /** The value's type, for the compiler only. */
  readonly __type?: T;
  /** Whether it has a default, for the compiler only. */
  readonly __defaulted?: D;
}

/** A model's options, by name. */
export type OptionSchema = Readonly<Record<string, OptionDef<any, boolean, boolean>>>; // eslint-disable-line @typescript-eslint/no-explicit-any

type ValueOf<D> = D extends OptionDef<infer T, boolean, boolean> ? T : never;
type IsRequired<D> = D extends OptionDef<unknown, true, boolean> ? true : false;
type IsDefaulted<D> = D extends OptionDef<unknown, boolean, true> ? true : false;

/** The options object a user passes: required options, then optional ones. */
export type OptionsOf<S> = {
  [K in keyof S as IsRequired<S[K]> extends true ? K : never]: ValueOf<S[K]>;
} & {
  [K in keyof S as IsRequired<S[K]> extends true ? never : K]?: ValueOf<S[K]>;
};

/** The options as resolved: every option with a default (or required) is present. */
export type ResolvedOf<S> = {
  readonly [K in keyof S as IsRequired<S[K]> | IsDefaulted<S[K]> extends false ? never : K]: ValueOf<S[K]>;
} & {
  readonly [K in keyof S as IsRequired<S[K]> | IsDefaulted<S[K]> extends false ? K : never]?: ValueOf<S[K]>;
};

/** What a declaration gives besides its kind. */
interface Declared<T, R extends boolean> {
  readonly help: string;
  readonly required?: R;
  readonly default?: T;
  readonly defaultText?: string;
  readonly cli?: CliForm;
  readonly sklearn?: string;
  readonly aliases?: readonly string[];
}

type Def<T, R extends boolean, Dv> = OptionDef<T, R, Dv extends undefined ? false : true>;

/** An integer option (`min` and `max` inclusive). */
export function integer<R extends boolean = false, const Dv extends number | undefined = undefined>(
  d: Declared<number, R> & { default?: Dv; min?: number; max?: number; unit?: string },
): Def<number, R, Dv> {
  return { kind: 'integer', required: false as R, ...d };
}

/** A finite number (`min` inclusive, `above` exclusive). */
export function number<R extends boolean = false, const Dv extends number | undefined = undefined>(
  d: Declared<number, R> & { default?: Dv; min?: number; above?: number },
): Def<number, R, Dv> {
  return { kind: 'number', required: false as R, ...d };
}

/** true or false. */
export function boolean<const Dv extends boolean | undefined = undefined>(
  d: Declared<boolean, false> & { default?: Dv },
): Def<boolean, false, Dv> {
  return { kind: 'boolean', required: false, ...d };
}

/** Text. */
export function text<R extends boolean = false>(d: Declared<string, R>): Def<string, R, undefined> {
  return { kind: 'string', required: false as R, ...d };
}

/** One of a list of names; `Else` is what else it takes (a model, centres), checked by the model. */
export function choice<Else = never>() {
  return <const C extends readonly string[], const Dv extends C[number] | undefined = undefined>(
    choices: C,
    d: Declared<C[number] | Else, false> & { default?: Dv; orElse?: string },
  ): Def<C[number] | Else, false, Dv> => ({ kind: 'choice', required: false, choices, ...d });
}

/** A value of another shape (an array, a device), checked by `check` where given. */
export function value<T>() {
  return <R extends boolean = false, const Dv extends T | undefined = undefined>(
    d: Declared<T, R> & { default?: Dv; check?: (value: unknown, name: string) => void },
  ): Def<T, R, Dv> => ({ kind: 'value', required: false as R, ...d });
}

/** scikit-learn's names of a schema's options, to ours. */
function foreignNames(schema: OptionSchema): Record<string, string> {
  return Object.fromEntries(
    Object.entries(schema).flatMap(([name, def]) =>
      [...(def.sklearn ? [def.sklearn] : []), ...(def.aliases ?? [])].map((theirs) => [theirs, name]),
    ),
  );
}

/** Refuses keys of `options` that the schema lacks, suggesting the nearest (scikit-learn's names too). */
function checkSchemaKeys(
  what: string,
  options: object,
  schema: OptionSchema,
  /** Keys taken besides the schema's (callbacks, a signal). */
  extraKeys: readonly string[] = [],
): void {
  const known = [...Object.keys(schema), ...extraKeys];
  const foreign = foreignNames(schema);
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = nearest(key, known, foreign);
    throw usageError(
      `${what}: unknown option '${key}'` +
        (near ? `; did you mean '${near}'?` : `; the options are ${known.join(', ')}`),
    );
  }
}

/**
 * Checks a user's options against the schema and fills in the defaults; each mistake is a usage
 * error naming the option. Values of a choice's other shapes and of `value` options without a
 * check are passed on as given.
 */
export function resolveSchema<S extends OptionSchema>(
  what: string,
  schema: S,
  options: unknown,
  extraKeys: readonly string[] = [],
): ResolvedOf<S> {
  const required = Object.keys(schema).filter((k) => schema[k].required);
  if (!options || typeof options !== 'object' || Array.isArray(options))
    throw usageError(`${what} needs an options object: { ${required.join(', ')} }`);
  checkSchemaKeys(what, options, schema, extraKeys);
  const given = options as Record<string, unknown>;
  const resolved: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(schema)) {
    const v = given[name] ?? def.default;
    if (v === undefined && !def.required) continue;
    checkValue(name, def, v);
    resolved[name] = v;
  }
  return resolved as ResolvedOf<S>;
}

/** Throws a usage error naming the option unless `v` is a value the declaration allows. */
export function checkValue(name: string, def: OptionDef, v: unknown): void {
  const shown = typeof v === 'string' ? `'${v}'` : String(v);
  const fail = (must: string) => usageError(`${name} must be ${must}, got ${shown}`);
  switch (def.kind) {
    case 'integer': {
      const { min, max, unit } = def;
      const what = unit ? `an integer number of ${unit}` : 'an integer';
      const range =
        min !== undefined && max !== undefined
          ? ` from ${min} to ${max}`
          : min !== undefined
            ? ` >= ${min}`
            : '';
      if (
        !Number.isSafeInteger(v) ||
        (min !== undefined && Number(v) < min) ||
        (max !== undefined && Number(v) > max)
      )
        throw fail(what + range);
      return;
    }
    case 'number': {
      const { min, above } = def;
      const range = min !== undefined ? ` >= ${min}` : above !== undefined ? ` > ${above}` : '';
      if (
        typeof v !== 'number' ||
        !Number.isFinite(v) ||
        (min !== undefined && v < min) ||
        (above !== undefined && !(v > above))
      )
        throw fail(`a finite number${range}`);
      return;
    }
    case 'boolean':
      if (typeof v !== 'boolean') throw fail('true or false');
      return;
    case 'string':
      if (typeof v !== 'string') throw fail('a string');
      return;
    case 'choice':
      if (typeof v !== 'object' || v === null || !def.orElse)
        checkChoice(name, v, def.choices ?? [], def.orElse ?? '');
      else def.check?.(v, name);
      return;
    case 'value':
      def.check?.(v, name);
      return;
  }
}

/** An option's default (for a caller that needs it before a model resolves its options). */
export function defaultOf<S extends OptionSchema, K extends keyof S & string>(
  schema: S,
  name: K,
): ValueOf<S[K]> {
  const v = schema[name].default;
  if (v === undefined) throw new Error(`option ${name} has no default`);
  return v as ValueOf<S[K]>;
}
