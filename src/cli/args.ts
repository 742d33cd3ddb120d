import { nearest } from '../core/names.js';
import { usageError } from '../errors.js';

/** One option of a command: its flags, whether it takes a value, and how to check that value. */
export interface OptionSpec {
  readonly name: string;
  readonly flags: readonly string[];
  readonly value?: 'string' | 'integer' | 'number';
  readonly choices?: readonly string[];
  readonly min?: number;
}

export type ParsedOptions = Record<string, string | number | boolean | undefined>;

/**
 * Parses `argv` against a table of options: `--flag value`, `--flag=value` and `-k 3`; the rest
 * are positionals. Every mistake is a usage error that names the flag.
 */
export function parseArgs(
  argv: readonly string[],
  specs: readonly OptionSpec[],
): { options: ParsedOptions; positionals: string[] } {
  const byFlag = new Map<string, OptionSpec>();
  for (const s of specs) for (const f of s.flags) byFlag.set(f, s);
  const options: ParsedOptions = {};
  const positionals: string[] = [];
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
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const spec = byFlag.get(flag);
    if (!spec) {
      const near = nearest(flag, [...byFlag.keys()]);
      throw usageError(`unknown option ${flag}; ${near ? `did you mean ${near}? ` : ''}see --help`);
    }
    if (!spec.value) {
      if (eq > 0) throw usageError(`${flag} takes no value`);
      options[spec.name] = true;
      continue;
    }
    let raw: string | undefined;
    if (eq > 0) raw = arg.slice(eq + 1);
    else {
      raw = argv[++i];
      if (raw === undefined) throw usageError(`${flag} needs a value`);
    }
    options[spec.name] = convert(flag, spec, raw);
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
