/**
 * gpustat's library: what AMD's RADV/ACO compiler makes of WGSL compute pipelines, on a machine
 * with no GPU (see README.md in this folder).
 *
 *   WGSL --(Dawn/Tint, npm `webgpu`, on lavapipe, toggle dump_shaders: dawn-spirv.mjs)--> SPIR-V text
 *        --(spirv-as)--> SPIR-V binary
 *        --(vkstats.c: vkCreateComputePipelines on RADV's null device, RADV_FORCE_FAMILY)-->
 *        VK_KHR_pipeline_executable_properties statistics (ACO's numbers) + an occupancy estimate.
 *
 * Paths are the repository's: node_modules/webgpu for Dawn, node_modules/.cache/gpustat/ for
 * the vkstats binary (built on first use) and scratch files.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The repository's root. */
export const ROOT = resolve(HERE, '..', '..');
const ICD_DIR = process.env.GPUSTAT_ICD_DIR ?? '/usr/share/vulkan/icd.d';
const LAVAPIPE_ICD = join(ICD_DIR, 'lvp_icd.json');
const RADV_ICD = join(ICD_DIR, 'radeon_icd.json');
/** Where vkstats is built and scratch files go (ignored, like all of node_modules/). */
export const CACHE_DIR = join(ROOT, 'node_modules', '.cache', 'gpustat');
const WEBGPU_INDEX = process.env.GPUSTAT_WEBGPU ?? join(ROOT, 'node_modules', 'webgpu', 'index.js');

/**
 * Register-file facts per chip family (Mesa src/amd/compiler/aco_ir.cpp init_program and
 * src/amd/vulkan/radv_shader.c radv_get_max_waves): `vgprs`, physical VGPRs per lane of one
 * SIMD in wave32 (wave64: half); `gran`, the allocation granule in wave32 (wave64: half);
 * `maxWaves`, wave slots per SIMD.
 */
export const FAMILIES = {
  navi10: { gfx: 'gfx1010 (RDNA1)', vgprs: 1024, gran: 8, maxWaves: 20 },
  navi12: { gfx: 'gfx1011 (RDNA1)', vgprs: 1024, gran: 8, maxWaves: 20 },
  navi14: { gfx: 'gfx1012 (RDNA1)', vgprs: 1024, gran: 8, maxWaves: 20 },
  navi21: { gfx: 'gfx1030 (RDNA2)', vgprs: 1024, gran: 16, maxWaves: 16 },
  navi22: { gfx: 'gfx1031 (RDNA2)', vgprs: 1024, gran: 16, maxWaves: 16 },
  navi23: { gfx: 'gfx1032 (RDNA2)', vgprs: 1024, gran: 16, maxWaves: 16 },
  navi24: { gfx: 'gfx1034 (RDNA2)', vgprs: 1024, gran: 16, maxWaves: 16 },
  navi31: { gfx: 'gfx1100 (RDNA3)', vgprs: 1536, gran: 24, maxWaves: 16 },
  navi32: { gfx: 'gfx1101 (RDNA3)', vgprs: 1536, gran: 24, maxWaves: 16 },
  navi33: { gfx: 'gfx1102 (RDNA3)', vgprs: 1024, gran: 16, maxWaves: 16 },
} as const;
export type Family = keyof typeof FAMILIES;

export const isFamily = (name: string): name is Family => Object.hasOwn(FAMILIES, name);

// ---------------------------------------------------------------- processes

interface Ran {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (asynchronously, so that several run at once). */
function run(
  cmd: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; stdoutFile?: string } = {},
): Promise<Ran> {
  return new Promise((done, fail) => {
    const fd = options.stdoutFile ? openSync(options.stdoutFile, 'w') : null;
    const child = spawn(cmd, args, {
      env: options.env ?? process.env,
      stdio: ['ignore', fd ?? 'pipe', fd ?? 'pipe'],
      timeout: options.timeoutMs ?? 10 * 60_000,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      if (fd !== null) closeSync(fd);
      fail(e);
    });
    child.on('close', (status, signal) => {
      if (fd !== null) closeSync(fd);
      done({
        status,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

/** `fn` over `items`, at most `limit` at a time, results in the items' order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** Compiles that run at once: one per core (each RADV compile is one process on one core). */
export const defaultJobs = (): number => Math.max(1, availableParallelism());

// ---------------------------------------------------------------- tools

const hasCommand = (cmd: string) =>
  spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/**
 * What is missing for gpustat on this machine, one line each with the package that brings it
 * (empty when everything is there). With `probe`, it also builds vkstats and asks RADV for its
 * null device (RADV_FORCE_FAMILY=navi31).
 */
export async function missingTools(options: { probe?: boolean } = {}): Promise<string[]> {
  const missing: string[] = [];
  if (!hasCommand('spirv-as')) missing.push('spirv-as not found (apt-get install spirv-tools)');
  if (!hasCommand('cc')) missing.push('cc not found (apt-get install gcc)');
  if (!existsSync('/usr/include/vulkan/vulkan.h') && !process.env.GPUSTAT_VKSTATS)
    missing.push('the Vulkan headers are missing (apt-get install libvulkan-dev)');
  for (const icd of [LAVAPIPE_ICD, RADV_ICD])
    if (!existsSync(icd)) missing.push(`${icd} is missing (apt-get install mesa-vulkan-drivers)`);
  if (!existsSync(WEBGPU_INDEX)) missing.push(`${WEBGPU_INDEX} is missing (npm ci: the package 'webgpu')`);
  if (missing.length > 0 || !options.probe) return missing;
  try {
    await radvDevice('navi31');
  } catch (e) {
    missing.push((e as Error).message);
  }
  return missing;
}

let vkstatsBuild: Promise<string> | null = null;

/**
 * The vkstats binary, built from vkstats.c into node_modules/.cache/gpustat/ on first use and
 * again when the source changes (GPUSTAT_VKSTATS names a binary built elsewhere).
 */
export function vkstatsBinary(): Promise<string> {
  if (process.env.GPUSTAT_VKSTATS) return Promise.resolve(process.env.GPUSTAT_VKSTATS);
  vkstatsBuild ??= (async () => {
    const source = join(HERE, 'vkstats.c');
    const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 12);
    const binary = join(CACHE_DIR, `vkstats-${hash}`);
    if (existsSync(binary)) return binary;
    mkdirSync(CACHE_DIR, { recursive: true });
    const partial = `${binary}.${process.pid}.tmp`;
    const r = await run('cc', ['-O1', '-o', partial, source, '-lvulkan']);
    if (r.status !== 0) {
      rmSync(partial, { force: true });
      throw new Error(`building vkstats failed (apt-get install gcc libvulkan-dev):\n${r.stderr}`);
    }
    renameSync(partial, binary);
    return binary;
  })();
  vkstatsBuild.catch(() => (vkstatsBuild = null));
  return vkstatsBuild;
}

const radvEnv = (family: Family, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  VK_ICD_FILENAMES: RADV_ICD,
  RADV_FORCE_FAMILY: family,
  ...extra,
});

/** The line vkstats prints for RADV's null device of a family: its name and the driver's version. */
export async function radvDevice(family: Family): Promise<string> {
  const vkstats = await vkstatsBinary();
  const r = await run(vkstats, ['--probe'], { env: radvEnv(family), timeoutMs: 60_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('#device\t'));
  if (r.status !== 0 || !line || !/radv/i.test(line)) {
    throw new Error(
      `RADV has no null device for RADV_FORCE_FAMILY=${family} (apt-get install -t bookworm-backports mesa-vulkan-drivers: Mesa 25): ` +
        `${(r.stdout + r.stderr).trim().split('\n').slice(-3).join(' | ') || `exit ${r.status ?? r.signal}`}`,
    );
  }
  const [, name, driver] = line.split('\t');
  return `${name}, ${driver}`;
}

/** Mesa's version from a device line ('... radv Mesa 25.0.7-2~bpo12+1'). */
export const mesaVersion = (device: string): string => /Mesa ([^\s,]+)/.exec(device)?.[1] ?? 'unknown';

// ---------------------------------------------------------------- Dawn: WGSL -> SPIR-V

/** One pipeline for Dawn to compile: WGSL, entry point, override constants. */
export interface SpirvJob {
  readonly id: string;
  readonly code: string;
  readonly entryPoint: string;
  readonly constants: Readonly<Record<string, number>>;
}

/** The SPIR-V Dawn made for a job: the disassembly and the name of its SPIR-V entry point. */
export interface Spirv {
  readonly asm: string;
  readonly spirvEntry: string;
}

/** Each dump: a '/* Dumped SPIRV disassembly *\/' line, then ';' header lines and 'Op' lines. */
function parseDumps(lines: readonly string[]): string[] {
  const dumps: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].includes('Dumped SPIRV disassembly')) continue;
    const body: string[] = [];
    for (i++; i < lines.length; i++) {
      const l = lines[i];
      if (/^\s*(;|%[\w.-]+\s*=\s*Op|Op[A-Z])/.test(l)) body.push(l);
      else if (l.trim() === '' && body.length === 0) continue;
      else break;
    }
    i--;
    dumps.push(body.join('\n') + '\n');
  }
  return dumps;
}

/**
 * The WGSL entry point a dump is for: Tint names the SPIR-V entry 'dawn_entry_point'; the
 * function it points at keeps the WGSL name (disable_symbol_renaming) in OpName.
 */
function entryOf(asm: string): { spirvEntry: string; wgslEntry: string } | null {
  const ep = /OpEntryPoint GLCompute (%[\w.-]+) "([^"]+)"/.exec(asm);
  if (!ep) return null;
  const name = new RegExp(`OpName ${ep[1].replace(/[.$]/g, '\\$&')} "([^"]+)"`).exec(asm);
  return { spirvEntry: ep[2], wgslEntry: name ? name[1] : ep[2] };
}

/**
 * Compiles every job with Dawn in one process (on lavapipe, which compiles lazily: about a
 * second in all) and returns each job's SPIR-V, or the error Dawn gave for it. The overrides
 * are substituted into the SPIR-V (plain constants, the workgroup size included), as Dawn
 * hands them to any Vulkan driver.
 */
export async function dawnSpirv(
  jobs: readonly SpirvJob[],
  options: { robustness?: boolean; keepDir?: string } = {},
): Promise<Map<string, Spirv | Error>> {
  const ids = new Set<string>();
  for (const j of jobs) {
    if (!/^\S+$/.test(j.id) || ids.has(j.id)) throw new Error(`job ids must be unique words: '${j.id}'`);
    ids.add(j.id);
  }
  mkdirSync(CACHE_DIR, { recursive: true });
  const work = options.keepDir ?? mkdtempSync(join(tmpdir(), 'gpustat-'));
  mkdirSync(work, { recursive: true });
  try {
    const jobsFile = join(work, 'jobs.json');
    const log = join(work, 'dawn.log');
    writeFileSync(jobsFile, JSON.stringify({ robustness: options.robustness ?? true, jobs }));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      VK_ICD_FILENAMES: LAVAPIPE_ICD,
      GALLIVM_PERF: process.env.GALLIVM_PERF ?? 'nopt',
    };
    delete env.RADV_FORCE_FAMILY;
    const r = await run(process.execPath, [join(HERE, 'dawn-spirv.mjs'), WEBGPU_INDEX, jobsFile], {
      env,
      stdoutFile: log,
      timeoutMs: 15 * 60_000,
    });
    const lines = readFileSync(log, 'utf8').split('\n');
    const out = new Map<string, Spirv | Error>();
    let current: string | null = null;
    let segment: string[] = [];
    let error: string | null = null;
    for (const line of lines) {
      const m = /^@@gpustat-(begin|end|error) (\S+)(?: (.*))?$/.exec(line);
      if (!m) {
        if (current !== null) segment.push(line);
        continue;
      }
      const [, what, id, message] = m;
      if (what === 'begin') {
        [current, segment, error] = [id, [], null];
      } else if (what === 'error') {
        error = message ?? 'failed';
      } else if (id === current) {
        const job = jobs.find((j) => j.id === id)!;
        const dumps = parseDumps(segment)
          .map((asm) => ({ asm, entry: entryOf(asm) }))
          .filter((d) => d.entry?.wgslEntry === job.entryPoint);
        if (error) out.set(id, new Error(`Dawn: ${error}`));
        else if (dumps.length !== 1)
          out.set(
            id,
            new Error(`Dawn printed ${dumps.length} SPIR-V dumps for '${job.entryPoint}' (1 expected)`),
          );
        else out.set(id, { asm: dumps[0].asm, spirvEntry: dumps[0].entry!.spirvEntry });
        current = null;
      }
    }
    for (const j of jobs) {
      if (out.has(j.id)) continue;
      const tail = lines
        .filter((l) => /error|gpustat/i.test(l))
        .slice(-10)
        .join('\n');
      out.set(j.id, new Error(`Dawn stopped before this pipeline (exit ${r.status ?? r.signal}):\n${tail}`));
    }
    return out;
  } finally {
    if (!options.keepDir) rmSync(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- RADV: SPIR-V -> statistics

/** The statistics ACO reports, in the order gpustat prints them (others follow). */
export const STAT_ORDER = [
  'SGPRs',
  'VGPRs',
  'Spilled SGPRs',
  'Spilled VGPRs',
  'Code size',
  'LDS size',
  'Scratch size',
  'Subgroups per SIMD',
  'Instructions',
  'Copies',
  'Branches',
  'Latency',
  'Inverse Throughput',
  'VMEM Clause',
  'SMEM Clause',
  'Pre-Sched SGPRs',
  'Pre-Sched VGPRs',
  'VALU',
  'SALU',
  'VMEM',
  'SMEM',
  'VOPD',
] as const;
const SKIPPED_STATS = new Set(['Driver pipeline hash', 'Hash', 'Combined inputs', 'Combined outputs']);

/** What RADV made of one pipeline on one chip family. */
export interface RadvStats {
  readonly family: Family;
  readonly device: string;
  /** The subgroup size RADV chose (or was told with `wave`). */
  readonly wave: number;
  readonly workgroupSize: readonly [number, number, number];
  /** Every statistic ACO reported, by name, and its description. */
  readonly stats: ReadonlyMap<string, number>;
  readonly descriptions: ReadonlyMap<string, string>;
  readonly occupancy: Occupancy;
  /** RADV's final assembly (ACO disassembly), when asked for with `ir`. */
  readonly assembly?: string;
}

/** Waves of the chosen size resident on one SIMD, as limited by VGPRs and workgroup memory (README.md). */
export interface Occupancy {
  readonly byVgpr: number;
  /** Infinity when the pipeline uses no workgroup memory. */
  readonly byLds: number;
  readonly estimate: number;
  readonly maxWaves: number;
  readonly physicalVgprs: number;
  readonly granule: number;
  readonly workgroupsPerWgp: number;
  readonly wavesPerWorkgroup: number;
}

/** The occupancy estimate: min(VGPR limit, LDS limit) in waves per SIMD (see README.md). */
export function occupancy(
  family: Family,
  wave: number,
  vgprs: number,
  ldsBytes: number,
  workgroupSize: number,
): Occupancy {
  const fam = FAMILIES[family];
  const physicalVgprs = fam.vgprs * (32 / wave);
  const granule = fam.gran * (32 / wave);
  const allocated = Math.ceil(Math.max(vgprs, 1) / granule) * granule;
  const byVgpr = Math.min(fam.maxWaves, Math.floor(physicalVgprs / allocated));
  const wavesPerWorkgroup = Math.ceil(workgroupSize / wave);
  let byLds = Infinity;
  let workgroupsPerWgp = 0;
  if (ldsBytes > 0) {
    workgroupsPerWgp = Math.floor(131072 / (Math.ceil(ldsBytes / 512) * 512));
    byLds = Math.min(fam.maxWaves, Math.floor((workgroupsPerWgp * wavesPerWorkgroup) / 4));
  }
  return {
    byVgpr,
    byLds,
    estimate: Math.min(byVgpr, byLds),
    maxWaves: fam.maxWaves,
    physicalVgprs,
    granule,
    workgroupsPerWgp,
    wavesPerWorkgroup,
  };
}

/** The descriptor bindings a SPIR-V module declares, as vkstats's VKSTATS_BINDINGS ('set:binding:s|u,...'). */
function bindingsOf(asm: string): string {
  const set: Record<string, number> = {};
  const bind: Record<string, number> = {};
  const cls: Record<string, string> = {};
  for (const m of asm.matchAll(/OpDecorate (%[\w.-]+) DescriptorSet (\d+)/g)) set[m[1]] = +m[2];
  for (const m of asm.matchAll(/OpDecorate (%[\w.-]+) Binding (\d+)/g)) bind[m[1]] = +m[2];
  for (const m of asm.matchAll(/(%[\w.-]+) = OpVariable %[\w.-]+ (\w+)/g)) cls[m[1]] = m[2];
  return Object.keys(set)
    .map((id) => {
      const c = cls[id];
      if (c !== 'StorageBuffer' && c !== 'Uniform')
        throw new Error(`binding ${id} (storage class ${c}): only uniform and storage buffers are supported`);
      return `${set[id]}:${bind[id]}:${c === 'StorageBuffer' ? 's' : 'u'}`;
    })
    .join(',');
}

function targetEnv(asm: string): string {
  const v = (/; Version: 1\.(\d)/.exec(asm) ?? [])[1];
  const envs: Record<string, string> = {
    '0': 'vulkan1.0',
    '1': 'vulkan1.0',
    '2': 'vulkan1.0',
    '3': 'vulkan1.1',
    '4': 'vulkan1.1spv1.4',
    '5': 'vulkan1.2',
    '6': 'vulkan1.3',
  };
  return envs[v ?? ''] ?? 'vulkan1.1spv1.4';
}

function localSize(asm: string): [number, number, number] {
  const m = /OpExecutionMode %[\w.-]+ LocalSize (\d+) (\d+) (\d+)/.exec(asm);
  return m ? [+m[1], +m[2], +m[3]] : [1, 1, 1];
}

/**
 * Assembles Dawn's SPIR-V and compiles it with RADV/ACO for one chip family. With `keepDir`,
 * the SPIR-V, vkstats's output and the driver's IR (NIR, ACO IR, assembly: `<name>.ir.txt`)
 * are kept there under `name`.
 */
export async function radvStats(
  spirv: Spirv,
  family: Family,
  options: { wave?: 0 | 32 | 64; keepDir?: string; name?: string; ir?: boolean } = {},
): Promise<RadvStats> {
  const vkstats = await vkstatsBinary();
  const work = options.keepDir ?? mkdtempSync(join(tmpdir(), 'gpustat-'));
  mkdirSync(work, { recursive: true });
  const base = join(work, options.name ?? 'pipeline');
  try {
    // Debian bookworm's spirv-as (2023.1) predates SPV_KHR_maximal_reconvergence: the execution
    // mode is written as its number (6023), a raw word.
    const asm = spirv.asm.replace(/(OpExecutionMode %[\w.-]+ )MaximallyReconvergesKHR\b/g, '$1!6023');
    writeFileSync(`${base}.spvasm`, spirv.asm);
    writeFileSync(`${base}.fixed.spvasm`, asm);
    let r = await run('spirv-as', [
      '--target-env',
      targetEnv(asm),
      '-o',
      `${base}.spv`,
      `${base}.fixed.spvasm`,
    ]);
    if (r.status !== 0) throw new Error(`spirv-as failed:\n${r.stderr}`);
    const extra: Record<string, string> = { VKSTATS_BINDINGS: bindingsOf(asm) };
    if (options.ir || options.keepDir) extra.VKSTATS_IR = `${base}.ir.txt`;
    r = await run(vkstats, [`${base}.spv`, spirv.spirvEntry, String(options.wave ?? 0)], {
      env: radvEnv(family, extra),
    });
    if (options.keepDir) writeFileSync(`${base}.radv.txt`, r.stdout + r.stderr);
    if (r.status !== 0)
      throw new Error(`RADV compile failed (exit ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
    let device = '';
    let wave = 0;
    const stats = new Map<string, number>();
    const descriptions = new Map<string, string>();
    for (const line of r.stdout.split('\n')) {
      const f = line.split('\t');
      if (f[0] === '#device') device = `${f[1]}, ${f[2]}`;
      else if (f[0] === '#executable') wave = +f[3];
      else if (f.length >= 2 && wave > 0 && !SKIPPED_STATS.has(f[0])) {
        stats.set(f[0], Number(f[1]));
        descriptions.set(f[0], f[2] ?? '');
      }
    }
    if (!wave || !stats.has('VGPRs'))
      throw new Error(`vkstats printed no statistics:\n${r.stdout}${r.stderr}`);
    const ls = localSize(asm);
    return {
      ...(options.ir ? { assembly: assemblyOf(`${base}.ir.txt`) } : {}),
      family,
      device,
      wave,
      workgroupSize: ls,
      stats,
      descriptions,
      occupancy: occupancy(
        family,
        wave,
        stats.get('VGPRs')!,
        stats.get('LDS size') ?? 0,
        ls[0] * ls[1] * ls[2],
      ),
    };
  } finally {
    if (!options.keepDir) rmSync(work, { recursive: true, force: true });
  }
}

/** The final assembly out of a kept IR file (`radvStats` with `keepDir` or `ir`). */
export function assemblyOf(irFile: string): string {
  if (!existsSync(irFile) || statSync(irFile).size === 0) return '';
  const ir = readFileSync(irFile, 'utf8');
  const at = ir.lastIndexOf('==== Assembly');
  return at >= 0 ? ir.slice(at) : ir;
}
