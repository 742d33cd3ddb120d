// The commands by name: what each is, how it is called, and whether it may open a GPU. The
// launcher (bin/webgpu-em.js) reads this before the rest of the package loads, so it imports
// nothing but the one constant it derives its cut-off from; commands.ts adds each command's
// options and code, and the compiler holds the two to the same names.
import { AUTO_CPU_MAX_VALUES } from '../backends/auto-cpu.js';

interface CommandEntry {
  /** What follows the command's name in the usage line. */
  readonly usage: string;
  /** One line for the list of commands. */
  readonly summary: string;
  /** Whether it may open a GPU (the launcher then runs it in a child that hides Dawn's warnings). */
  readonly usesGpu: boolean;
  /** A fit whose `auto` backend takes the CPU for small data (see AUTO_CPU_MAX_VALUES). */
  readonly fitsData?: true;
}

export const COMMAND_TABLE = {
  gmm: {
    usage: '<data> -k K [options]',
    summary: 'fit a Gaussian mixture with EM (data: .csv, .npy or - for stdin)',
    usesGpu: true,
    fitsData: true,
  },
  bgmm: {
    usage: '<data> -k KMAX [options]',
    summary: 'fit a Bayesian (variational) mixture: K chosen by the data',
    usesGpu: true,
    fitsData: true,
  },
  kmeans: {
    usage: '<data> -k K [options]',
    summary: "fit k-means (Lloyd's hard EM)",
    usesGpu: true,
    fitsData: true,
  },
  select: {
    usage: '<data> --k-range A..B',
    summary: 'fit a mixture for each K (and covariance type), pick by BIC',
    usesGpu: true,
    fitsData: true,
  },
  predict: {
    usage: '<model> <data>',
    summary: 'the component (--proba: probabilities) of each row, by a saved model',
    usesGpu: true,
  },
  score: {
    usage: '<model> <data>',
    summary: 'the mean log-likelihood of the data under a saved model',
    usesGpu: true,
  },
  sample: { usage: '<model> -n N', summary: 'draw N rows from a saved mixture', usesGpu: false },
  stats: {
    usage: '<model> <shard>',
    summary: "one shard's EM statistics under a model (distributed EM)",
    usesGpu: true,
  },
  mstep: {
    usage: '<stats...>',
    summary: "merge shards' statistics and take the M-step: the next model",
    usesGpu: false,
  },
  info: {
    usage: '[model]',
    summary: 'list the WebGPU adapters (or describe a saved model)',
    usesGpu: true,
  },
  help: {
    usage: '[command]',
    summary: "show this help, or a command's (also: <command> --help)",
    usesGpu: false,
  },
} as const satisfies Record<string, CommandEntry>;

export type CommandName = keyof typeof COMMAND_TABLE;

const names = Object.keys(COMMAND_TABLE) as CommandName[];
const entry = (name: CommandName): CommandEntry => COMMAND_TABLE[name];

/** The commands the launcher runs in a child process (unless it can tell that no GPU opens). */
export const GPU_COMMANDS: readonly CommandName[] = names.filter((n) => entry(n).usesGpu);

/** The fits whose `auto` backend takes the CPU for data of at most AUTO_CPU_MAX_VALUES values. */
export const AUTO_CPU_COMMANDS: readonly CommandName[] = names.filter((n) => entry(n).fitsData);

/**
 * The largest data file that cannot hold more than AUTO_CPU_MAX_VALUES values, at two bytes a
 * value at least (a digit and a separator): `auto` fits it on the CPU and opens no GPU.
 */
export const AUTO_CPU_MAX_FILE_BYTES = 2 * AUTO_CPU_MAX_VALUES;
