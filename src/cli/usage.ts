import {
  BACKEND_CHOICES,
  COVARIANCE_TYPES,
  CRITERIA,
  GMM_INIT_METHODS,
  KMEANS_INIT_METHODS,
} from '../core/names.js';
import { DEFAULT_MAX_GPU_BYTES } from '../backends/select.js';
import { DEFAULT_MAX_INPUT_BYTES, formatBytes } from '../io/files.js';
import { WEIGHT_CONCENTRATION_PRIOR_TYPES } from '../models/variational.js';
import type { OptionSpec } from './args.js';

// The options of every command, each with its one line of help. Choices come from the tables in
// core/names.ts; a default is the library's (`{ option }`: read from the model's resolved
// options when the help is shown) or a library constant's, never written here again.

const QUIET: OptionSpec = {
  name: 'quiet',
  flags: ['-q', '--quiet'],
  help: 'nothing on stderr but errors (no warnings, no progress)',
};
const VERBOSE: OptionSpec = {
  name: 'verbose',
  flags: ['-v', '--verbose'],
  help: "also the GPU driver's own messages",
};
const HELP: OptionSpec = { name: 'help', flags: ['-h', '--help'], help: 'show this help' };
const JSON_OUTPUT: OptionSpec = {
  name: 'json',
  flags: ['--json'],
  help: 'print the result as one JSON object on stdout',
};

/** How every command reads its data, and what it says on stderr. */
export const DATA_OPTIONS: OptionSpec[] = [
  {
    name: 'header',
    flags: ['--header'],
    help: 'CSV: the first row is a header (default: when none of its cells is a number)',
  },
  { name: 'noHeader', flags: ['--no-header'], help: 'CSV: the first row is data' },
  {
    name: 'maxInputSize',
    flags: ['--max-input-size'],
    value: 'string',
    help: 'most bytes read from data that is not a regular file (stdin, a pipe), e.g. 512M',
    default: () => formatBytes(DEFAULT_MAX_INPUT_BYTES),
  },
  {
    name: 'columns',
    flags: ['--columns'],
    value: 'string',
    help: 'the feature columns, by header name or 1-based index: A,B,...',
  },
  {
    name: 'numericOnly',
    flags: ['--numeric-only'],
    help: 'CSV: the columns whose first data cell is a number (drops labels)',
  },
  {
    name: 'dims',
    flags: ['--dims'],
    value: 'integer',
    min: 1,
    help: 'read the data as raw little-endian float32, D values a row',
  },
  {
    name: 'stream',
    flags: ['--stream'],
    help: 'read the data a block at a time on every pass (automatic above --max-gpu-memory)',
  },
  {
    name: 'maxGpuMemory',
    flags: ['--max-gpu-memory'],
    value: 'string',
    help: "device memory a streamed pass may use, e.g. 64M (or the adapter's largest buffer)",
    default: () => formatBytes(DEFAULT_MAX_GPU_BYTES),
  },
  QUIET,
  VERBOSE,
  HELP,
];

const BACKEND: OptionSpec = {
  name: 'backend',
  flags: ['--backend'],
  value: 'string',
  choices: BACKEND_CHOICES,
  help: 'where the work runs: auto takes WebGPU when an adapter exists, else the CPU',
  default: { option: 'backend' },
};
const ADAPTER: OptionSpec = {
  name: 'adapter',
  flags: ['--adapter'],
  value: 'string',
  help: 'the Dawn adapter to use, by name (webgpu-em info lists them)',
  default: '$WEBGPU_EM_ADAPTER or the first',
};
const SEED: OptionSpec = {
  name: 'seed',
  flags: ['--seed'],
  value: 'integer',
  help: 'seed of every random choice (0 to 4294967295)',
  default: { option: 'seed' },
};
const WEIGHTS: OptionSpec = {
  name: 'weights',
  flags: ['--weights'],
  value: 'string',
  help: 'one weight per data row (text, one a line, or a 1-D .npy); 0 drops a row',
};

/** The iterations of every fit command. */
const LOOP_OPTIONS: OptionSpec[] = [
  {
    name: 'maxIter',
    flags: ['--max-iter'],
    value: 'integer',
    min: 1,
    help: 'most iterations per initialisation',
    default: { option: 'maxIter' },
  },
  {
    name: 'tol',
    flags: ['--tol'],
    value: 'number',
    min: 0,
    help: 'stop when the objective changes by less (0 runs exactly --max-iter)',
    default: { option: 'tol' },
  },
  {
    name: 'nInit',
    flags: ['--n-init'],
    value: 'integer',
    min: 1,
    help: 'initialisations; the best one is kept',
    default: { option: 'nInit' },
  },
];

/** What every fit command shares after its own options: the run, the outputs, the data. */
const RUN_OPTIONS: OptionSpec[] = [
  SEED,
  BACKEND,
  ADAPTER,
  WEIGHTS,
  {
    name: 'out',
    flags: ['--out'],
    value: 'string',
    help: 'write the result JSON to FILE, once the fit succeeded (- for stdout)',
  },
  {
    name: 'labels',
    flags: ['--labels'],
    value: 'string',
    help: 'write the component or cluster of each row, one a line (- for stdout)',
  },
  JSON_OUTPUT,
  ...DATA_OPTIONS,
];

const REG_COVAR: OptionSpec = {
  name: 'regCovar',
  flags: ['--reg-covar'],
  value: 'number',
  min: 0,
  help: 'added to covariance diagonals',
  default: { option: 'regCovar' },
};

const GMM_INIT: OptionSpec = {
  name: 'init',
  flags: ['--init'],
  value: 'string',
  choices: GMM_INIT_METHODS,
  help: 'how EM starts',
  default: { option: 'init' },
};

const COVARIANCE: OptionSpec = {
  name: 'covariance',
  flags: ['--covariance'],
  value: 'string',
  choices: COVARIANCE_TYPES,
  help: 'the covariance family',
  default: { option: 'covarianceType' },
};
const INIT_LABELS: OptionSpec = {
  name: 'initLabels',
  flags: ['--init-labels'],
  value: 'string',
  help: 'start from these labels, one integer in [0, K) per data row',
};

export const GMM_OPTIONS: OptionSpec[] = [
  {
    name: 'k',
    flags: ['-k', '--n-components'],
    value: 'integer',
    min: 1,
    help: 'number of components',
    default: 'K of --init-model',
  },
  COVARIANCE,
  {
    name: 'initModel',
    flags: ['--init-model'],
    value: 'string',
    help: 'start from the model in FILE (a k-means model: its means)',
  },
  INIT_LABELS,
  GMM_INIT,
  ...LOOP_OPTIONS,
  REG_COVAR,
  ...RUN_OPTIONS,
];

export const BGMM_OPTIONS: OptionSpec[] = [
  {
    name: 'k',
    flags: ['-k', '--n-components'],
    value: 'integer',
    min: 1,
    help: 'the most components; those the data does not need get weight near 0',
  },
  COVARIANCE,
  INIT_LABELS,
  {
    name: 'weightConcentrationPriorType',
    flags: ['--weight-concentration-prior-type'],
    value: 'string',
    choices: WEIGHT_CONCENTRATION_PRIOR_TYPES,
    help: "the weights' prior",
    default: { option: 'weightConcentrationPriorType' },
  },
  {
    name: 'weightConcentrationPrior',
    flags: ['--weight-concentration-prior'],
    value: 'number',
    help: "gamma_0 of the weights' prior (smaller: fewer components)",
    default: '1/KMAX',
  },
  {
    name: 'meanPrecisionPrior',
    flags: ['--mean-precision-prior'],
    value: 'number',
    help: "beta_0, the precision of the means' prior",
    default: { option: 'meanPrecisionPrior' },
  },
  {
    name: 'meanPrior',
    flags: ['--mean-prior'],
    value: 'string',
    help: 'm_0, D values A,B,...',
    default: "the data's mean",
  },
  {
    name: 'degreesOfFreedomPrior',
    flags: ['--degrees-of-freedom-prior'],
    value: 'number',
    help: 'nu_0, greater than D - 1',
    default: 'D',
  },
  {
    name: 'covariancePrior',
    flags: ['--covariance-prior'],
    value: 'string',
    help: 'W_0^-1: D x D values (full, tied), D (diag) or one (spherical)',
    default: "the data's covariance",
  },
  GMM_INIT,
  ...LOOP_OPTIONS,
  REG_COVAR,
  ...RUN_OPTIONS,
];

export const KMEANS_OPTIONS: OptionSpec[] = [
  {
    name: 'k',
    flags: ['-k', '--n-clusters'],
    value: 'integer',
    min: 1,
    help: 'number of clusters',
    default: 'K of --init-model',
  },
  {
    name: 'init',
    flags: ['--init'],
    value: 'string',
    choices: KMEANS_INIT_METHODS,
    help: 'how the centres start',
    default: { option: 'init' },
  },
  { name: 'initModel', flags: ['--init-model'], value: 'string', help: 'start from the means in FILE' },
  // k-means' tolerance is on the centres' shift, not on the objective.
  ...LOOP_OPTIONS.map((o) =>
    o.name === 'tol'
      ? { ...o, help: 'stop when the centres shift by less, relative to the data variance' }
      : o,
  ),
  ...RUN_OPTIONS,
];

export const SELECT_OPTIONS: OptionSpec[] = [
  {
    name: 'kRange',
    flags: ['--k-range'],
    value: 'string',
    help: 'component counts to try: A..B, or a list 1,2,4,8',
  },
  {
    name: 'covariance',
    flags: ['--covariance'],
    value: 'string',
    help: `covariance types to try: a list of ${COVARIANCE_TYPES.join(', ')}`,
    default: { option: 'covarianceType' },
  },
  {
    name: 'criterion',
    flags: ['--criterion'],
    value: 'string',
    choices: CRITERIA,
    help: 'what picks the winner (lower is better)',
    default: { option: 'criterion' },
  },
  GMM_INIT,
  ...LOOP_OPTIONS,
  REG_COVAR,
  ...RUN_OPTIONS,
];

/** The options of the commands that apply a saved model. */
const APPLY_OPTIONS: OptionSpec[] = [...DATA_OPTIONS, BACKEND, ADAPTER];

export const PREDICT_OPTIONS: OptionSpec[] = [
  ...APPLY_OPTIONS,
  { name: 'proba', flags: ['--proba'], help: "each row's component probabilities, as CSV" },
  { name: 'out', flags: ['--out'], value: 'string', help: 'write to FILE (.npy by its name)', default: '-' },
];

export const SCORE_OPTIONS: OptionSpec[] = [
  ...APPLY_OPTIONS,
  {
    name: 'perSample',
    flags: ['--per-sample'],
    value: 'string',
    help: "also write each row's score to FILE (.npy by its name)",
  },
];

export const STATS_OPTIONS: OptionSpec[] = [
  ...APPLY_OPTIONS,
  WEIGHTS,
  {
    name: 'out',
    flags: ['--out'],
    value: 'string',
    help: 'write the statistics (webgpu-em/stats@1 JSON) to FILE',
    default: '-',
  },
];

export const MSTEP_OPTIONS: OptionSpec[] = [
  {
    name: 'model',
    flags: ['--model'],
    value: 'string',
    help: 'the model the statistics were computed under: others are refused',
  },
  { ...REG_COVAR, help: "added to covariance diagonals (with --model: the model's)" },
  {
    name: 'out',
    flags: ['--out'],
    value: 'string',
    help: 'write the next model (a result with its lower bound) to FILE',
  },
  JSON_OUTPUT,
  QUIET,
  HELP,
];

export const SAMPLE_OPTIONS: OptionSpec[] = [
  { name: 'n', flags: ['-n', '--n-samples'], value: 'integer', min: 1, help: 'rows to draw' },
  { ...SEED, help: 'seed of the draws: the same seed gives the same rows' },
  { name: 'out', flags: ['--out'], value: 'string', help: 'write to FILE (.npy by its name)', default: '-' },
  QUIET,
  VERBOSE,
  HELP,
];

export const INFO_OPTIONS: OptionSpec[] = [BACKEND, ADAPTER, JSON_OUTPUT, VERBOSE, HELP];

export const HELP_OPTIONS: OptionSpec[] = [HELP];
