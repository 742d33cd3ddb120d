import { readFile } from 'node:fs/promises';
import type { Matrix } from '../data/matrix.js';
import { WebGpuEmError } from '../errors.js';
import {
  DEFAULT_MAX_INPUT_BYTES,
  formatBytes,
  parseBytes,
  planOutput,
  readDataFile,
  readModelFile,
  removeTemporaryFiles,
  writeOutputs,
  type OutputPlan,
} from '../io/files.js';
import { gmmModelToJson, kmeansModelToJson, type ModelSpec } from '../io/model-file.js';
import { GaussianMixture, type InitMethod } from '../models/gaussian-mixture.js';
import { COVARIANCE_TYPES, type CovarianceType } from '../models/gmm-parameters.js';
import type { InitialModel } from '../models/init.js';
import { KMeans, type KMeansInit } from '../models/kmeans.js';
import { selectGaussianMixture } from '../models/model-selection.js';
import { parseArgs, type OptionSpec, type ParsedOptions } from './args.js';

/** Where the CLI writes; tests pass their own. */
export interface CliStreams {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const USAGE = `Usage: webgpu-em <command> [options]

Commands:
  gmm <data> -k K [options]        fit a Gaussian mixture with EM (data: .csv or .npy)
  kmeans <data> -k K [options]     fit k-means (Lloyd's hard EM)
  select <data> --k-range A..B     fit a mixture for each K (and covariance type), pick by BIC
  info [--backend B]               show the WebGPU adapter and the sizes it supports
  help                             show this help

gmm options:
  -k, --n-components K        number of components (default: K of --init-model)
  --covariance TYPE           full (default), tied, diag or spherical
  --max-iter N                most EM iterations per initialisation (default 100)
  --tol X                     stop when the mean log-likelihood changes by less (default 1e-3;
                              0 runs exactly --max-iter iterations)
  --reg-covar X               added to covariance diagonals (default 1e-6)
  --init METHOD               kmeans++ (default), kmeans, random or random-from-data
  --init-model FILE           start from the weights, means and covariances in FILE
                              (a model with only means: estimate the rest from nearest means)
  --n-init N                  initialisations; the best lower bound wins (default 1)

kmeans options:
  -k, --n-clusters K          number of clusters (default: K of --init-model)
  --init METHOD               kmeans++ (default) or random
  --init-model FILE           start from the means (centres) in FILE
  --max-iter N                most Lloyd iterations (default 300)
  --tol X                     centre-shift tolerance relative to the data variance (default 1e-4)
  --n-init N                  initialisations; the lowest inertia wins (default 1)

select options:
  --k-range A..B              component counts to try (or a list: 1,2,4,8)
  --covariance T1,T2          covariance types to try (default full)
  --criterion bic|aic         what picks the winner (default bic)
  and the gmm options --max-iter, --tol, --reg-covar, --init, --n-init

common options:
  --seed S                    seed of all random choices (default 0)
  --backend B                 auto (default), webgpu or cpu
  --adapter NAME              Dawn adapter to use (default: $WEBGPU_EM_ADAPTER or the first)
  --header / --no-header      CSV: the first row is / is not a header (default: a header
                              when none of its cells is a number)
  --out FILE                  write the result JSON to FILE (atomically, once the fit succeeded;
                              - for standard output)
  --labels FILE               write the component/cluster of each row, one per line (as --out)
  --max-input-size SIZE       most bytes read from data that is not a regular file (- for
                              standard input, a pipe, a device), e.g. 512M (default ${formatBytes(DEFAULT_MAX_INPUT_BYTES)})
  --json                      print the result as one JSON object on stdout
  -q, --quiet                 no warnings on stderr

Exit codes: 0 success, 2 usage error, 1 data or runtime error, 130 interrupted (Ctrl-C).`;

/** Most component counts `select --k-range` may try. */
const MAX_K_CANDIDATES = 1000;

const COMMON_OPTIONS: OptionSpec[] = [
  { name: 'seed', flags: ['--seed'], value: 'integer' },
  { name: 'backend', flags: ['--backend'], value: 'string', choices: ['auto', 'webgpu', 'cpu'] },
  { name: 'adapter', flags: ['--adapter'], value: 'string' },
  { name: 'header', flags: ['--header'] },
  { name: 'noHeader', flags: ['--no-header'] },
  { name: 'out', flags: ['--out'], value: 'string' },
  { name: 'labels', flags: ['--labels'], value: 'string' },
  { name: 'maxInputSize', flags: ['--max-input-size'], value: 'string' },
  { name: 'json', flags: ['--json'] },
  { name: 'quiet', flags: ['-q', '--quiet'] },
  { name: 'help', flags: ['-h', '--help'] },
  { name: 'maxIter', flags: ['--max-iter'], value: 'integer', min: 1 },
  { name: 'tol', flags: ['--tol'], value: 'number', min: 0 },
  { name: 'nInit', flags: ['--n-init'], value: 'integer', min: 1 },
];

const GMM_FIT_OPTIONS: OptionSpec[] = [
  { name: 'regCovar', flags: ['--reg-covar'], value: 'number', min: 0 },
  {
    name: 'init',
    flags: ['--init'],
    value: 'string',
    choices: ['kmeans++', 'kmeans', 'random', 'random-from-data'],
  },
];

const GMM_OPTIONS: OptionSpec[] = [
  ...COMMON_OPTIONS,
  ...GMM_FIT_OPTIONS,
  { name: 'k', flags: ['-k', '--n-components'], value: 'integer', min: 1 },
  { name: 'covariance', flags: ['--covariance'], value: 'string', choices: COVARIANCE_TYPES },
  { name: 'initModel', flags: ['--init-model'], value: 'string' },
];

const KMEANS_OPTIONS: OptionSpec[] = [
  ...COMMON_OPTIONS,
  { name: 'k', flags: ['-k', '--n-clusters'], value: 'integer', min: 1 },
  { name: 'init', flags: ['--init'], value: 'string', choices: ['kmeans++', 'random'] },
  { name: 'initModel', flags: ['--init-model'], value: 'string' },
];

const SELECT_OPTIONS: OptionSpec[] = [
  ...COMMON_OPTIONS,
  ...GMM_FIT_OPTIONS,
  { name: 'kRange', flags: ['--k-range'], value: 'string' },
  { name: 'covariance', flags: ['--covariance'], value: 'string' },
  { name: 'criterion', flags: ['--criterion'], value: 'string', choices: ['bic', 'aic'] },
];

const INFO_OPTIONS: OptionSpec[] = [
  { name: 'backend', flags: ['--backend'], value: 'string', choices: ['auto', 'webgpu', 'cpu'] },
  { name: 'adapter', flags: ['--adapter'], value: 'string' },
  { name: 'json', flags: ['--json'] },
  { name: 'help', flags: ['-h', '--help'] },
];

type Backend = 'auto' | 'webgpu' | 'cpu';

/** What stopped a run on SIGINT or SIGTERM. */
class Interrupted extends Error {
  constructor(readonly signalName: string) {
    super(`interrupted by ${signalName}`);
    this.name = 'AbortError';
  }
}

/** A run of one command: its output streams and what stops it. */
interface Run {
  readonly streams: CliStreams;
  readonly signal: AbortSignal;
}

/**
 * Runs the command line; resolves to the process exit code. Without `streams` (the installed
 * command) SIGINT and SIGTERM stop the run: the fit stops at its next pass, nothing is written,
 * temporary files are removed and the code is 130 (143 for SIGTERM); a second signal exits at once.
 */
export async function main(
  argv: readonly string[],
  streams?: CliStreams,
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  const controller = new AbortController();
  const onAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const handlers: Array<[NodeJS.Signals, () => void]> = [];
  if (!streams) {
    for (const name of ['SIGINT', 'SIGTERM'] as const) {
      const handler = () => {
        if (controller.signal.aborted) {
          removeTemporaryFiles();
          process.exit(exitCodeOf(name));
        }
        controller.abort(new Interrupted(name));
      };
      process.on(name, handler);
      handlers.push([name, handler]);
    }
  }
  const run: Run = { streams: streams ?? processStreams(), signal: controller.signal };
  try {
    return await dispatch(argv, run);
  } catch (error) {
    return report(controller.signal.aborted ? controller.signal.reason : error, run.streams);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    for (const [name, handler] of handlers) process.off(name, handler);
  }
}

function exitCodeOf(signalName: string): number {
  return signalName === 'SIGTERM' ? 143 : 130;
}

async function dispatch(argv: readonly string[], run: Run): Promise<number> {
  const { streams } = run;
  const [command, ...rest] = argv;
  switch (command) {
    case 'gmm':
      return await runGmm(rest, run);
    case 'kmeans':
      return await runKMeans(rest, run);
    case 'select':
      return await runSelect(rest, run);
    case 'info':
      return await runInfo(rest, streams);
    case undefined:
      throw new WebGpuEmError('usage', 'no command given; run `webgpu-em help` for the commands and options');
    case 'help':
    case '-h':
    case '--help':
      streams.stdout(USAGE + '\n');
      return 0;
    case '--version':
    case '-V':
      streams.stdout((await packageVersion()) + '\n');
      return 0;
    default:
      throw new WebGpuEmError(
        'usage',
        `unknown command '${command}'; commands are gmm, kmeans, select, info, help`,
      );
  }
}

/**
 * Parses a command's options, checks every option and output path that can be checked before
 * the work, then reads its one data file.
 */
async function commandInput(
  name: string,
  argv: readonly string[],
  specs: OptionSpec[],
  run: Run,
  check: (o: ParsedOptions) => void = () => {},
) {
  const { options: o, positionals } = parseArgs(argv, specs);
  if (o.help) return null;
  if (positionals.length !== 1) {
    throw new WebGpuEmError(
      'usage',
      `${name} needs exactly one data file, got ${positionals.length}; see --help`,
    );
  }
  if (o.header && o.noHeader)
    throw new WebGpuEmError('usage', '--header and --no-header contradict each other');
  if (o.init && o.initModel)
    throw new WebGpuEmError('usage', '--init and --init-model contradict each other; give one');
  let maxInputBytes = DEFAULT_MAX_INPUT_BYTES;
  if (o.maxInputSize !== undefined) {
    const parsed = parseBytes(o.maxInputSize as string);
    if (parsed === null) {
      throw new WebGpuEmError(
        'usage',
        `--max-input-size needs a size in bytes such as 1000, 64K, 512M or 2G; got '${o.maxInputSize}'`,
      );
    }
    maxInputBytes = parsed;
  }
  check(o);
  const dataPath = positionals[0];
  const inputs = [dataPath, ...(o.initModel ? [o.initModel as string] : [])];
  const outputs = await planOutputs(o, inputs);
  const started = performance.now();
  const { matrix, columnNames } = await readDataFile(dataPath, {
    header: o.header ? true : o.noHeader ? false : 'auto',
    maxInputBytes,
    signal: run.signal,
  });
  return { o, dataPath, matrix, columnNames, started, outputs };
}

/** --out and --labels, checked before the work. */
async function planOutputs(o: ParsedOptions, inputs: string[]) {
  const out = o.out as string | undefined;
  const labels = o.labels as string | undefined;
  if (out !== undefined && labels !== undefined && out === labels) {
    throw new WebGpuEmError('usage', `--out and --labels are both ${out}; give them different paths`);
  }
  return {
    out: out === undefined ? null : await planOutput(out, '--out', inputs),
    labels: labels === undefined ? null : await planOutput(labels, '--labels', inputs),
  };
}

/** Reads --init-model and checks it against the data and -k. */
async function initModel(
  o: ParsedOptions,
  dataPath: string,
  matrix: Matrix,
  run: Run,
): Promise<ModelSpec | null> {
  if (!o.initModel) return null;
  const spec = await readModelFile(o.initModel as string, { signal: run.signal });
  if (spec.nFeatures !== matrix.cols) {
    throw new WebGpuEmError(
      'data',
      `${o.initModel}: the model has ${spec.nFeatures} features but ${dataPath} has ${matrix.cols} columns; use a model made for this data`,
    );
  }
  if (o.k !== undefined && o.k !== spec.nComponents) {
    throw new WebGpuEmError(
      'usage',
      `-k ${o.k} contradicts ${o.initModel}, which has ${spec.nComponents} components; drop -k or use another model`,
    );
  }
  return spec;
}

/**
 * Writes --out and --labels together (only now that the work succeeded), then the result on
 * stdout (unless an output is `-`, which takes stdout's place).
 */
async function finish(
  o: ParsedOptions,
  run: Run,
  outputs: { out: OutputPlan | null; labels: OutputPlan | null },
  result: Record<string, unknown>,
  labels: Int32Array | null,
  text: string,
): Promise<number> {
  run.signal.throwIfAborted();
  const json = JSON.stringify(result);
  const writes: Array<{ plan: OutputPlan; contents: string }> = [];
  if (outputs.out) writes.push({ plan: outputs.out, contents: json + '\n' });
  if (outputs.labels && labels)
    writes.push({ plan: outputs.labels, contents: Array.from(labels).join('\n') + '\n' });
  await writeOutputs(writes, run.streams.stdout);
  if (!writes.some((w) => w.plan.mode === 'stdout')) run.streams.stdout(o.json ? json + '\n' : text);
  return 0;
}

async function runGmm(argv: readonly string[], run: Run): Promise<number> {
  const { streams } = run;
  const input = await commandInput('gmm', argv, GMM_OPTIONS, run);
  if (!input) return help(streams);
  const { o, dataPath, matrix, columnNames, started, outputs } = input;
  let init: InitMethod | InitialModel = (o.init as InitMethod | undefined) ?? 'kmeans++';
  let k = o.k as number | undefined;
  let covarianceType = o.covariance as CovarianceType | undefined;
  const spec = await initModel(o, dataPath, matrix, run);
  if (spec) {
    if (spec.covariances && spec.covarianceType) {
      if (covarianceType && covarianceType !== spec.covarianceType) {
        throw new WebGpuEmError(
          'usage',
          `--covariance ${covarianceType} contradicts ${o.initModel}, which has '${spec.covarianceType}' covariances; drop --covariance or use another model`,
        );
      }
      covarianceType = spec.covarianceType;
    }
    k = spec.nComponents;
    init = {
      means: spec.means,
      weights: spec.weights,
      covariances:
        spec.covariances && covariancesInShape(spec.covariances, covarianceType ?? 'full', k, spec.nFeatures),
    };
  }
  if (k === undefined)
    throw new WebGpuEmError('usage', 'gmm needs -k K (the number of components) or --init-model FILE');
  covarianceType ??= 'full';
  const gmm = new GaussianMixture({
    nComponents: k,
    covarianceType,
    ...fitOptions(o),
    init,
  });
  try {
    await gmm.fit(matrix, { signal: run.signal });
    const labels = o.labels ? await gmm.predict(matrix) : null;
    const result = {
      model: gmmJson(gmm, columnNames, await packageVersion()),
      converged: gmm.converged,
      nIter: gmm.nIter,
      lowerBound: gmm.lowerBound,
      nSamples: matrix.rows,
      backend: await gmm.backendName(),
      adapter: await gmm.adapterDescription(),
      seconds: (performance.now() - started) / 1000,
    };
    if (!gmm.converged && (o.tol ?? 1e-3) !== 0 && !o.quiet) {
      streams.stderr(
        `webgpu-em: warning: EM did not converge in ${gmm.nIter} iterations; raise --max-iter, raise --tol or check the data\n`,
      );
    }
    const lines = [
      header(result.backend, result.adapter, matrix, `components: ${k} (${covarianceType})`),
      `converged: ${gmm.converged} after ${gmm.nIter} iterations, lower bound (mean log-likelihood): ${gmm.lowerBound.toFixed(6)}`,
      `time: ${result.seconds.toFixed(3)} s`,
      '',
      table(
        ['component', 'weight', ...featureNames(columnNames, matrix.cols)],
        gmm.means.data,
        matrix.cols,
        gmm.weights,
      ),
    ];
    return await finish(o, run, outputs, result, labels, lines.join('\n') + '\n');
  } finally {
    gmm.dispose();
  }
}

async function runKMeans(argv: readonly string[], run: Run): Promise<number> {
  const { streams } = run;
  const input = await commandInput('kmeans', argv, KMEANS_OPTIONS, run);
  if (!input) return help(streams);
  const { o, dataPath, matrix, columnNames, started, outputs } = input;
  const spec = await initModel(o, dataPath, matrix, run);
  const k = spec ? spec.nComponents : (o.k as number | undefined);
  if (k === undefined)
    throw new WebGpuEmError('usage', 'kmeans needs -k K (the number of clusters) or --init-model FILE');
  const km = new KMeans({
    nClusters: k,
    init: spec ? { means: spec.means } : ((o.init as KMeansInit | undefined) ?? 'kmeans++'),
    ...fitOptions(o),
  });
  try {
    await km.fit(matrix, { signal: run.signal });
    const labels = o.labels ? await km.predict(matrix) : null;
    const result = {
      model: kmeansModelToJson({
        nFeatures: matrix.cols,
        means: km.clusterCenters.data,
        extra: {
          ...(columnNames ? { columns: columnNames } : {}),
          producer: `webgpu-em ${await packageVersion()}`,
        },
      }),
      inertia: km.inertia,
      nIter: km.nIter,
      converged: km.converged,
      nSamples: matrix.rows,
      backend: await km.backendName(),
      adapter: await km.adapterDescription(),
      seconds: (performance.now() - started) / 1000,
    };
    if (!km.converged && !o.quiet) {
      streams.stderr(
        `webgpu-em: warning: k-means did not converge in ${km.nIter} iterations; raise --max-iter or --tol\n`,
      );
    }
    const lines = [
      header(result.backend, result.adapter, matrix, `clusters: ${k}`),
      `converged: ${km.converged} after ${km.nIter} iterations, inertia: ${km.inertia.toPrecision(8)}`,
      `time: ${result.seconds.toFixed(3)} s`,
      '',
      table(
        ['cluster', ...featureNames(columnNames, matrix.cols)],
        km.clusterCenters.data,
        matrix.cols,
        null,
      ),
    ];
    return await finish(o, run, outputs, result, labels, lines.join('\n') + '\n');
  } finally {
    km.dispose();
  }
}

async function runSelect(argv: readonly string[], run: Run): Promise<number> {
  const { streams } = run;
  let ks: number[] = [];
  let types: CovarianceType[] = [];
  const input = await commandInput('select', argv, SELECT_OPTIONS, run, (o) => {
    if (!o.kRange) throw new WebGpuEmError('usage', 'select needs --k-range, e.g. --k-range 1..10');
    ks = parseKRange(o.kRange as string);
    types = ((o.covariance as string | undefined) ?? 'full')
      .split(',')
      .map((t) => t.trim()) as CovarianceType[];
    for (const t of types) {
      if (!COVARIANCE_TYPES.includes(t)) {
        throw new WebGpuEmError(
          'usage',
          `--covariance: unknown type '${t}'; use a list of ${COVARIANCE_TYPES.join(', ')}`,
        );
      }
    }
  });
  if (!input) return help(streams);
  const { o, matrix, columnNames, started, outputs } = input;
  const largest = Math.max(...ks);
  if (largest > matrix.rows) {
    throw new WebGpuEmError(
      'usage',
      `--k-range goes up to K = ${largest} but the data has ${matrix.rows} samples; K can be at most the number of samples`,
    );
  }
  const criterion = (o.criterion as 'bic' | 'aic' | undefined) ?? 'bic';
  const { scores, best, model } = await selectGaussianMixture(matrix, {
    nComponents: ks,
    covarianceTypes: types,
    criterion,
    signal: run.signal,
    ...fitOptions(o),
  });
  try {
    const labels = o.labels ? await model.predict(matrix) : null;
    const result = {
      model: gmmJson(model, columnNames, await packageVersion()),
      criterion,
      best,
      scores,
      nSamples: matrix.rows,
      backend: await model.backendName(),
      adapter: await model.adapterDescription(),
      seconds: (performance.now() - started) / 1000,
    };
    const rows = scores.map((s) =>
      [
        s.covarianceType,
        s.nComponents,
        s.bic.toFixed(2),
        s.aic.toFixed(2),
        s.lowerBound.toFixed(5),
        s.converged,
        s === best ? '<- best' : '',
      ].join('\t'),
    );
    const text = [
      header(result.backend, result.adapter, matrix, `candidates: ${scores.length}`),
      ['covariance', 'K', 'BIC', 'AIC', 'lower bound', 'converged', ''].join('\t'),
      ...rows,
      `best by ${criterion.toUpperCase()}: K = ${best.nComponents}, ${best.covarianceType}`,
    ].join('\n');
    return await finish(o, run, outputs, result, labels, text + '\n');
  } finally {
    model.dispose();
  }
}

/** The options every fit command shares, as the model constructors take them. */
function fitOptions(o: ParsedOptions) {
  return {
    maxIter: o.maxIter as number | undefined,
    tol: o.tol as number | undefined,
    nInit: o.nInit as number | undefined,
    seed: o.seed as number | undefined,
    backend: o.backend as Backend | undefined,
    adapter: o.adapter as string | undefined,
    ...(o.regCovar !== undefined ? { regCovar: o.regCovar as number } : {}),
  };
}

/** "1..10" or "1,2,4,8": checked (at most MAX_K_CANDIDATES values) before any list is built. */
function parseKRange(text: string): number[] {
  const bad = () =>
    new WebGpuEmError(
      'usage',
      `--k-range '${text}' is not a range like 1..10 or a list like 1,2,4 of integers >= 1`,
    );
  const tooMany = (n: number) =>
    new WebGpuEmError(
      'usage',
      `--k-range '${text}' has ${n} values, over the limit of ${MAX_K_CANDIDATES} candidates; give a shorter range or a list`,
    );
  const range = /^(\d+)\.\.(\d+)$/.exec(text.trim());
  if (range) {
    const [from, to] = [Number(range[1]), Number(range[2])];
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 1 || to < from) throw bad();
    if (to - from + 1 > MAX_K_CANDIDATES) throw tooMany(to - from + 1);
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  }
  const parts = text.split(',');
  if (parts.length > MAX_K_CANDIDATES) throw tooMany(parts.length);
  const values = parts.map((t) => (t.trim() === '' ? NaN : Number(t.trim())));
  if (values.length === 0 || values.some((v) => !Number.isSafeInteger(v) || v < 1)) throw bad();
  return [...new Set(values)];
}

function gmmJson(gmm: GaussianMixture, columnNames: string[] | null, version: string) {
  const p = gmm.parameters;
  return gmmModelToJson({
    covarianceType: p.covarianceType,
    nFeatures: p.nFeatures,
    weights: gmm.weights,
    means: gmm.means.data,
    covariances: gmm.covariances,
    extra: {
      regCovar: gmm.options.regCovar,
      ...(columnNames ? { columns: columnNames } : {}),
      producer: `webgpu-em ${version}`,
    },
  });
}

/** Model files hold covariances expanded to K x D x D; the fit wants its family's own shape. */
function covariancesInShape(full: Float64Array, type: CovarianceType, k: number, d: number): Float64Array {
  switch (type) {
    case 'full':
      return full;
    case 'tied':
      return full.slice(0, d * d);
    case 'diag':
      return Float64Array.from(
        { length: k * d },
        (_, e) => full[Math.floor(e / d) * d * d + (e % d) * (d + 1)],
      );
    case 'spherical':
      return Float64Array.from({ length: k }, (_, c) => full[c * d * d]);
  }
}

function help(streams: CliStreams): number {
  streams.stdout(USAGE + '\n');
  return 0;
}

function header(backend: string, adapter: string | null, m: Matrix, what: string): string {
  return [
    `backend: ${backend}${adapter ? ` (${adapter})` : ''}`,
    `samples: ${m.rows}, features: ${m.cols}, ${what}`,
  ].join('\n');
}

function featureNames(columns: string[] | null, d: number): string[] {
  return columns ?? Array.from({ length: d }, (_, i) => `mean[${i}]`);
}

function table(head: string[], means: Float64Array, d: number, weights: Float64Array | null): string {
  const rows = means.length / d;
  const lines = [head.join('\t')];
  for (let k = 0; k < rows; k++) {
    const cells = [String(k), ...(weights ? [weights[k].toFixed(4)] : [])];
    for (let i = 0; i < d; i++) cells.push(means[k * d + i].toPrecision(6));
    lines.push(cells.join('\t'));
  }
  return lines.join('\n');
}

async function runInfo(argv: readonly string[], streams: CliStreams): Promise<number> {
  const { options: o } = parseArgs(argv, INFO_OPTIONS);
  if (o.help) {
    streams.stdout(USAGE + '\n');
    return 0;
  }
  const { createBackend } = await import('../backends/select.js');
  const backend = await createBackend((o.backend as 'auto' | 'webgpu' | 'cpu' | undefined) ?? 'webgpu', {
    adapter: o.adapter as string | undefined,
  });
  try {
    const info: Record<string, unknown> = { backend: backend.name, adapter: backend.adapterDescription };
    if ('context' in backend) {
      const limits = (backend as { context: { limits: GPUSupportedLimits } }).context.limits;
      info.maxStorageBufferBindingSize = limits.maxStorageBufferBindingSize;
      info.maxBufferSize = limits.maxBufferSize;
      info.maxComputeWorkgroupsPerDimension = limits.maxComputeWorkgroupsPerDimension;
      info.maxFeaturesFull = 64;
    }
    streams.stdout(
      o.json
        ? JSON.stringify(info) + '\n'
        : Object.entries(info)
            .map(([key, v]) => `${key}: ${v}`)
            .join('\n') + '\n',
    );
    return 0;
  } finally {
    backend.dispose();
  }
}

function report(error: unknown, streams: CliStreams): number {
  if (error instanceof Interrupted) {
    streams.stderr(
      `webgpu-em: ${error.message}; stopped before writing any output (earlier files are unchanged)\n`,
    );
    return exitCodeOf(error.signalName);
  }
  if (error instanceof WebGpuEmError) {
    // WebGPU messages span lines; the contract is one line per error.
    streams.stderr(`webgpu-em: error: ${error.message.replace(/\s*\n\s*/g, ' ')}\n`);
    return error.kind === 'usage' ? 2 : 1;
  }
  if ((error as { name?: unknown } | null)?.name === 'AbortError') {
    streams.stderr('webgpu-em: aborted; stopped before writing any output (earlier files are unchanged)\n');
    return 130;
  }
  const message = error instanceof Error ? error.message : String(error);
  streams.stderr(`webgpu-em: error: ${message.split('\n')[0]}\n`);
  return 1;
}

let version: string | null = null;
async function packageVersion(): Promise<string> {
  if (version) return version;
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(await readFile(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'webgpu-em' && pkg.version) return (version = pkg.version);
    } catch {
      // try the next location
    }
  }
  return (version = 'unknown');
}

function processStreams(): CliStreams {
  return { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };
}
