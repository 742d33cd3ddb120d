import { nearest } from '../core/names.js';
import { usageError } from '../errors.js';

/**
 * Where `--help` takes an option's default from: `{ option }` names the library option it sets
 * (its default is read from the library's resolved options, see Command.defaults), a function
 * computes it from the library's constants, and text says what it depends on ("the data's mean").
 */
export type OptionDefault = { readonly option: string } | (() => string) | string;

/** One option of a command: its flags, whether it takes a value, how to check it, and its help. */
export interface OptionSpec {
  readonly name: string;
  readonly flags: readonly string[];
  readonly value?: 'string' | 'integer' | 'number';
  readonly choices?: readonly string[];
  readonly min?: number;
  /** One line for `--help`: what it does. */
  readonly help: string;
  readonly default?: OptionDefault;
}

export type ParsedOptions = Record<string, string | number | boolean | undefined>;

/** A command line parsed against a command's options. */
export interface ParsedArgs {
  readonly options: ParsedOptions;
  readonly positionals: string[];
}

/**
 * Parses `argv` against a table of options, as getopt does: `--flag value`, `--flag=value`,
 * `-k 3`, `-k3`, bundled short flags (`-qk 3`: the last may take a value) and `--` ending the
 * options; the rest are positionals (`-` and negative numbers too). Every mistake is a usage
 * error that names the flag, and an unknown one suggests the nearest known flag.
 */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const byFlag = new Map<string, OptionSpec>();
  for (const s of specs) for (const f of s.flags) byFlag.set(f, s);
  const options: ParsedOptions = {};
  const positionals: string[] = [];
  const unknown = (flag: string, where = '') => {
    const near = nearest(flag, [...byFlag.keys()]);
    return usageError(`unknown option ${flag}${where}; ${near ? `did you mean ${near}? ` : ''}see --help`);
  };
  const take = (flag: string, spec: OptionSpec, inline: string | undefined, i: number): number => {
    if (!spec.value) {
      if (inline !== undefined) throw usageError(`${flag} takes no value`);
      options[spec.name] = true;
      return i;
    }
    const raw = inline ?? argv[++i];
    if (raw === undefined) throw usageError(`${flag} needs a value`);
    options[spec.name] = convert(flag, spec, raw);
    return i;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') || byFlag.has(eq > 0 ? arg.slice(0, eq) : arg)) {
      // A long flag, or a short one alone (`-k=3` as ever).
      const flag = eq > 0 ? arg.slice(0, eq) : arg;
      const spec = byFlag.get(flag);
      if (!spec) throw unknown(flag);
      i = take(flag, spec, eq > 0 ? arg.slice(eq + 1) : undefined, i);
      continue;
    }
    // Short flags bundled (`-qv`), the last of them may take a value (`-qk 3`, `-k3`, `-qk3`).
    for (let j = 1; j < arg.length; j++) {
      const flag = `-${arg[j]}`;
      const spec = byFlag.get(flag);
      // An unknown first letter is a mistyped flag as a whole (`-bogus`, `-max-iter`).
      if (!spec) throw j === 1 ? unknown(eq > 0 ? arg.slice(0, eq) : arg) : unknown(flag, ` in ${arg}`);
      if (spec.value) {
        const rest = arg.slice(j + 1);
        i = take(flag, spec, rest === '' ? undefined : rest.replace(/^=/, ''), i);
        break;
      }
      take(flag, spec, undefined, i);
    }
  }
  return { options, positionals };
}

const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i;

function convert(flag: string, spec: OptionSpec, raw: string): string | number {
  if (spec.choices && !spec.choices.includes(raw)) {
    const near = nearest(raw, spec.choices);
    throw usageError(
      `${flag} must be one of ${spec.choices.join(', ')}; got '${raw}'${near ? `; did you mean ${near}?` : ''}`,
    );
  }
  if (spec.value === 'string') return raw;
  const n = Number(raw);
  // Decimal only: Number() also reads '0x10', '0b11' and '0o7', which nobody means for -k or --tol.
  if (!DECIMAL.test(raw) || !Number.isFinite(n))
    throw usageError(`${flag} needs a number, got '${raw}'; write it in decimal (e.g. 3, 0.5, 1e-3)`);
  if (spec.value === 'integer' && !Number.isInteger(n))
    throw usageError(`${flag} needs an integer, got '${raw}'`);
  if (spec.min !== undefined && n < spec.min) throw usageError(`${flag} must be >= ${spec.min}, got ${raw}`);
  return n;
}
