/**
 * Throughput benchmarks: EM iterations of each configuration on the WebGPU backend, the float64
 * CPU reference and scikit-learn (when Debian's python3-sklearn is installed), from the same
 * data and the same initial model, for a fixed number of iterations (tol 0).
 *
 *   npm run bench [-- --quick] [--set standard,sweep,large] [--config NAME] [--json]
 *                 [--markdown FILE] [--no-sklearn] [--sklearn-python PATH]
 *                 [--torch-python PATH] [--no-cpu] [--update-docs]
 *
 * `--update-docs` (also spelt `--update-readme`) writes the table into docs/benchmarks.md,
 * between its `<!-- bench:start -->` and `<!-- bench:end -->` lines.
 *
 * `--torch-python` adds bench/torch_em.py, the same iterations in PyTorch, as a peer on the same
 * card (scikit-learn runs on the standard set only, PyTorch on every set but the sweep).
 *
 * Before each configuration it measures the adapter's FMA peak and read bandwidth
 * (bench/peaks.ts), and shows each row as a percentage of that roofline.
 * `npm run bench:build` compiles this script to dist-bench/ for machines without tsx:
 * `node dist-bench/bench/run.js [options]`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuBackend } from '../src/backends/cpu/cpu-backend.js';
import type { BoundData, MixtureBackend } from '../src/backends/backend.js';
import { WebGpuBackend } from '../src/backends/webgpu/webgpu-backend.js';
import { makeBlobs } from '../src/data/synthetic.js';
import type { Matrix } from '../src/data/matrix.js';
import { GpuContext, gpuAllocations } from '../src/gpu/context.js';
import { encodeNpy } from '../src/io/npy.js';
import { writeFileAtomic } from '../src/io/files.js';
import { emRun } from '../src/models/em.js';
import { covariancesAsArray, type GmmParameters } from '../src/models/gmm-parameters.js';
import type { CovarianceType } from '../src/core/names.js';
import { kmeansPlusPlus, parametersFromCentres } from '../src/models/init.js';
import { Random } from '../src/core/random.js';
import { BENCH_SETS, benchConfigs, workPerIteration, type BenchConfig, type BenchSet } from './configs.js';
import { si } from './format.js';
import { benchFile, measurePeaks, type Peaks } from './peaks.js';

export interface Row {
  config: string;
  backend: string;
  n: number;
  d: number;
  k: number;
  iterations: number;
  /** Median wall time of the measured iterations. */
  msPerIteration: number;
  /** Median GPU time from timestamp queries, when the adapter has them. */
  gpuMsPerIteration: number | null;
  /** Samples x components x iterations per second. */
  throughput: number;
  gflops: number;
  gbps: number;
  /** Share of the roofline (the measured FMA peak and bandwidth against this row's counts). */
  rooflinePct: number | null;
  compileMs: number | null;
  uploadMs: number | null;
  peakRssMb: number;
  gpuMb: number | null;
  objective: number;
  speedupVsSklearn: number | null;
  speedupVsTorch: number | null;
}

const REGCOVAR = 1e-6;

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const value = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
/** Debian's interpreter, where python3-sklearn installs (the first python3 on PATH may lack it). */
const SKLEARN_PYTHON = value('--sklearn-python') ?? '/usr/bin/python3';

/** Prints the PyTorch version and the device torch_em.py will use. */
const TORCH_PROBE =
  'import torch; d = "cuda" if torch.cuda.is_available() else "cpu"; ' +
  'print("PyTorch " + torch.__version__ + " on " + (torch.cuda.get_device_name(0) if d == "cuda" else "cpu"))';

function torchPeer(python: string | undefined): string | null {
  if (!python) return null;
  const r = spawnSync(python, ['-c', TORCH_PROBE], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`bench: --torch-python ${python} cannot import torch`);
    process.exit(2);
  }
  return r.stdout.trim();
}

function parseSets(text: string): BenchSet[] {
  const sets = text.split(',').map((s) => s.trim());
  for (const s of sets) {
    if (!(BENCH_SETS as readonly string[]).includes(s)) {
      console.error(`bench: unknown set '${s}'; choose from ${BENCH_SETS.join(', ')}`);
      process.exit(2);
    }
  }
  return sets as BenchSet[];
}

async function main(): Promise<void> {
  const quick = flag('--quick');
  const only = value('--config');
  let configs = benchConfigs(only ? BENCH_SETS : parseSets(value('--set') ?? 'standard,sweep'), quick);
  if (only) {
    const names = configs.map((c) => c.name).join(', ');
    configs = configs.filter((c) => c.name === only);
    if (configs.length === 0) {
      console.error(`bench: no configuration '${only}'; choose one of: ${names}`);
      process.exit(2);
    }
  }
  const torchPython = value('--torch-python');
  const torch = torchPeer(torchPython);
  const gpu = await GpuContext.acquire({ timestamps: true });
  const sklearn = !flag('--no-sklearn') && sklearnVersion();
  const log = (line: string) => process.stderr.write(line + '\n');
  log(`adapter: ${gpu.adapterDescription} (timestamp queries: ${gpu.hasTimestamps ? 'yes' : 'no'})`);
  log(sklearn ? `scikit-learn ${sklearn} (${SKLEARN_PYTHON})` : 'scikit-learn: not installed, skipped');
  if (torch) log(`${torch} (${torchPython})`);

  const rows: Row[] = [];
  const peaksSeen: Peaks[] = [];
  for (const config of configs) {
    log(`\n${config.name}: generating N=${config.n} D=${config.d} K=${config.k}`);
    const x = syntheticData(config);
    const init = await initialModel(x, config.k, config.model === 'gmm-full' ? 'full' : 'diag');
    // Measured next to the rows it scales: the machine's load drifts during a run.
    const peaks = await measurePeaks(gpu);
    peaksSeen.push(peaks);
    log(
      `  roofline: ${(peaks.flops / 1e9).toFixed(1)} GFLOP/s FMA peak, ${(peaks.bytesPerSecond / 1e9).toFixed(1)} GB/s`,
    );
    const gpuRow = await runBackend(
      config,
      x,
      init,
      await WebGpuBackend.create({ device: gpu.device }),
      gpu,
      peaks,
    );
    rows.push(gpuRow);
    log(describe(gpuRow));
    if (config.cpuReference && !flag('--no-cpu')) {
      const cpuRow = await runBackend(config, x, init, new CpuBackend(), null, peaks);
      rows.push(cpuRow);
      log(describe(cpuRow));
    }
    if (config.set === 'standard' && sklearn) {
      const skRow = runSklearn(config, x, init, peaks, log);
      rows.push(skRow);
      log(describe(skRow));
      for (const r of rows.filter((r) => r.config === config.name && r.backend !== 'scikit-learn')) {
        r.speedupVsSklearn = skRow.msPerIteration / r.msPerIteration;
      }
    }
    if (config.set !== 'sweep' && torch && torchPython) {
      const out = runPython(torchPython, 'torch_em.py', 'pytorch', config, x, init, []);
      const torchRow = peerRow(config, out.device ? `pytorch (${out.device})` : 'pytorch', out, peaks);
      rows.push(torchRow);
      log(describe(torchRow));
      for (const r of rows.filter((r) => r.config === config.name && r !== torchRow)) {
        r.speedupVsTorch = torchRow.msPerIteration / r.msPerIteration;
      }
    }
  }
  gpu.release();

  const peakRange = (values: number[], unit: string) =>
    `${(Math.min(...values) / 1e9).toFixed(1)} to ${(Math.max(...values) / 1e9).toFixed(1)} ${unit}`;
  const measured = peaksSeen.length
    ? `; measured FMA peak ${peakRange(
        peaksSeen.map((p) => p.flops),
        'GFLOP/s',
      )}, read bandwidth ${peakRange(
        peaksSeen.map((p) => p.bytesPerSecond),
        'GB/s',
      )}`
    : '';
  const machine = `${gpu.adapterDescription}; host ${process.platform} ${process.arch}, Node ${process.version}${sklearn ? `, scikit-learn ${sklearn}` : ''}${torch ? `, ${torch}` : ''}${measured}`;
  const markdown = toMarkdown(rows, machine, quick);
  const markdownPath = value('--markdown') ?? 'bench/results.md';
  await writeFileAtomic(markdownPath, markdown);
  log(`\nmarkdown table written to ${markdownPath}`);
  if (flag('--update-docs') || flag('--update-readme')) updateDocs(markdown);
  if (flag('--json')) process.stdout.write(JSON.stringify({ machine, quick, rows }) + '\n');
  else process.stdout.write('\n' + toText(rows, machine));
}

async function runBackend(
  config: BenchConfig,
  x: Matrix,
  init: GmmParameters,
  backend: MixtureBackend,
  gpu: GpuContext | null,
  peaks: Peaks,
): Promise<Row> {
  let bound: BoundData | null = null;
  try {
    const uploadStart = performance.now();
    bound = await backend.bindData(x, {
      purpose: config.model === 'kmeans' ? 'kmeans' : init.covarianceType,
    });
    if (gpu) await gpu.device.queue.onSubmittedWorkDone();
    const uploadMs = performance.now() - uploadStart;
    const compileStart = performance.now();
    await bound.prepare(config.k, config.model === 'kmeans' ? 'kmeans' : init.covarianceType);
    const compileMs = performance.now() - compileStart;
    const step =
      config.model === 'kmeans' ? lloydSteps(bound, init) : emSteps(bound, init, config.iterations);
    await step(); // warm-up
    const wall: number[] = [];
    const gpuTimes: number[] = [];
    let peakGpu = gpu ? gpuAllocations(gpu.device).bytes : 0;
    let objective = NaN;
    for (let i = 0; i < config.iterations; i++) {
      const started = performance.now();
      objective = await step();
      wall.push(performance.now() - started);
      if (bound.lastGpuSeconds !== null) gpuTimes.push(bound.lastGpuSeconds * 1000);
      if (gpu) peakGpu = Math.max(peakGpu, gpuAllocations(gpu.device).bytes);
    }
    // k-means: the inertia of the final centres, as scikit-learn reports it (one more assignment, untimed).
    if (config.model === 'kmeans') objective = await step();
    return makeRow(
      config,
      backend.name === 'webgpu' ? 'webgpu' : 'cpu (float64)',
      median(wall),
      objective,
      peaks,
      {
        gpuMs: gpuTimes.length ? median(gpuTimes) : null,
        compileMs: gpu ? compileMs : null,
        uploadMs: gpu ? uploadMs : null,
        gpuMb: gpu ? peakGpu / 2 ** 20 : null,
        peakRssMb: process.resourceUsage().maxRSS / 1024,
      },
    );
  } finally {
    bound?.dispose();
    backend.dispose();
  }
}

/** EM iterations; each resolves to the mean log-likelihood of its E-step. */
function emSteps(bound: BoundData, init: GmmParameters, iterations: number): () => Promise<number> {
  const run = emRun(bound, init, {
    covarianceType: init.covarianceType,
    tol: 0,
    maxIter: iterations + 1,
    regCovar: REGCOVAR,
  });
  return async () => (await run.step()).lowerBound;
}

/** Lloyd iterations from the initial means; each resolves to the inertia per sample of its assignment. */
function lloydSteps(bound: BoundData, init: GmmParameters): () => Promise<number> {
  const k = init.nComponents;
  const d = init.nFeatures;
  let centres = Float64Array.from(init.means, Math.fround);
  return async () => {
    const s = await bound.kmeansStatistics(centres, k);
    centres = centres.map((c, e) => {
      const count = s.counts[Math.floor(e / d)];
      return Math.fround(count > 0 ? c + s.firstMoment[e] / count : c);
    });
    return s.inertia / bound.rows;
  };
}

/** Writes the data and the initial model where a Python peer reads them (DATA.npy INIT.json). */
function writePeerInputs(dir: string, config: BenchConfig, x: Matrix, init: GmmParameters) {
  const dataPath = join(dir, 'x.npy');
  const initPath = join(dir, 'init.json');
  writeFileSync(dataPath, encodeNpy(x.data, x.rows, x.cols));
  const d = init.nFeatures;
  const covariances = covariancesAsArray(init);
  const shape = init.covarianceType === 'diag' ? [init.nComponents, d] : [init.nComponents, d, d];
  const nested = (a: Float64Array, shape: number[]): unknown =>
    shape.length === 1
      ? Array.from(a)
      : Array.from({ length: shape[0] }, (_, i) => {
          const size = shape.slice(1).reduce((p, v) => p * v, 1);
          return nested(a.subarray(i * size, (i + 1) * size), shape.slice(1));
        });
  writeFileSync(
    initPath,
    JSON.stringify({
      model: config.model === 'kmeans' ? 'kmeans' : 'gmm',
      weights: Array.from(init.weights),
      means: nested(init.means, [init.nComponents, d]),
      covarianceType: init.covarianceType,
      covariances: nested(covariances, shape),
      regCovar: REGCOVAR,
    }),
  );
  return { dataPath, initPath };
}

interface PeerResult {
  secondsPerIteration: number;
  objective: number;
  nIter: number;
  timedIterations?: number;
  peakRssMb: number;
  device?: string;
}

/** Runs a peer's script on the configuration's data and initial model; its one JSON line back. */
function runPython(
  python: string,
  script: string,
  name: string,
  config: BenchConfig,
  x: Matrix,
  init: GmmParameters,
  extraArgs: string[],
): PeerResult {
  const dir = mkdtempSync(join(tmpdir(), 'webgpu-em-bench-'));
  try {
    const { dataPath, initPath } = writePeerInputs(dir, config, x, init);
    const env = { ...process.env };
    // Set on some machines for old OpenBLAS builds; they slow a current one down.
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
    const result = spawnSync(
      python,
      [benchFile(script), dataPath, initPath, String(config.iterations), ...extraArgs],
      { encoding: 'utf8', env, maxBuffer: 1 << 20 },
    );
    if (result.status !== 0) throw new Error(`${name} run failed: ${result.stderr.trim().split('\n').pop()}`);
    return JSON.parse(result.stdout) as PeerResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runSklearn(
  config: BenchConfig,
  x: Matrix,
  init: GmmParameters,
  peaks: Peaks,
  log: (line: string) => void,
): Row {
  const script = config.model === 'kmeans' ? 'sklearn_kmeans.py' : 'sklearn_gmm.py';
  const out = runPython(SKLEARN_PYTHON, script, 'scikit-learn', config, x, init, [
    String(config.sklearnIterations),
  ]);
  log(`  scikit-learn timed ${out.timedIterations} iterations (of ${config.sklearnIterations} asked)`);
  if (out.nIter < config.iterations + 1) {
    log(`  scikit-learn converged after ${out.nIter} iterations: its objective is not at the same iteration`);
  }
  return peerRow(config, 'scikit-learn', out, peaks);
}

/** A row of a peer's timing: no GPU, compile or upload figures of ours. */
function peerRow(config: BenchConfig, name: string, out: PeerResult, peaks: Peaks): Row {
  return makeRow(config, name, out.secondsPerIteration * 1000, out.objective, peaks, {
    gpuMs: null,
    compileMs: null,
    uploadMs: null,
    gpuMb: null,
    peakRssMb: out.peakRssMb,
  });
}

function makeRow(
  config: BenchConfig,
  backend: string,
  ms: number,
  objective: number,
  peaks: Peaks,
  extra: Pick<Row, 'compileMs' | 'uploadMs' | 'gpuMb' | 'peakRssMb'> & { gpuMs: number | null },
): Row {
  const { flop, bytes } = workPerIteration(config.model, config.n, config.d, config.k);
  // The roofline time: whichever of compute and memory traffic takes longer at the peaks.
  const bound = Math.max(flop / peaks.flops, bytes / peaks.bytesPerSecond);
  return {
    config: config.name,
    backend,
    n: config.n,
    d: config.d,
    k: config.k,
    iterations: config.iterations,
    msPerIteration: ms,
    gpuMsPerIteration: extra.gpuMs,
    throughput: (config.n * config.k) / (ms / 1000),
    gflops: flop / (ms / 1000) / 1e9,
    gbps: bytes / (ms / 1000) / 1e9,
    rooflinePct: (100 * bound) / (ms / 1000),
    compileMs: extra.compileMs,
    uploadMs: extra.uploadMs,
    peakRssMb: extra.peakRssMb,
    gpuMb: extra.gpuMb,
    objective,
    speedupVsSklearn: null,
    speedupVsTorch: null,
  };
}

function describe(r: Row): string {
  const gpu = r.gpuMsPerIteration === null ? '' : ` (GPU ${r.gpuMsPerIteration.toFixed(1)} ms)`;
  return `  ${r.backend.padEnd(14)} ${r.msPerIteration.toFixed(1)} ms/iter${gpu}, objective ${r.objective.toFixed(5)}`;
}

/**
 * The fixed initial model: k-means++ centres drawn from (at most) the first 100k samples (fewer
 * for wide data, where the float64 seeding would take minutes), then weights and covariances
 * from every sample's nearest centre.
 */
async function initialModel(x: Matrix, k: number, type: CovarianceType): Promise<GmmParameters> {
  const head = Math.min(x.rows, 100_000, Math.floor(1e8 / (x.cols * k)));
  const sample = { data: x.data.subarray(0, head * x.cols), rows: head, cols: x.cols };
  const centres = await kmeansPlusPlus(await new CpuBackend().bindData(sample), sample, k, new Random(7));
  return parametersFromCentres(x, centres, REGCOVAR, type);
}

/**
 * The configuration's data: correlated Gaussian blobs; wider than 64 features, isotropic blobs
 * with a scale per cluster (the correlated generator costs N x D^2).
 */
function syntheticData(config: BenchConfig): Matrix {
  const { n, d, k, spread } = config;
  if (d <= 64) return makeBlobs({ n, d, k, spread, seed: 1 });
  const rng = new Random(1);
  const centres = Float64Array.from({ length: k * d }, () => rng.normal() * spread);
  const scales = Float64Array.from({ length: k }, () => 0.5 + rng.uniform());
  const data = new Float32Array(n * d);
  for (let r = 0; r < n; r++) {
    const c = r % k;
    for (let i = 0; i < d; i++) data[r * d + i] = centres[c * d + i] + scales[c] * rng.normal();
  }
  return { data, rows: n, cols: d };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function sklearnVersion(): string | false {
  const r = spawnSync(SKLEARN_PYTHON, ['-c', 'import sklearn; print(sklearn.__version__)'], {
    encoding: 'utf8',
  });
  return r.status === 0 ? r.stdout.trim() : false;
}

const fmt = (v: number | null, digits = 1) => (v === null ? '-' : v.toFixed(digits));

const HEADER = [
  'config',
  'backend',
  'ms/iter',
  'GPU ms/iter',
  'N·K·it/s',
  'GFLOP/s',
  'GB/s',
  'roofline %',
  'compile ms',
  'upload ms',
  'peak RSS MB',
  'GPU MB',
  'objective',
  'vs sklearn',
  'vs torch',
];

function cells(r: Row): string[] {
  return [
    r.config,
    r.backend,
    fmt(r.msPerIteration),
    fmt(r.gpuMsPerIteration),
    si(r.throughput),
    fmt(r.gflops, 2),
    fmt(r.gbps, 2),
    fmt(r.rooflinePct, 1),
    fmt(r.compileMs, 0),
    fmt(r.uploadMs, 0),
    fmt(r.peakRssMb, 0),
    fmt(r.gpuMb, 0),
    r.objective.toFixed(5),
    r.speedupVsSklearn === null ? '-' : `${r.speedupVsSklearn.toFixed(2)}x`,
    r.speedupVsTorch === null ? '-' : `${r.speedupVsTorch.toFixed(2)}x`,
  ];
}

function toText(rows: Row[], machine: string): string {
  const table = [HEADER, ...rows.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...table.map((r) => r[i].length)));
  return (
    `machine: ${machine}\n` +
    table.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ')).join('\n') +
    '\n'
  );
}

function toMarkdown(rows: Row[], machine: string, quick: boolean): string {
  return [
    `Benchmark (${quick ? 'quick' : 'full'} run, ${new Date().toISOString().slice(0, 10)}): ${machine}.`,
    'Median of the measured iterations after one warm-up; tol 0 from the same initial model; ' +
      '"objective" is the mean log-likelihood at the last E-step (k-means: inertia per sample); "vs sklearn" and "vs torch" are scikit-learn\'s and PyTorch\'s time over this row\'s.',
    '',
    `| ${HEADER.join(' | ')} |`,
    `| ${HEADER.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${cells(r).join(' | ')} |`),
    '',
  ].join('\n');
}

/** The page that holds the benchmark table (docs/benchmarks.md), between its markers. */
function updateDocs(markdown: string): void {
  const path = 'docs/benchmarks.md';
  const text = readFileSync(path, 'utf8');
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${path} has no ${start} ... ${end} section`);
  writeFileSync(path, text.slice(0, a + start.length) + '\n' + markdown + text.slice(b));
}

main().catch((error) => {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
