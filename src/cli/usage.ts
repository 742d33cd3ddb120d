import {
  BACKEND_CHOICES,
  COVARIANCE_TYPES,
  CRITERIA,
  GMM_INIT_METHODS,
  KMEANS_INIT_METHODS,
  listOf,
} from '../core/names.js';
import { DEFAULT_MAX_INPUT_BYTES, formatBytes } from '../io/files.js';
import { WEIGHT_CONCENTRATION_PRIOR_TYPES } from '../models/variational.js';
import type { OptionSpec } from './args.js';

// The help text and the options of every command; choices come from the tables in core/names.ts.

export const USAGE = `Usage: webgpu-em <command> [options]

Commands:
  gmm <data> -k K [options]        fit a Gaussian mixture with EM (data: .csv, .npy or - for stdin)
  bgmm <data> -k KMAX [options]    fit a Bayesian (variational) mixture: K chosen by the data
  kmeans <data> -k K [options]     fit k-means (Lloyd's hard EM)
  select <data> --k-range A..B     fit a mixture for each K (and covariance type), pick by BIC
  predict <model> <data>           the component (--proba: probabilities) of each row, by a saved model
  score <model> <data>             the mean log-likelihood of the data under a saved model
  sample <model> -n N              draw N rows from a saved mixture
  stats <model> <shard>            one shard's EM statistics under a model (distributed EM)
  mstep <stats...>                 merge shards' statistics and take the M-step: the next model
  info [model]                     list the WebGPU adapters (or describe a saved model)
  help [command]                   show this help, or a command's (also: <command> --help)
  --version                        print the version

gmm options:
  -k, --n-components K        number of components (default: K of --init-model)
  --covariance TYPE           ${listOf(COVARIANCE_TYPES, { defaultFirst: true })}
  --max-iter N                most EM iterations per initialisation (default 100)
  --tol X                     stop when the mean log-likelihood changes by less (default 1e-3;
                              0 runs exactly --max-iter iterations)
  --reg-covar X               added to covariance diagonals (default 1e-6)
  --init METHOD               ${listOf(GMM_INIT_METHODS, { defaultFirst: true })}
  --init-model FILE           start from the weights, means and covariances in FILE
                              (a model with only means: estimate the rest from nearest means)
  --init-labels FILE          start from these labels, one integer in [0, K) per data row
  --n-init N                  initialisations; the best lower bound wins (default 1)

bgmm options (scikit-learn's BayesianGaussianMixture; also --covariance, --max-iter, --reg-covar,
--init, --init-labels and --n-init as for gmm; --tol applies to the lower bound, a total):
  -k, --n-components KMAX     the most components; those the data does not need get weight ~0
  --weight-concentration-prior-type T
                              ${listOf(WEIGHT_CONCENTRATION_PRIOR_TYPES, { defaultFirst: true })}
  --weight-concentration-prior X
                              gamma_0 of the weights' prior (default 1/KMAX; smaller: fewer components)
  --mean-precision-prior X    beta_0 (default 1)
  --mean-prior A,B,...        m_0, D values (default the data's mean)
  --degrees-of-freedom-prior X
                              nu_0 > D - 1 (default D)
  --covariance-prior A,B,...  W_0^-1: D x D values (full, tied), D (diag) or one (spherical);
                              default the data's covariance

kmeans options:
  -k, --n-clusters K          number of clusters (default: K of --init-model)
  --init METHOD               ${listOf(KMEANS_INIT_METHODS, { defaultFirst: true })}
  --init-model FILE           start from the means (centres) in FILE
  --max-iter N                most Lloyd iterations (default 300)
  --tol X                     centre-shift tolerance relative to the data variance (default 1e-4)
  --n-init N                  initialisations; the lowest inertia wins (default 1)

select options:
  --k-range A..B              component counts to try (or a list: 1,2,4,8)
  --covariance T1,T2          covariance types to try (default full)
  --criterion ${CRITERIA.join('|')}         what picks the winner (default ${CRITERIA[0]})
  and the gmm options --max-iter, --tol, --reg-covar, --init, --n-init

common options:
  --seed S                    seed of all random choices (default 0)
  --backend B                 ${listOf(BACKEND_CHOICES, { defaultFirst: true })}
  --adapter NAME              Dawn adapter to use (default: $WEBGPU_EM_ADAPTER or the first)
  --weights FILE              one weight per data row (text, one per line, or a 1-D .npy):
                              an integer weight counts its row that many times, 0 drops it
  --header / --no-header      CSV: the first row is / is not a header (default: a header
                              when none of its cells is a number)
  --out FILE                  write the result JSON to FILE (atomically, once the fit succeeded;
                              - for standard output)
  --labels FILE               write the component/cluster of each row, one per line (as --out)
  --max-input-size SIZE       most bytes read from data that is not a regular file (- for
                              standard input, a pipe, a device), e.g. 512M (default ${formatBytes(DEFAULT_MAX_INPUT_BYTES)})
  --columns A,B,...           the feature columns, by header name or 1-based index
  --numeric-only              CSV: the columns whose first data cell is a number (drops labels)
  --dims D                    read the data as raw little-endian float32, D values a row
  --stream                    read the data a block at a time on every pass (automatic for a
                              file larger than --max-gpu-memory): memory stays bounded
  --max-gpu-memory SIZE       device memory a streamed pass may use, e.g. 64M (default 256M,
                              or the adapter's largest buffer when smaller)
  --json                      print the result as one JSON object on stdout
  -q, --quiet                 nothing on stderr but errors (no warnings, no progress)
  -v, --verbose               also the GPU driver's own messages

stats options (and --backend, --adapter, --weights, the data options):
  --out FILE                  write the statistics (webgpu-em/stats@1 JSON) to FILE (default -)

mstep options:
  --model FILE                the model the statistics were computed under: refuse statistics
                              of other parameters; its columns and regCovar carry over
  --reg-covar X               added to covariance diagonals (default: the model's, or 1e-6)
  --out FILE                  write the next model (a result object with its lower bound) to FILE

Exit codes: 0 success, 2 usage error, 1 data or runtime error, 130 interrupted (Ctrl-C).`;

/** How every command reads its data, and what it says on stderr. */
export const DATA_OPTIONS: OptionSpec[] = [
  { name: 'header', flags: ['--header'] },
  { name: 'noHeader', flags: ['--no-header'] },
  { name: 'maxInputSize', flags: ['--max-input-size'], value: 'string' },
  { name: 'columns', flags: ['--columns'], value: 'string' },
  { name: 'numericOnly', flags: ['--numeric-only'] },
  { name: 'dims', flags: ['--dims'], value: 'integer', min: 1 },
  { name: 'stream', flags: ['--stream'] },
  { name: 'maxGpuMemory', flags: ['--max-gpu-memory'], value: 'string' },
  { name: 'quiet', flags: ['-q', '--quiet'] },
  { name: 'verbose', flags: ['-v', '--verbose'] },
  { name: 'help', flags: ['-h', '--help'] },
];

export const COMMON_OPTIONS: OptionSpec[] = [
  { name: 'seed', flags: ['--seed'], value: 'integer' },
  { name: 'backend', flags: ['--backend'], value: 'string', choices: BACKEND_CHOICES },
  { name: 'adapter', flags: ['--adapter'], value: 'string' },
  { name: 'weights', flags: ['--weights'], value: 'string' },
  { name: 'out', flags: ['--out'], value: 'string' },
  { name: 'labels', flags: ['--labels'], value: 'string' },
  ...DATA_OPTIONS,
  { name: 'json', flags: ['--json'] },
  { name: 'maxIter', flags: ['--max-iter'], value: 'integer', min: 1 },
  { name: 'tol', flags: ['--tol'], value: 'number', min: 0 },
  { name: 'nInit', flags: ['--n-init'], value: 'integer', min: 1 },
];

export const GMM_FIT_OPTIONS: OptionSpec[] = [
  { name: 'regCovar', flags: ['--reg-covar'], value: 'number', min: 0 },
  {
    name: 'init',
    flags: ['--init'],
    value: 'string',
    choices: GMM_INIT_METHODS,
  },
];

export const GMM_OPTIONS: OptionSpec[] = [
  ...COMMON_OPTIONS,
  ...GMM_FIT_OPTIONS,
  { name: 'k', flags: ['-k', '--n-components'], value: 'integer', min: 1 },
  { name: 'covariance', flags: ['--covariance'], value: 'string', choices: COVARIANCE_TYPES },
  { name: 'initModel', flags: ['--init-model'], value: 'string' },
  { name: 'initLabels', flags: ['--init-labels'], value: 'string' },
];

export const BGMM_OPTIONS: OptionSpec[] = [
  ...COMMON_OPTIONS,
  ...GMM_FIT_OPTIONS,
  { name: 'k', flags: ['-k', '--n-components'], value: 'integer', min: 1 },
  { name: 'covariance', flags: ['--covariance'], value: 'string', choices: COVARIANCE_TYPES },
  { name: 'initLabels', flags: ['--init-labels'], value: 'string' },
  {
    name: 'weightConcentrationPriorType',
    flags: ['--weight-concentration-prior-type'],
    value: 'string',
    choices: WEIGHT_CONCENTRATION_PRIOR_TYPES,
  },
  { name: 'weightConcentrationPrior', flags: ['--weight-concentration-prior'], value: 'number' },
  { name: 'meanPrecisionPrior', flags: ['--mean-precision-prior'], value: 'number' },
  { name: 'meanPrior', flags: ['--mean-prior'], value: 'string' },
  { name: 'degreesOfFreedomPrior', flags: ['--degrees-of-freedom-prior'], value: 'number' },
  { name: 'covariancePrior', flags: ['--covariance-prior'], value: 'string' },
];

export const KMEANS_OPTIONS: OptionSpec[] = [
  ...COMMON_OPTIONS,
  { name: 'k', flags: ['-k', '--n-clusters'], value: 'integer', min: 1 },
  { name: 'init', flags: ['--init'], value: 'string', choices: KMEANS_INIT_METHODS },
  { name: 'initModel', flags: ['--init-model'], value: 'string' },
];

export const SELECT_OPTIONS: OptionSpec[] = [
  ...COMMON_OPTIONS,
  ...GMM_FIT_OPTIONS,
  { name: 'kRange', flags: ['--k-range'], value: 'string' },
  { name: 'covariance', flags: ['--covariance'], value: 'string' },
  { name: 'criterion', flags: ['--criterion'], value: 'string', choices: CRITERIA },
];

/** The options of the commands that apply a saved model. */
const APPLY_OPTIONS: OptionSpec[] = [
  ...DATA_OPTIONS,
  { name: 'backend', flags: ['--backend'], value: 'string', choices: BACKEND_CHOICES },
  { name: 'adapter', flags: ['--adapter'], value: 'string' },
];

export const PREDICT_OPTIONS: OptionSpec[] = [
  ...APPLY_OPTIONS,
  { name: 'proba', flags: ['--proba'] },
  { name: 'out', flags: ['--out'], value: 'string' },
];

export const SCORE_OPTIONS: OptionSpec[] = [
  ...APPLY_OPTIONS,
  { name: 'perSample', flags: ['--per-sample'], value: 'string' },
];

export const STATS_OPTIONS: OptionSpec[] = [
  ...APPLY_OPTIONS,
  { name: 'weights', flags: ['--weights'], value: 'string' },
  { name: 'out', flags: ['--out'], value: 'string' },
];

export const MSTEP_OPTIONS: OptionSpec[] = [
  { name: 'model', flags: ['--model'], value: 'string' },
  { name: 'regCovar', flags: ['--reg-covar'], value: 'number', min: 0 },
  { name: 'out', flags: ['--out'], value: 'string' },
  { name: 'json', flags: ['--json'] },
  { name: 'quiet', flags: ['-q', '--quiet'] },
  { name: 'help', flags: ['-h', '--help'] },
];

export const SAMPLE_OPTIONS: OptionSpec[] = [
  { name: 'n', flags: ['-n', '--n-samples'], value: 'integer', min: 1 },
  { name: 'seed', flags: ['--seed'], value: 'integer' },
  { name: 'out', flags: ['--out'], value: 'string' },
  { name: 'quiet', flags: ['-q', '--quiet'] },
  { name: 'verbose', flags: ['-v', '--verbose'] },
  { name: 'help', flags: ['-h', '--help'] },
];

export const INFO_OPTIONS: OptionSpec[] = [
  { name: 'backend', flags: ['--backend'], value: 'string', choices: BACKEND_CHOICES },
  { name: 'adapter', flags: ['--adapter'], value: 'string' },
  { name: 'json', flags: ['--json'] },
  { name: 'verbose', flags: ['-v', '--verbose'] },
  { name: 'help', flags: ['-h', '--help'] },
];
