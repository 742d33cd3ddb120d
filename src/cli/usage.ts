import { COVARIANCE_TYPES } from '../core/names.js';
import { DEFAULT_MAX_GPU_BYTES } from '../backends/select.js';
import { DEFAULT_MAX_INPUT_BYTES, formatBytes } from '../io/files.js';
import { BAYESIAN_MIXTURE_SCHEMA } from '../models/bayesian-mixture-options.js';
import { GAUSSIAN_MIXTURE_SCHEMA } from '../models/gaussian-mixture-options.js';
import { KMEANS_SCHEMA } from '../models/kmeans-options.js';
import { SELECTION_SCHEMA } from '../models/model-selection.js';
import type { OptionSpec } from './args.js';
import { flagOf, schemaFlags, shownDefault } from './schema-flags.js';
import { INFO_BACKEND } from './info.js';

// The options of every command, each with its one line of help. A model's options are made from
// its option schema (flag, range, help and default written there once); the rest are the CLI's
// own: how data is read and results written.

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

const BACKEND = flagOf('backend', GAUSSIAN_MIXTURE_SCHEMA.backend);
const ADAPTER = flagOf('adapter', GAUSSIAN_MIXTURE_SCHEMA.adapter);
const WEIGHTS: OptionSpec = {
  name: 'weights',
  flags: ['--weights'],
  value: 'string',
  help: 'one weight per data row (text, one a line, or a 1-D .npy); 0 drops a row',
};

/** What every fit command shares after its own options: the run, the outputs, the data. */
const RUN_OPTIONS: OptionSpec[] = [
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

const INIT_LABELS: OptionSpec = {
  name: 'initLabels',
  flags: ['--init-labels'],
  value: 'string',
  help: 'start from these labels, one integer in [0, K) per data row',
};

/** The flags every mixture command takes after its own, in the order its help lists them. */
const MIXTURE_RUN = ['init', 'maxIter', 'tol', 'nInit', 'regCovar', 'seed', 'backend', 'adapter'] as const;

/** A model given by file, whose K -k must then agree with. */
const INIT_MODEL_K = 'K of --init-model';

export const GMM_OPTIONS: OptionSpec[] = [
  { ...flagOf('nComponents', GAUSSIAN_MIXTURE_SCHEMA.nComponents), default: INIT_MODEL_K },
  ...schemaFlags(GAUSSIAN_MIXTURE_SCHEMA, 'covarianceType'),
  {
    name: 'initModel',
    flags: ['--init-model'],
    value: 'string',
    help: 'start from the model in FILE (a k-means model: its means)',
  },
  INIT_LABELS,
  ...schemaFlags(GAUSSIAN_MIXTURE_SCHEMA, ...MIXTURE_RUN),
  ...RUN_OPTIONS,
];

export const BGMM_OPTIONS: OptionSpec[] = [
  ...schemaFlags(BAYESIAN_MIXTURE_SCHEMA, 'nComponents', 'covarianceType'),
  INIT_LABELS,
  ...schemaFlags(
    BAYESIAN_MIXTURE_SCHEMA,
    'weightConcentrationPriorType',
    'weightConcentrationPrior',
    'meanPrecisionPrior',
    'meanPrior',
    'degreesOfFreedomPrior',
    'covariancePrior',
    ...MIXTURE_RUN,
  ),
  ...RUN_OPTIONS,
];

export const KMEANS_OPTIONS: OptionSpec[] = [
  { ...flagOf('nClusters', KMEANS_SCHEMA.nClusters), default: INIT_MODEL_K },
  flagOf('init', KMEANS_SCHEMA.init),
  { name: 'initModel', flags: ['--init-model'], value: 'string', help: 'start from the means in FILE' },
  ...schemaFlags(KMEANS_SCHEMA, 'maxIter', 'tol', 'nInit', 'seed', 'backend', 'adapter'),
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
    name: 'covarianceTypes',
    flags: ['--covariance'],
    value: 'string',
    help: `covariance types to try: a list of ${COVARIANCE_TYPES.join(', ')}`,
    default: shownDefault(SELECTION_SCHEMA.covarianceTypes.default),
  },
  ...schemaFlags(SELECTION_SCHEMA, 'criterion', ...MIXTURE_RUN),
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
  {
    ...flagOf('regCovar', GAUSSIAN_MIXTURE_SCHEMA.regCovar),
    help: "added to covariance diagonals (with --model: the model's)",
  },
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
  {
    ...flagOf('seed', GAUSSIAN_MIXTURE_SCHEMA.seed),
    help: 'seed of the draws: the same seed gives the same rows',
  },
  { name: 'out', flags: ['--out'], value: 'string', help: 'write to FILE (.npy by its name)', default: '-' },
  QUIET,
  VERBOSE,
  HELP,
];

export const INFO_OPTIONS: OptionSpec[] = [
  { ...BACKEND, default: INFO_BACKEND },
  ADAPTER,
  JSON_OUTPUT,
  VERBOSE,
  HELP,
];

export const HELP_OPTIONS: OptionSpec[] = [HELP];
