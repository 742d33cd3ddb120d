import type { GpuContext } from '../../gpu/context.js';
import { loadShader } from '../../gpu/shader-source.js';
import { FUSED_KERNEL, bindingTypes, type KernelConstants } from './kernels.js';
import { statsPerComponent, type StatsKind } from './layout.js';
import { kernelShape, type KernelShape } from './variants.js';

/**
 * The straight-line parts of shaders/gmm_fused.wgsl for one (D, family). The kernel's lanes hold
 * one component's parameters and sums each; a compiler that runs lanes as SIMD (lavapipe, and
 * the register allocators of real GPUs) keeps such per-lane values in registers only when every
 * index into them is a compile-time constant, so the loops over features and pairs are unrolled
 * here rather than left to the driver.
 */
export function fusedKernelParts(
  d: number,
  kind: StatsKind,
  shape: KernelShape = 'gpu',
): Record<string, string> {
  const diag = kind === 'diagonal';
  const dv = Math.ceil(d / 4);
  const precision = diag ? d : (d * (d + 1)) / 2;
  const pairs = statsPerComponent(d, kind);
  const lane = ['x', 'y', 'z', 'w'];
  const xs = (i: number) => `g_xv${i >> 2}.${lane[i & 3]}`;
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const lines = (f: (i: number) => string | string[], n = d) => range(n).flatMap(f).join('\n');
  const loadRow = lines((v) => `let g_xv${v} = tile_x[tx + ${v}u];`, dv);
  const tri = (i: number) => (i * (i + 1)) / 2;

  const densityParameters = [
    lines((i) => `let g_mu${i} = comp[means + ${i}u];`),
    diag
      ? lines((i) => `let g_m${i} = comp[factors + ${i}u];`)
      : lines((i) => range(i + 1).map((j) => `let g_m${i}_${j} = comp[factors + ${tri(i) + j}u];`)),
  ].join('\n');
  const shiftParameters = lines((i) => `let g_c${i} = comp[shifts + ${i}u];`);

  // Sum names: full keeps pair (i, j) with i, j in 0..D (D is the constant 1 of t = (x - c, 1)).
  const sums: Array<[string, number]> = diag
    ? [
        ...range(d).map((i): [string, number] => [`sq${i}`, i]),
        ...range(d).map((i): [string, number] => [`f${i}`, d + i]),
        ['n', 2 * d],
      ]
    : range(d + 1).flatMap((i) => range(i + 1).map((j): [string, number] => [`${i}_${j}`, tri(i) + j]));

  const logDensity = diag
    ? [
        loadRow,
        lines((i) => `let g_y${i} = (${xs(i)} - g_mu${i}) * g_m${i};`),
        'var maha = g_y0 * g_y0;',
        lines((i) => (i === 0 ? [] : `maha = fma(g_y${i}, g_y${i}, maha);`)),
      ].join('\n')
    : [
        loadRow,
        lines((i) => `let g_e${i} = ${xs(i)} - g_mu${i};`),
        lines((i) => {
          let y = `g_m${i}_0 * g_e0`;
          for (let j = 1; j <= i; j++) y = `fma(g_m${i}_${j}, g_e${j}, ${y})`;
          return `let g_y${i} = ${y};`;
        }),
        'var maha = g_y0 * g_y0;',
        lines((i) => (i === 0 ? [] : `maha = fma(g_y${i}, g_y${i}, maha);`)),
      ].join('\n');

  const accumulate = [
    loadRow,
    lines((i) => `let g_d${i} = ${xs(i)} - g_c${i};`),
    lines((i) => `let g_a${i} = r * g_d${i};`),
    diag
      ? lines((i) => [`g_psq${i} = fma(g_a${i}, g_d${i}, g_psq${i});`, `g_pf${i} += g_a${i};`])
      : lines((i) => [
          ...range(i + 1).map((j) => `g_p${i}_${j} = fma(g_a${i}, g_d${j}, g_p${i}_${j});`),
          `g_p${d}_${i} += g_a${i};`,
        ]),
    diag ? 'g_pn += r;' : `g_p${d}_${d} += r;`,
  ].join('\n');

  return {
    constants: [
      `const D: u32 = ${d}u;`,
      `const DV: u32 = ${dv}u;`,
      `const PRECISION: u32 = ${precision}u;`,
      `const PAIRS: u32 = ${pairs}u;`,
    ].join('\n'),
    load_density_parameters: densityParameters,
    load_shifts: shiftParameters,
    ...blockSums(shape, sums),
    log_density: logDensity,
    declare_tile_sums: sums.map(([s]) => `var g_p${s} = 0.0;`).join('\n'),
    accumulate,
  };
}

/**
 * Where a block's sums wait between tiles. On a GPU, in the block's slot of `partials`: each lane
 * then holds one set of sums, not two (full D = 16 held 2 x 153 and spilled 106 VGPRs on RDNA3;
 * docs/kernel-stats.md). On a CPU emulation, in registers: there a lane's strided loads and
 * stores are gathers, and the slot made full D = 16 1.4x slower on lavapipe (bench/NOTES.md).
 * The same additions in the same order either way: the same bits.
 */
function blockSums(shape: KernelShape, sums: ReadonlyArray<[string, number]>): Record<string, string> {
  if (shape === 'software')
    return {
      declare_sums: sums.map(([s]) => `var g_s${s} = 0.0;`).join('\n'),
      zero_sums: '',
      add_tile_sums: sums.map(([s]) => `g_s${s} += g_p${s};`).join('\n'),
      write_sums: sums.map(([s, e]) => `partials[base + ${e}u] = g_s${s};`).join('\n'),
    };
  return {
    declare_sums: '',
    zero_sums: `for (var e = 0u; e < PAIRS; e++) {\n  partials[base + e] = 0.0;\n}`,
    add_tile_sums: sums.map(([s, e]) => `partials[base + ${e}u] += g_p${s};`).join('\n'),
    write_sums: '',
  };
}

const GENERATE = /^([ \t]*)\/\/!generate (\w+)\r?$/gm;

/** shaders/gmm_fused.wgsl with its `//!generate` lines expanded for (D, family). */
export async function fusedKernelSource(d: number, kind: StatsKind, shape: KernelShape): Promise<string> {
  const parts = fusedKernelParts(d, kind, shape);
  const template = await loadShader(FUSED_KERNEL.file);
  return template.replace(GENERATE, (_, indent: string, name: string) => {
    const part = parts[name];
    if (part === undefined) throw new Error(`${FUSED_KERNEL.file}: no generator for '${name}'`);
    return part
      .split('\n')
      .map((l) => indent + l)
      .join('\n');
  });
}

const cache = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

/**
 * The fused pipeline for (D, family, K, workgroup, tile), compiled once per device (a fit pays
 * for it at prepare(), never inside an iteration).
 */
export function fusedPipeline(
  ctx: GpuContext,
  d: number,
  kind: StatsKind,
  constants: Required<KernelConstants<typeof FUSED_KERNEL>>,
): Promise<GPUComputePipeline> {
  let byKey = cache.get(ctx.device);
  if (!byKey) {
    byKey = new Map();
    cache.set(ctx.device, byKey);
  }
  const shape = kernelShape(ctx.device);
  const key = `${FUSED_KERNEL.file}|${kind}|${shape}|D=${d}|${JSON.stringify(constants)}`;
  let pipeline = byKey.get(key);
  if (!pipeline) {
    const built = fusedKernelSource(d, kind, shape).then(async (code) => {
      const module = await ctx.shaderModule(`${FUSED_KERNEL.file} (${kind}, D=${d})`, code);
      return ctx.guard(key, () =>
        ctx.device.createComputePipelineAsync({
          label: key,
          layout: ctx.pipelineLayout(key, bindingTypes(FUSED_KERNEL)),
          compute: { module, entryPoint: 'main', constants },
        }),
      );
    });
    byKey.set(key, built);
    built.catch(() => byKey.delete(key));
    pipeline = built;
  }
  return pipeline;
}
