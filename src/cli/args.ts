import { nearest } from '../core/names.js';
import { usageError } from '../errors.js';

/**
 * An option's default as `--help` shows it: text (a value, or what it depends on: "the data's
 * mean"), or a function that computes it from the library's constants.
 */
export type OptionDefault = (() => string) | string;

/**
 * One option of a command: its flags, whether it takes a value, how to check it, and its help.
 * A model's options are made from its option schema (schema-flags.ts); the name is then the
 * library option's.
 */
export interface OptionSpec {
  readonly name: string;
  readonly flags: readonly string[];
  /** What it takes: text, an integer, a number, or numbers written comma-separated. */
  readonly value?: 'string' | 'integer' | 'number' | 'numbers';
  readonly choices?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** A number it must exceed. */
  readonly above?: number;
  /** One line for `--help`: what it does. */
  readonly help: string;
  readonly default?: OptionDefault;
  /** scikit-learn's name of the option: `--random-state` then suggests its flag. */
  readonly sklearn?: string;
}

export type ParsedOptions = Record<string, string | number | boolean | number[] | undefined>;

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
  const foreign = Object.fromEntries(specs.flatMap((s) => (s.sklearn ? [[s.sklearn, s.flags.at(-1)!]] : [])));
  const options: ParsedOptions = {};
  const positionals: string[] = [];
  const unknown = (flag: string, where = '') => {
    const near = nearest(flag, [...byFlag.keys()], foreign);
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

function convert(flag: string, spec: OptionSpec, raw: string): string | number | number[] {
  if (spec.choices && !spec.choices.includes(raw)) {
    const near = nearest(raw, spec.choices);
    throw usageError(
      `${flag} must be one of ${spec.choices.join(', ')}; got '${raw}'${near ? `; did you mean ${near}?` : ''}`,
    );
  }
  if (spec.value === 'string') return raw;
  if (spec.value === 'numbers') return numberList(flag, raw);
  const n = Number(raw);
  // Decimal only: Number() also reads '0x10', '0b11' and '0o7', which nobody means for -k or --tol.
  if (!DECIMAL.test(raw) || !Number.isFinite(n))
    throw usageError(`${flag} needs a number, got '${raw}'; write it in decimal (e.g. 3, 0.5, 1e-3)`);
  if (spec.value === 'integer' && !Number.isInteger(n))
    throw usageError(`${flag} needs an integer, got '${raw}'`);
  if (spec.min !== undefined && spec.max !== undefined && !(n >= spec.min && n <= spec.max)) {
    const what = spec.value === 'integer' ? 'an integer' : 'a number';
    throw usageError(`${flag} must be ${what} from ${spec.min} to ${spec.max}, got ${raw}`);
  }
  if (spec.min !== undefined && n < spec.min) throw usageError(`${flag} must be >= ${spec.min}, got ${raw}`);
  if (spec.above !== undefined && !(n > spec.above))
    throw usageError(`${flag} must be > ${spec.above}, got ${raw}`);
  return n;
}

/** Comma-separated finite numbers (`0,1.5,-2`). */
function numberList(flag: string, text: string): number[] {
  const cells = text.split(',').map((cell) => cell.trim());
  if (cells.some((cell) => !DECIMAL.test(cell) || !Number.isFinite(Number(cell)))) {
    throw usageError(`${flag} takes comma-separated finite numbers, got '${text.slice(0, 60)}'`);
  }
  return cells.map(Number);
}
