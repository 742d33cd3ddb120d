// Every compute pipeline the library creates on a GPU (planned as scripts/kernels-dump.ts plans
// them: WebGPU's default limits, no fallback adapter), compiled by AMD's shader compiler for RDNA3
// (gpustat: Dawn's SPIR-V, then RADV/ACO on its null device; scripts/gpustat/). A pipeline that
// spills registers or uses scratch memory fails the test unless KNOWN_SPILLS lists it with its
// current figures; a listed one whose figures change (fixed, better or worse) fails too, so the
// list only shrinks as kernels are fixed. The compile is deterministic for a Mesa version.
// With CI=true a missing compiler (spirv-as, cc, the Vulkan headers, RADV's null device) fails;
// otherwise the tests skip and say why.
import { beforeAll, describe, expect, it } from 'vitest';
import { KERNELS } from '../src/backends/webgpu/kernels.js';
import { planKernels, stemOf, type KernelPlan } from '../scripts/kernels-dump.js';
import { compileKernels, figures, type CompiledPipeline } from '../scripts/kernels-stats.js';
import { mesaVersion, missingTools, type RadvStats } from '../scripts/gpustat/radv.js';

/**
 * Pipelines that spill VGPRs or use scratch on RDNA3 (navi31) today, with their figures: spilled
 * VGPRs, scratch bytes per wave. A name is `<kernel>.<config>` with any configuration that
 * creates the pipeline (`npm run kernels:dump` names it after the first; its index.json lists
 * every one). Remove a line when its kernel is fixed; never add one.
 */
const KNOWN_SPILLS: Readonly<Record<string, { spilledVgprs: number; scratch: number }>> = {};
/** The Mesa the figures above were recorded with (named in the failures: another ACO may differ). */
const RECORDED_WITH = '25.0.7';

/** Kernels in src/backends/webgpu/kernels.ts that a GPU never gets: variants for fallback adapters only. */
const FALLBACK_ONLY = ['kmeans_assign_subgroups.wgsl'];

const ci = process.env.CI === 'true';
const missing = await missingTools({ probe: true });
const skip = missing.length > 0 && !ci;
const why = skip ? ` (skipped, gpustat cannot run here: ${missing.join('; ')})` : '';
if (skip) console.warn(`test/kernel-stats.test.ts${why}; bash scripts/setup.sh installs what it needs`);

describe(`the library's GPU pipelines as RADV compiles them for RDNA3${why}`, () => {
  let plan: KernelPlan;
  let compiled: CompiledPipeline[];

  beforeAll(async () => {
    if (skip) return;
    expect(missing, 'gpustat needs these (bash scripts/setup.sh installs them)').toEqual([]);
    plan = await planKernels();
    compiled = await compileKernels(plan.pipelines, ['navi31']);
  }, 300_000);

  it.skipIf(skip)('plans a pipeline of every GPU kernel and compiles every one of them', () => {
    const failed = compiled.filter((c) => c.result instanceof Error);
    expect(
      failed.map((c) => `${stemOf(c.pipeline)}: ${(c.result as Error).message}`),
      'pipelines that did not compile',
    ).toEqual([]);
    expect(compiled.map((c) => stemOf(c.pipeline))).toEqual(plan.pipelines.map(stemOf));
    const planned = new Set(plan.pipelines.map((p) => `${p.kernel}.wgsl`));
    const unplanned = KERNELS.map((k) => k.file).filter((f) => !planned.has(f) && !FALLBACK_ONLY.includes(f));
    expect(unplanned, 'kernels no configuration of scripts/kernels-dump.ts makes: give them one').toEqual([]);
  });

  it.skipIf(skip)('no pipeline spills or uses scratch but the known ones, which keep their figures', () => {
    const stats = compiled.filter(
      (c): c is CompiledPipeline & { result: RadvStats } => !(c.result instanceof Error),
    );
    const mesa = mesaVersion(stats[0]?.result.device ?? '');
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const c of stats) {
      const names = [c.pipeline.config, ...c.pipeline.configs].map(
        (config) => `${c.pipeline.kernel}.${config}`,
      );
      const listed = [...new Set(names.filter((n) => n in KNOWN_SPILLS))];
      const name = listed[0] ?? stemOf(c.pipeline);
      const x = figures(c.result);
      const now = { spilledVgprs: x.spilledVgprs, scratch: x.scratch };
      const line = `'${name}': { spilledVgprs: ${now.spilledVgprs}, scratch: ${now.scratch} },`;
      const known = KNOWN_SPILLS[name];
      if (listed.length > 1) problems.push(`${listed.join(' and ')} are one pipeline: list it once`);
      if (x.spilledSgprs > 0) problems.push(`${name} spills ${x.spilledSgprs} SGPRs`);
      if (!known) {
        if (now.spilledVgprs > 0 || now.scratch > 0)
          problems.push(
            `${name} spills ${now.spilledVgprs} VGPRs and uses ${now.scratch} B of scratch per wave`,
          );
        continue;
      }
      for (const n of listed) seen.add(n);
      if (now.spilledVgprs === 0 && now.scratch === 0)
        problems.push(`${name} no longer spills or uses scratch: remove it from KNOWN_SPILLS`);
      else if (now.spilledVgprs !== known.spilledVgprs || now.scratch !== known.scratch) {
        const worse = now.spilledVgprs > known.spilledVgprs || now.scratch > known.scratch;
        problems.push(
          worse
            ? `${name} got worse: ${now.spilledVgprs} spilled VGPRs, ${now.scratch} B of scratch (listed: ${known.spilledVgprs}, ${known.scratch})`
            : `${name} improved: write its figures into KNOWN_SPILLS: ${line}`,
        );
      }
    }
    for (const name of Object.keys(KNOWN_SPILLS))
      if (!seen.has(name))
        problems.push(`${name} is listed in KNOWN_SPILLS but names no planned pipeline: remove it`);
    const note = mesa.startsWith(RECORDED_WITH)
      ? ''
      : ` (figures recorded with Mesa ${RECORDED_WITH}, this is ${mesa})`;
    expect(problems, `RDNA3 spills and scratch${note}`).toEqual([]);
    // Every pipeline was looked at (the test above names any that did not compile).
    expect(stats.length).toBe(plan.pipelines.length);
  });
});
