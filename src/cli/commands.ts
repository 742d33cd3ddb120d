import { nearest } from '../core/names.js';
import { usageError } from '../errors.js';
import { parseArgs, type OptionSpec, type ParsedArgs } from './args.js';
import { BGMM } from './bgmm.js';
import { COMMAND_TABLE, type CommandName } from './command-table.js';
import type { Run } from './common.js';
import { runFit } from './fit.js';
import { GMM } from './gmm.js';
import { commandHelpText, usageText, type CommandHelp } from './help.js';
import { runInfo } from './info.js';
import { KMEANS } from './kmeans.js';
import { runMstep } from './mstep.js';
import { runPredict } from './predict.js';
import { runSample } from './sample.js';
import { runScore } from './score.js';
import { runSelect } from './select.js';
import { runStats } from './stats.js';
import {
  BGMM_OPTIONS,
  GMM_OPTIONS,
  HELP_OPTIONS,
  INFO_OPTIONS,
  KMEANS_OPTIONS,
  MSTEP_OPTIONS,
  PREDICT_OPTIONS,
  SAMPLE_OPTIONS,
  SCORE_OPTIONS,
  SELECT_OPTIONS,
  STATS_OPTIONS,
} from './usage.js';

// The command registry: every command once, from which come dispatch, each command's --help,
// the global usage text and (through command-table.ts) the launcher's list of GPU commands.

export interface Command extends CommandHelp {
  readonly name: CommandName;
  readonly usesGpu: boolean;
  readonly options: readonly OptionSpec[];
  /** Runs the command on its parsed command line; resolves to the exit code. */
  readonly run: (args: ParsedArgs, run: Run) => Promise<number>;
}

/** What a command adds to its line of the table: its options, help and code. */
type Definition = Omit<Command, 'name' | 'usage' | 'summary' | 'usesGpu'>;

/** Every command of the table, held to it by the compiler: one missing or extra fails to build. */
const DEFINITIONS: { readonly [N in CommandName]: Definition } = {
  gmm: {
    about: 'Fits a Gaussian mixture with EM; --out saves the model for predict, score and sample.',
    example: 'webgpu-em gmm data.csv -k 3 --out model.json --labels labels.txt',
    options: GMM_OPTIONS,
    run: (args, run) => runFit(GMM, args, run),
  },
  bgmm: {
    about:
      "Fits a Bayesian Gaussian mixture by variational inference (scikit-learn's BayesianGaussianMixture):\n" +
      'at most KMAX components, those the data does not need left with weight near 0; --out saves the\n' +
      'posterior (webgpu-em/bgmm@1) for predict, score and sample. --tol applies to the lower bound, a total.',
    example: 'webgpu-em bgmm data.csv -k 10 --weight-concentration-prior 0.01 --out model.json',
    options: BGMM_OPTIONS,
    run: (args, run) => runFit(BGMM, args, run),
  },
  kmeans: {
    about: "Fits k-means (Lloyd's algorithm); --out saves the centres for predict.",
    example: 'webgpu-em kmeans data.npy -k 8 --out centres.json',
    options: KMEANS_OPTIONS,
    run: (args, run) => runFit(KMEANS, args, run),
  },
  select: {
    about: 'Fits a mixture for each K (and covariance type) and keeps the best by BIC or AIC.',
    example: 'webgpu-em select data.csv --k-range 1..8 --covariance full,diag --out best.json',
    options: SELECT_OPTIONS,
    run: runSelect,
  },
  predict: {
    about:
      'The most likely component (k-means: the nearest centre) of each row, one a line; --proba writes\n' +
      'each row\'s component probabilities as CSV. --out FILE.npy writes .npy. "-" is stdin/stdout.\n' +
      "When the model has column names and the data a header, the model's columns are picked by name.",
    example:
      'webgpu-em predict model.json new.csv --out labels.txt\n  cat new.csv | webgpu-em predict model.json - --proba > proba.csv',
    options: PREDICT_OPTIONS,
    run: runPredict,
  },
  score: {
    about:
      'Prints the mean log-likelihood of the rows under the model, a bare number (k-means: minus the\n' +
      'mean squared distance to the nearest centre); --per-sample FILE writes one value a row.',
    example: 'webgpu-em score model.json test.csv --per-sample loglik.csv',
    options: SCORE_OPTIONS,
    run: runScore,
  },
  sample: {
    about: "Draws N rows from a saved mixture (seeded), as CSV with the model's column names, or .npy.",
    example: 'webgpu-em sample model.json -n 1000 --seed 7 --out synthetic.csv',
    options: SAMPLE_OPTIONS,
    run: runSample,
  },
  stats: {
    about:
      "One shard's E-step sums under the model's parameters (webgpu-em/stats@1 JSON, float64, with a\n" +
      'hash of the parameters): the worker side of EM over many machines; mstep merges them.',
    example: 'webgpu-em stats model.json shard-07.npy --out stats-07.json',
    options: STATS_OPTIONS,
    run: runStats,
  },
  mstep: {
    about:
      'Merges the statistics of every shard (float64; all of one model, D and family) and takes the\n' +
      'M-step: the next model, saved as the fit commands save theirs, with the lower bound.',
    example: 'webgpu-em mstep stats-*.json --model model.json --out next.json',
    options: MSTEP_OPTIONS,
    run: runMstep,
  },
  info: {
    about:
      'Lists every WebGPU adapter Dawn sees and the sizes the chosen one supports; with a model\n' +
      'file, describes the model.',
    example: 'webgpu-em info\n  webgpu-em info model.json',
    options: INFO_OPTIONS,
    run: runInfo,
  },
  help: {
    about: "Shows the list of commands, or a command's help.",
    example: 'webgpu-em help gmm',
    options: HELP_OPTIONS,
    run: async ({ positionals }, run) => help(run, positionals[0]),
  },
};

/** The registry, in the table's order. */
export const COMMANDS: readonly Command[] = (Object.keys(COMMAND_TABLE) as CommandName[]).map((name) => ({
  name,
  ...COMMAND_TABLE[name],
  ...DEFINITIONS[name],
}));

const byName = new Map<string, Command>(COMMANDS.map((c) => [c.name, c]));

/** The global usage text. */
export const usage = (): string => usageText(COMMANDS);

/** A command's help text (the global one for a name that is none). */
export function commandHelp(name: string | undefined): string {
  const command = name === undefined ? undefined : byName.get(name);
  return command ? commandHelpText(command) : usage();
}

function help(run: Run, name?: string): number {
  run.streams.stdout(commandHelp(name) + '\n');
  return 0;
}

/** Runs `argv` (a command and its arguments): parses its options, shows its --help or runs it. */
export async function dispatch(argv: readonly string[], run: Run): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined)
    throw usageError('no command given; run `webgpu-em help` for the commands and options');
  if (name === '-h' || name === '--help') return help(run, rest[0]);
  const command = byName.get(name);
  if (!command) {
    const near = nearest(name, [...byName.keys()]);
    throw usageError(
      `unknown command '${name}'; ${near ? `did you mean ${near}? ` : ''}commands are ${[...byName.keys()].join(', ')}`,
    );
  }
  const args = parseArgs(rest, command.options);
  if (args.options.help) return help(run, command.name);
  return command.run(args, run);
}
