import type { OptionSpec } from './args.js';

// The help texts, made from the command registry (commands.ts): the list of commands, and each
// command's usage, example and flags, every flag with its line of help and its default.

/** What the help of a command is made from (a registry entry). */
export interface CommandHelp {
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  readonly about: string;
  readonly example: string;
  readonly options: readonly OptionSpec[];
}

/** Where a flag's help starts. */
const HELP_COLUMN = 34;

/** The global help: every command with its summary. */
export function usageText(commands: readonly CommandHelp[]): string {
  const line = (left: string, right: string) => `  ${left.padEnd(HELP_COLUMN - 3)}  ${right}`;
  return [
    'Usage: webgpu-em <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => line(`${c.name} ${c.usage}`, c.summary)),
    line('--version', 'print the version'),
    '',
    "Run webgpu-em <command> --help for a command's options, each with its default.",
    '',
    'Exit codes: 0 success, 2 usage error, 1 data or runtime error, 130 interrupted (Ctrl-C).',
  ].join('\n');
}

/** A command's help: its usage, what it does, an example, and every flag. */
export function commandHelpText(c: CommandHelp): string {
  const flags = c.options.flatMap((o) => {
    const left = `  ${o.flags.join(', ')}${metavar(o)}`;
    const shown = flagDefault(o);
    const right = `${o.help}${shown === null ? '' : ` (default ${shown})`}`;
    return left.length < HELP_COLUMN
      ? [`${left.padEnd(HELP_COLUMN)}${right}`]
      : [left, `${' '.repeat(HELP_COLUMN)}${right}`];
  });
  const usage = `webgpu-em ${c.name} ${c.usage}${c.usage.includes('[options]') ? '' : ' [options]'}`;
  return [`Usage: ${usage}`, '', c.about, '', 'Example:', `  ${c.example}`, '', 'Options:', ...flags].join(
    '\n',
  );
}

function metavar(o: OptionSpec): string {
  if (!o.value) return '';
  if (o.choices) return ` ${o.choices.join('|')}`;
  if (o.value === 'numbers') return ' A,B,...';
  return o.value === 'string' ? ' VALUE' : ` ${o.value.toUpperCase()}`;
}

/** An option's default as the help shows it, or null when it has none. */
export function flagDefault(o: OptionSpec): string | null {
  const d = o.default;
  if (d === undefined) return null;
  return typeof d === 'function' ? d() : d;
}
