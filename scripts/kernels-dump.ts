/**
 * The compute pipelines the library creates on a GPU, as it creates them: each configuration
 * below runs the WebGPU backend's own calls (bind, k-means++ seeding, prepare, an EM or Lloyd
 * pass, predict, predictProba, scoreSamples, transform, the render view) on a recording device (scripts/recording-device.ts)
 * that has WebGPU's default limits and is no fallback adapter, and keeps the WGSL, entry point
 * and override constants of every pipeline they make. Kernel and variant choices, workgroup
 * sizes and tiles are the library's (src/backends/webgpu/), not restated here.
 *
 *   npm run kernels:dump [-- DIR]      (default DIR: .kernels/, ignored by git)
 *
 * writes DIR/<kernel>.<config>.wgsl (the exact WGSL given to createShaderModule) and
 * DIR/<kernel>.<config>.json ({ kernel, config, entryPoint, constants }) for each distinct
 * pipeline, named after the first configuration that makes it, and DIR/index.json (the device,
 * every configuration with its N and the pipelines it makes, and the configurations refused).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BoundData, ComponentParameters, DataUse } from '../src/backends/backend.js';
import { WebGpuBackend } from '../src/backends/webgpu/webgpu-backend.js';
import { FUSED_MIN_WORK, statsKindOf } from '../src/backends/webgpu/layout.js';
import { COVARIANCE_TYPES, type CovarianceType } from '../src/core/names.js';
import { WebGpuEmError } from '../src/errors.js';
import { recordingDevice, WEBGPU_DEFAULT_LIMITS, type RecordingDeviceOptions } from './recording-device.js';

/**
 * The device planned for: WebGPU's default limits, a GPU (not a fallback adapter) with the
 * `subgroups` feature and the subgroup sizes of AMD's RDNA (32 and 64).
 */
export const PLANNED_DEVICE: RecordingDeviceOptions = {
  features: ['subgroups'],
  adapterInfo: {
    vendor: 'amd',
    architecture: 'rdna-3',
    description: 'planned GPU: WebGPU default limits, not a fallback adapter',
    subgroupMinSize: 32,
    subgroupMaxSize: 64,
    isFallbackAdapter: false,
  },
};

/** D of the mixture configurations, and their K. */
export const MIXTURE_FEATURES = [2, 8, 16, 32, 64, 128] as const;
export const MIXTURE_COMPONENTS = 32;

/** One configuration: a model's shape on N samples, and the backend calls a fit and its uses make. */
export interface Plan {
  readonly config: string;
  readonly use: DataUse;
  readonly n: number;
  readonly d: number;
  readonly k: number;
}

/**
 * Every configuration, in order: each covariance type at each D with K = 32, plus K = 256 at
 * D = 16, both at N = ⌈FUSED_MIN_WORK / K⌉ (the fused kernel's threshold, where the sizes allow
 * it) and ('-small') one row below it (the two-kernel path); a Bayesian mixture (full, D = 8,
 * K = 16: the same backend calls); k-means at the bench's shapes.
 */
export function plans(): Plan[] {
  const out: Plan[] = [];
  const mixture = (use: CovarianceType, d: number, k: number, prefix = '') => {
    const n = Math.ceil(FUSED_MIN_WORK / k);
    out.push({ config: `${prefix}${use}-d${d}-k${k}`, use, n, d, k });
    out.push({ config: `${prefix}${use}-d${d}-k${k}-small`, use, n: n - 1, d, k });
  };
  for (const use of COVARIANCE_TYPES) for (const d of MIXTURE_FEATURES) mixture(use, d, MIXTURE_COMPONENTS);
  for (const use of COVARIANCE_TYPES) mixture(use, 16, 256);
  mixture('full', 8, 16, 'bgmm-');
  for (const [d, k] of [
    [2, 8],
    [16, 64],
    [384, 64],
  ])
    out.push({ config: `kmeans-d${d}-k${k}`, use: 'kmeans', n: 65_536, d, k });
  return out;
}

/** Parameters of K components of D features for a covariance type (their values do not matter here). */
function parameters(covarianceType: CovarianceType, d: number, k: number): ComponentParameters {
  const full = statsKindOf({ covarianceType }) === 'full';
  const precisionCholesky = new Float64Array(k * (full ? (d * (d + 1)) / 2 : d));
  for (let c = 0; c < k; c++)
    for (let i = 0; i < d; i++)
      precisionCholesky[full ? (c * d * (d + 1)) / 2 + (i * (i + 3)) / 2 : c * d + i] = 1;
  return {
    covarianceType,
    nComponents: k,
    nFeatures: d,
    logWeights: new Float64Array(k).fill(-Math.log(k)),
    means: new Float64Array(k * d),
    precisionCholesky,
    logDetPrecisionCholesky: new Float64Array(k),
  };
}

/**
 * The backend calls of a plan, step by step: a fit, then what a fitted model does with them
 * (the E-step options as src/models/mixture-model.ts passes them).
 */
function steps(plan: Plan, data: BoundData): Array<[string, () => Promise<unknown>]> {
  const { use, d, k } = plan;
  // k-means++ as src/models/init.ts calls it: the first centre, then a step of 2 + ln K candidates.
  const seed = async () => {
    const { state } = await data.seedingStep([new Float64Array(d)], null);
    const trials = Array.from({ length: 2 + Math.floor(Math.log(k)) }, () => new Float64Array(d));
    (await data.seedingStep(trials, state)).state.release();
    state.release();
  };
  if (use === 'kmeans') {
    const centres = new Float64Array(k * d);
    return [
      [
        'fit',
        async () => {
          await seed();
          await data.prepare(k, 'kmeans');
          await data.kmeansStatistics(centres, k);
        },
      ],
      ['predict', () => data.assign(centres, k, { allDistances: false })],
      ['transform', () => data.assign(centres, k, { allDistances: true })],
      ['view', () => data.renderView!({ kind: 'kmeans', k })],
    ];
  }
  const p = parameters(use, d, k);
  return [
    [
      'fit',
      async () => {
        await seed();
        await data.prepare(k, use);
        await data.sufficientStatistics(p, new Float64Array(k * d));
      },
    ],
    // The E-steps of the models' methods: predict (and the fit's labels), predictProba, scoreSamples.
    ['predict', () => data.eStep(p, { responsibilities: false, labels: true, logLikelihood: false })],
    ['proba', () => data.eStep(p, { responsibilities: true, logLikelihood: false })],
    ['score', () => data.eStep(p, { responsibilities: false })],
    ['view', () => data.renderView!({ kind: 'mixture', params: p })],
  ];
}

/** A pipeline of the library: where it came from and what it is. */
export interface PlannedPipeline {
  /** Its file in shaders/ without .wgsl. */
  readonly kernel: string;
  /** The first configuration (and step, when not the fit) that makes it. */
  readonly config: string;
  readonly entryPoint: string;
  readonly constants: Readonly<Record<string, number>>;
  /** The exact WGSL given to createShaderModule. */
  readonly code: string;
  /** Every configuration-step that makes it. */
  readonly configs: string[];
}

/** What the planning found: the distinct pipelines, and per configuration its N or why the backend refused it. */
export interface KernelPlan {
  readonly pipelines: PlannedPipeline[];
  readonly plans: Array<Plan & { pipelines: string[]; refused?: string }>;
}

/** The file name stem of a pipeline in a dump: `<kernel>.<config>`. */
export const stemOf = (p: { kernel: string; config: string }): string => `${p.kernel}.${p.config}`;

/** Runs every configuration on a recording device and collects the distinct pipelines. */
export async function planKernels(): Promise<KernelPlan> {
  const byKey = new Map<string, PlannedPipeline>();
  const stems = new Set<string>();
  const out: KernelPlan = { pipelines: [], plans: [] };
  for (const plan of plans()) {
    const { device, pipelines } = recordingDevice(PLANNED_DEVICE);
    const backend = await WebGpuBackend.create({ device });
    const made: string[] = [];
    let refused: string | undefined;
    let data: BoundData | null = null;
    try {
      data = await backend.bindData(
        { data: new Float32Array(plan.n * plan.d), rows: plan.n, cols: plan.d },
        {
          purpose: plan.use,
        },
      );
      for (const [step, call] of steps(plan, data)) {
        const before = pipelines.length;
        await call();
        for (const r of pipelines.slice(before)) {
          const kernel = /^([\w-]+)\.wgsl\b/.exec(r.moduleLabel)?.[1];
          if (!kernel)
            throw new Error(`a shader module labelled '${r.moduleLabel}' names no file of shaders/`);
          const config = step === 'fit' ? plan.config : `${plan.config}-${step}`;
          const constants = Object.fromEntries(
            Object.entries(r.constants).sort(([a], [b]) => a.localeCompare(b)),
          );
          const hash = createHash('sha256').update(r.code).digest('hex');
          const key = `${kernel}|${r.entryPoint}|${JSON.stringify(constants)}|${hash}`;
          let p = byKey.get(key);
          if (!p) {
            let name = config;
            for (let i = 2; stems.has(stemOf({ kernel, config: name })); i++) name = `${config}-${i}`;
            p = { kernel, config: name, entryPoint: r.entryPoint, constants, code: r.code, configs: [] };
            stems.add(stemOf(p));
            byKey.set(key, p);
            out.pipelines.push(p);
          }
          if (!p.configs.includes(config)) p.configs.push(config);
          if (!made.includes(stemOf(p))) made.push(stemOf(p));
        }
      }
    } catch (error) {
      // A size the backend refuses (its limits) is skipped; anything else is a fault.
      if (!(error instanceof WebGpuEmError) || error.kind !== 'gpu') throw error;
      refused = error.message;
    } finally {
      data?.dispose();
      backend.dispose();
    }
    out.plans.push({ ...plan, pipelines: made, ...(refused ? { refused } : {}) });
  }
  return out;
}

/** The JSON file of a pipeline in a dump. */
export const pipelineJson = (p: PlannedPipeline) =>
  JSON.stringify(
    { kernel: p.kernel, config: p.config, entryPoint: p.entryPoint, constants: p.constants },
    null,
    2,
  ) + '\n';

/**
 * Writes a plan into `dir`. A previous dump there is replaced (the files its index lists); any
 * other file in the folder is an error, so that nothing is mixed in.
 */
export function writeDump(dir: string, plan: KernelPlan): void {
  mkdirSync(dir, { recursive: true });
  const index = join(dir, 'index.json');
  if (existsSync(index)) {
    const old = JSON.parse(readFileSync(index, 'utf8')) as { pipelines: Array<{ file: string }> };
    for (const { file } of old.pipelines)
      for (const ext of ['.wgsl', '.json']) rmSync(join(dir, file + ext), { force: true });
    rmSync(index);
  }
  const others = readdirSync(dir);
  if (others.length > 0)
    throw new Error(`${dir} is not empty (${others.slice(0, 3).join(', ')}...): give a new folder`);
  for (const p of plan.pipelines) {
    writeFileSync(join(dir, `${stemOf(p)}.wgsl`), p.code);
    writeFileSync(join(dir, `${stemOf(p)}.json`), pipelineJson(p));
  }
  const device = {
    limits: WEBGPU_DEFAULT_LIMITS,
    features: PLANNED_DEVICE.features,
    adapterInfo: PLANNED_DEVICE.adapterInfo,
  };
  const pipelines = plan.pipelines.map((p) => ({
    file: stemOf(p),
    kernel: p.kernel,
    config: p.config,
    configs: p.configs,
  }));
  writeFileSync(index, JSON.stringify({ device, plans: plan.plans, pipelines }, null, 2) + '\n');
}

/** Reads a dump back: its pipelines, as written by writeDump. */
export function readDump(dir: string): PlannedPipeline[] {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as {
    pipelines: Array<{ file: string; configs: string[] }>;
  };
  return index.pipelines.map(({ file, configs }) => {
    const meta = JSON.parse(readFileSync(join(dir, `${file}.json`), 'utf8')) as Omit<
      PlannedPipeline,
      'code' | 'configs'
    >;
    return { ...meta, code: readFileSync(join(dir, `${file}.wgsl`), 'utf8'), configs };
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2] ?? '.kernels';
  if (dir.startsWith('-')) {
    console.error('usage: npm run kernels:dump [-- DIR]   (default: .kernels/)');
    process.exit(2);
  }
  const started = performance.now();
  const plan = await planKernels();
  try {
    writeDump(resolve(dir), plan);
  } catch (e) {
    console.error(`kernels:dump: ${(e as Error).message}`);
    process.exit(1);
  }
  for (const p of plan.plans.filter((q) => q.refused))
    console.error(`kernels:dump: ${p.config} refused: ${p.refused}`);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.error(
    `kernels:dump: ${plan.pipelines.length} pipelines from ${plan.plans.length} configurations into ${dir} (${seconds} s)`,
  );
}
