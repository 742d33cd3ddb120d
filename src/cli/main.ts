import { readFile } from 'node:fs/promises';
import { WebGpuEmError } from '../errors.js';
import { readDataFile, readModelFile, writeFileAtomic } from '../io/files.js';
import { gmmModelToJson } from '../io/model-file.js';
import { GaussianMixture, type InitMethod } from '../models/gaussian-mixture.js';
import { COVARIANCE_TYPES, type CovarianceType } from '../models/gmm-parameters.js';
import type { InitialModel } from '../models/init.js';
import { parseArgs, type OptionSpec } from './args.js';

/** Where the CLI writes; tests pass their own. */
export interface CliStreams {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const USAGE = `Usage: webgpu-em <command> [options]

Commands:
  gmm <data> -k K [options]   fit a Gaussian mixture with EM (data: .csv or .npy)
  info [--backend B]          show the WebGPU adapter and the sizes it supports
  help                        show this help

gmm options:
  -k, --n-components K        number of components (default: K of --init-model)
  --covariance TYPE           full (default), tied, diag or spherical
  --max-iter N                most EM iterations per initialisation (default 100)
  --tol X                     stop when the mean log-likelihood changes by less (default 1e-3;
                              0 runs exactly --max-iter iterations)
  --reg-covar X               added to covariance diagonals (default 1e-6)
  --init METHOD               kmeans++ (default), random or random-from-data
  --init-model FILE           start from the weights, means and covariances in FILE
                              (a model with only means: estimate the rest from nearest means)
  --seed S                    seed of all random choices (default 0)
  --n-init N                  initialisations; the best lower bound wins (default 1)
  --backend B                 auto (default), webgpu or cpu
  --adapter NAME              Dawn adapter to use (default: $WEBGPU_EM_ADAPTER or the first)
  --header / --no-header      CSV: the first row is / is not a header (default: a header
                              when none of its cells is a number)
  --out FILE                  write the result JSON to FILE (atomically)
  --labels FILE               write the most likely component of each row, one per line
  --json                      print the result as one JSON object on stdout
  -q, --quiet                 no progress or warnings on stderr

Exit codes: 0 success, 2 usage error, 1 data or runtime error.`;

const GMM_OPTIONS: OptionSpec[] = [
  { name: 'k', flags: ['-k', '--n-components'], value: 'integer', min: 1 },
  { name: 'covariance', flags: ['--covariance'], value: 'string', choices: COVARIANCE_TYPES },
  { name: 'maxIter', flags: ['--max-iter'], value: 'integer', min: 1 },
  { name: 'tol', flags: ['--tol'], value: 'number', min: 0 },
  { name: 'regCovar', flags: ['--reg-covar'], value: 'number', min: 0 },
  { name: 'init', flags: ['--init'], value: 'string', choices: ['kmeans++', 'random', 'random-from-data'] },
  { name: 'initModel', flags: ['--init-model'], value: 'string' },
  { name: 'seed', flags: ['--seed'], value: 'integer' },
  { name: 'nInit', flags: ['--n-init'], value: 'integer', min: 1 },
  { name: 'backend', flags: ['--backend'], value: 'string', choices: ['auto', 'webgpu', 'cpu'] },
  { name: 'adapter', flags: ['--adapter'], value: 'string' },
  { name: 'header', flags: ['--header'] },
  { name: 'noHeader', flags: ['--no-header'] },
  { name: 'out', flags: ['--out'], value: 'string' },
  { name: 'labels', flags: ['--labels'], value: 'string' },
  { name: 'json', flags: ['--json'] },
  { name: 'quiet', flags: ['-q', '--quiet'] },
  { name: 'help', flags: ['-h', '--help'] },
];

const INFO_OPTIONS: OptionSpec[] = [
  { name: 'backend', flags: ['--backend'], value: 'string', choices: ['auto', 'webgpu', 'cpu'] },
  { name: 'adapter', flags: ['--adapter'], value: 'string' },
  { name: 'json', flags: ['--json'] },
  { name: 'help', flags: ['-h', '--help'] },
];

/** Runs the command line; resolves to the process exit code. */
export async function main(argv: readonly string[], streams: CliStreams = processStreams()): Promise<number> {
  try {
    const [command, ...rest] = argv;
    switch (command) {
      case 'gmm':
        return await runGmm(rest, streams);
      case 'info':
        return await runInfo(rest, streams);
      case undefined:
      case 'help':
      case '-h':
      case '--help':
        streams.stdout(USAGE + '\n');
        return command === undefined ? 2 : 0;
      case '--version':
      case '-V':
        streams.stdout((await packageVersion()) + '\n');
        return 0;
      default:
        throw new WebGpuEmError('usage', `unknown command '${command}'; commands are gmm, info, help`);
    }
  } catch (error) {
    return report(error, streams);
  }
}

async function runGmm(argv: readonly string[], streams: CliStreams): Promise<number> {
  const { options: o, positionals } = parseArgs(argv, GMM_OPTIONS);
  if (o.help) {
    streams.stdout(USAGE + '\n');
    return 0;
  }
  if (positionals.length !== 1) {
    throw new WebGpuEmError(
      'usage',
      `gmm needs exactly one data file, got ${positionals.length}; see --help`,
    );
  }
  if (o.header && o.noHeader)
    throw new WebGpuEmError('usage', '--header and --no-header contradict each other');
  if (o.init && o.initModel)
    throw new WebGpuEmError('usage', '--init and --init-model contradict each other; give one');
  const dataPath = positionals[0];
  const started = performance.now();
  const { matrix, columnNames } = await readDataFile(dataPath, {
    header: o.header ? true : o.noHeader ? false : 'auto',
  });

  let init: InitMethod | InitialModel = (o.init as InitMethod | undefined) ?? 'kmeans++';
  let k = o.k as number | undefined;
  let covarianceType = o.covariance as CovarianceType | undefined;
  if (o.initModel) {
    const spec = await readModelFile(o.initModel as string);
    if (spec.nFeatures !== matrix.cols) {
      throw new WebGpuEmError(
        'data',
        `${o.initModel}: the model has ${spec.nFeatures} features but ${dataPath} has ${matrix.cols} columns; use a model made for this data`,
      );
    }
    if (k !== undefined && k !== spec.nComponents) {
      throw new WebGpuEmError(
        'usage',
        `-k ${k} contradicts ${o.initModel}, which has ${spec.nComponents} components; drop -k or use another model`,
      );
    }
    if (spec.covariances && spec.covarianceType && spec.covarianceType !== 'full') {
      throw new WebGpuEmError(
        'data',
        `${o.initModel}: covariance type '${spec.covarianceType}' cannot start a 'full' fit`,
      );
    }
    k = spec.nComponents;
    init = { means: spec.means, weights: spec.weights, covariances: spec.covariances };
  }
  if (k === undefined)
    throw new WebGpuEmError('usage', 'gmm needs -k K (the number of components) or --init-model FILE');

  covarianceType ??= 'full';
  const gmm = new GaussianMixture({
    nComponents: k,
    covarianceType,
    maxIter: o.maxIter as number | undefined,
    tol: o.tol as number | undefined,
    regCovar: o.regCovar as number | undefined,
    nInit: o.nInit as number | undefined,
    seed: o.seed as number | undefined,
    backend: o.backend as 'auto' | 'webgpu' | 'cpu' | undefined,
    adapter: o.adapter as string | undefined,
    init,
  });
  try {
    await gmm.fit(matrix);
    const labels = o.labels ? await gmm.predict(matrix) : null;
    const seconds = (performance.now() - started) / 1000;
    const p = gmm.parameters;
    const result = {
      model: gmmModelToJson({
        covarianceType,
        nFeatures: p.nFeatures,
        weights: gmm.weights,
        means: gmm.means.data,
        covariances: gmm.covariances,
        extra: {
          regCovar: gmm.options.regCovar,
          ...(columnNames ? { columns: columnNames } : {}),
          producer: `webgpu-em ${await packageVersion()}`,
        },
      }),
      converged: gmm.converged,
      nIter: gmm.nIter,
      lowerBound: gmm.lowerBound,
      nSamples: matrix.rows,
      backend: await gmm.backendName(),
      adapter: await gmm.adapterDescription(),
      seconds,
    };
    const json = JSON.stringify(result);
    if (o.out) await writeFileAtomic(o.out as string, json + '\n');
    if (labels) await writeFileAtomic(o.labels as string, Array.from(labels).join('\n') + '\n');
    if (!gmm.converged && (o.tol ?? 1e-3) !== 0 && !o.quiet) {
      streams.stderr(
        `webgpu-em: warning: EM did not converge in ${gmm.nIter} iterations; raise --max-iter, raise --tol or check the data\n`,
      );
    }
    if (o.json) streams.stdout(json + '\n');
    else streams.stdout(summary(result, columnNames));
    return 0;
  } finally {
    gmm.dispose();
  }
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

/** Model files hold covariances expanded to K x D x D; the fit wants its family's own shape. */
function covariancesInShape(full: Float64Array, type: CovarianceType, k: number, d: number): Float64Array {
  switch (type) {
    case 'full':
      return full;
    case 'tied':
      return full.slice(0, d * d);
    case 'diag':
      return Float64Array.from({ length: k * d }, (_, e) => full[Math.floor(e / d) * d * d + (e % d) * (d + 1)]);
    case 'spherical':
      return Float64Array.from({ length: k }, (_, c) => full[c * d * d]);
  }
}

interface Summary {
  model: Record<string, unknown>;
  converged: boolean;
  nIter: number;
  lowerBound: number;
  nSamples: number;
  backend: string;
  adapter: string | null;
  seconds: number;
}

function summary(r: Summary, columns: string[] | null): string {
  const weights = r.model.weights as number[];
  const means = r.model.means as number[][];
  const lines = [
    `backend: ${r.backend}${r.adapter ? ` (${r.adapter})` : ''}`,
    `samples: ${r.nSamples}, components: ${weights.length}, features: ${means[0].length}`,
    `converged: ${r.converged} after ${r.nIter} iterations, lower bound (mean log-likelihood): ${r.lowerBound.toFixed(6)}`,
    `time: ${r.seconds.toFixed(3)} s`,
    '',
    ['component', 'weight', ...(columns ?? means[0].map((_, i) => `mean[${i}]`))].join('\t'),
    ...weights.map((w, k) => [k, w.toFixed(4), ...means[k].map((m) => m.toPrecision(6))].join('\t')),
  ];
  return lines.join('\n') + '\n';
}

function report(error: unknown, streams: CliStreams): number {
  if (error instanceof WebGpuEmError) {
    streams.stderr(`webgpu-em: error: ${error.message}\n`);
    return error.kind === 'usage' ? 2 : 1;
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
