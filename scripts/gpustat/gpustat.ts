/**
 * gpustat: what AMD's RADV/ACO compiler makes of a WGSL compute shader, on a machine with no GPU
 * (README.md in this folder: how it works and how far to trust it).
 *
 *   npm run --silent gpustat -- FILE.wgsl [--entry NAME]... [--const NAME=VALUE]...
 *     [--family navi31|navi21|...] [--wave 32|64] [--generate D:full|diagonal]
 *     [--no-robustness] [--keep DIR] [--desc] [--isa]
 */
import { readFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { expandIncludes } from '../../src/gpu/wgsl-include.js';
import { fusedKernelParts } from '../../src/backends/webgpu/fused-kernel.js';
import {
  FAMILIES,
  ROOT,
  STAT_ORDER,
  dawnSpirv,
  isFamily,
  missingTools,
  radvStats,
  type Family,
  type RadvStats,
} from './radv.js';

const USAGE = `usage: npm run --silent gpustat -- FILE.wgsl [options]
  --entry NAME         compute entry point (repeatable; default: every @compute fn)
  --const NAME=VALUE   pipeline-overridable constant (repeatable; bool: true/false/1/0)
  --family F           RADV_FORCE_FAMILY: navi31 (default, RDNA3), navi32, navi33, navi21..navi24 (RDNA2), navi10/navi12/navi14 (RDNA1)
  --wave 32|64         force the subgroup (wave) size; default: what RADV picks
  --generate D:KIND    expand the '//!generate' lines of gmm_fused.wgsl for D features, KIND full|diagonal
  --no-robustness      compile with Dawn's disable_robustness toggle (no index clamping)
  --keep DIR           keep the expanded WGSL, SPIR-V text/binary and the driver's output and IR in DIR
  --desc               add the driver's description of each statistic, and the occupancy formulas
  --isa                also print RADV's final assembly (ACO disassembly) of each entry point
`;

function die(message: string): never {
  process.stderr.write(`gpustat: ${message}\n`);
  process.exit(1);
}

interface Options {
  entries: string[];
  consts: Record<string, number>;
  family: Family;
  wave: 0 | 32 | 64;
  generate: string | null;
  robustness: boolean;
  keep: string | null;
  desc: boolean;
  isa: boolean;
}

function parseArgs(args: readonly string[]): { file: string; opt: Options } {
  const opt: Options = {
    entries: [],
    consts: {},
    family: 'navi31',
    wave: 0,
    generate: null,
    robustness: true,
    keep: null,
    desc: false,
    isa: false,
  };
  let file: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => (i + 1 < args.length ? args[++i] : die(`${a} needs a value\n${USAGE}`));
    if (a === '--entry') opt.entries.push(value());
    else if (a === '--const') {
      const [k, ...v] = value().split('=');
      if (!k || v.length === 0) die('--const wants NAME=VALUE');
      const s = v.join('=');
      const n = s === 'true' ? 1 : s === 'false' ? 0 : Number(s);
      if (!Number.isFinite(n)) die(`--const ${k}: not a number: ${s}`);
      opt.consts[k] = n;
    } else if (a === '--family') {
      const f = value();
      if (!isFamily(f)) die(`--family: one of ${Object.keys(FAMILIES).join(', ')}`);
      opt.family = f;
    } else if (a === '--wave') {
      const w = Number(value());
      if (w !== 32 && w !== 64) die('--wave is 32 or 64');
      opt.wave = w;
    } else if (a === '--generate') opt.generate = value();
    else if (a === '--no-robustness') opt.robustness = false;
    else if (a === '--keep') opt.keep = resolve(value());
    else if (a === '--desc') opt.desc = true;
    else if (a === '--isa') opt.isa = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (a.startsWith('--')) die(`unknown option ${a}\n${USAGE}`);
    else if (file) die(`one WGSL file at a time\n${USAGE}`);
    else file = a;
  }
  if (!file) die(USAGE);
  return { file, opt };
}

/** The WGSL with its `//!include` lines expanded (looked up next to the file, then in shaders/). */
async function readWgsl(file: string): Promise<string> {
  const dirs = [dirname(resolve(file)), join(ROOT, 'shaders')];
  const load = (name: string) => {
    const found = dirs.map((d) => join(d, name)).find((p) => existsSync(p));
    if (!found) die(`//!include ${name}: not found in ${dirs.join(' or ')}`);
    return readFileSync(found, 'utf8');
  };
  return expandIncludes(readFileSync(file, 'utf8'), load, [file]);
}

/** gmm_fused.wgsl's `//!generate` lines filled in by the library's own generator (fused-kernel.ts). */
function generate(wgsl: string, spec: string | null, file: string): string {
  const GENERATE = /^([ \t]*)\/\/!generate (\w+)\r?$/gm;
  if (!GENERATE.test(wgsl)) return wgsl;
  if (!spec) die(`${file} has '//!generate' lines: pass --generate D:full|diagonal`);
  const [d, kind = 'full'] = spec.split(':');
  if (!Number.isInteger(Number(d)) || (kind !== 'full' && kind !== 'diagonal'))
    die('--generate wants D:full or D:diagonal');
  const parts = fusedKernelParts(Number(d), kind);
  return wgsl.replace(GENERATE, (_: string, indent: string, name: string) => {
    const part = parts[name];
    if (part === undefined) die(`no generator for '//!generate ${name}'`);
    return part
      .split('\n')
      .map((l) => indent + l)
      .join('\n');
  });
}

function report(stats: RadvStats, title: string, consts: string, opt: Options): string {
  const { stats: s, descriptions, occupancy: o, wave, workgroupSize: ls } = stats;
  const desc = (text: string | undefined) => (opt.desc ? text : undefined);
  const rows: Array<[string, string, string | undefined]> = [];
  const keys = [
    ...STAT_ORDER.filter((k) => s.has(k)),
    ...[...s.keys()].filter((k) => !(STAT_ORDER as readonly string[]).includes(k)),
  ];
  for (const k of keys) rows.push([k, String(s.get(k)), desc(descriptions.get(k))]);
  const vgprs = s.get('VGPRs')!;
  const lds = s.get('LDS size') ?? 0;
  const waves = o.wavesPerWorkgroup;
  rows.push(['Wave size', String(wave), desc('subgroup size RADV chose (or --wave)')]);
  rows.push(['Workgroup size', `${ls.join('x')} (${waves} wave${waves > 1 ? 's' : ''})`, undefined]);
  rows.push([
    'Occupancy (VGPR)',
    `${o.byVgpr} waves/SIMD`,
    desc(`min(${o.maxWaves}, floor(${o.physicalVgprs} / ceil(${vgprs}/${o.granule})*${o.granule}))`),
  ]);
  if (lds > 0)
    rows.push([
      'Occupancy (LDS)',
      `${o.byLds} waves/SIMD`,
      desc(
        `floor(floor(128 KiB / ${lds} B) = ${o.workgroupsPerWgp} workgroups per WGP x ${waves} waves / 4 SIMDs)`,
      ),
    ]);
  rows.push([
    'Occupancy estimate',
    `${o.estimate} of ${o.maxWaves} waves/SIMD`,
    desc('min of the limits above'),
  ]);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const out = [
    title,
    `  constants: ${consts || '(defaults)'}`,
    `  device: ${stats.device}`,
    `  ${'-'.repeat(w0 + w1 + 3)}`,
  ];
  for (const [k, v, d] of rows) out.push(`  ${k.padEnd(w0)}   ${v.padStart(w1)}${d ? `   ${d}` : ''}`);
  return out.join('\n') + '\n\n';
}

async function main(): Promise<void> {
  const { file, opt } = parseArgs(process.argv.slice(2));
  if (!existsSync(file)) die(`${file}: no such file`);
  const missing = await missingTools();
  if (missing.length > 0) die(missing.join('\n'));

  // A pipeline of `npm run kernels:dump`: its entry point and constants are in the JSON beside it.
  const dumped = file.replace(/\.wgsl$/, '.json');
  if (
    dumped !== file &&
    existsSync(dumped) &&
    opt.entries.length === 0 &&
    Object.keys(opt.consts).length === 0
  ) {
    const meta = JSON.parse(readFileSync(dumped, 'utf8')) as {
      entryPoint?: string;
      constants?: Record<string, number>;
    };
    if (meta.entryPoint) opt.entries.push(meta.entryPoint);
    Object.assign(opt.consts, meta.constants ?? {});
  }
  const wgsl = generate(await readWgsl(file), opt.generate, file);
  // Entry points and override constants declared in the (comment-stripped) WGSL.
  const bare = wgsl.replace(/\/\/[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '');
  const declared = [...bare.matchAll(/@compute\b[^;{]*?\bfn\s+([A-Za-z_]\w*)/g)].map((m) => m[1]);
  const overrides = [
    ...bare.matchAll(
      /(?:@id\(\s*(\d+)\s*\)\s*)?override\s+([A-Za-z_]\w*)\s*(?::\s*[A-Za-z0-9_<>]+)?\s*(=\s*[^;]+)?;/g,
    ),
  ].map((m) => ({ id: m[1], name: m[2], hasDefault: !!m[3] }));
  const entries = opt.entries.length > 0 ? opt.entries : declared;
  if (entries.length === 0) die(`no @compute entry point in ${file}`);
  for (const e of entries)
    if (!declared.includes(e))
      die(`entry '${e}' is not a @compute fn of ${file} (have: ${declared.join(', ')})`);
  for (const k of Object.keys(opt.consts))
    if (!overrides.some((o) => o.name === k || o.id === k))
      die(
        `--const ${k}: no 'override ${k}' in ${file} (have: ${overrides.map((o) => o.name).join(', ') || 'none'})`,
      );
  const unset = overrides.filter((o) => !o.hasDefault && !(o.name in opt.consts));
  if (unset.length > 0)
    die(`override(s) without a default need --const: ${unset.map((o) => o.name).join(', ')}`);

  if (opt.keep) {
    mkdirSync(opt.keep, { recursive: true });
    writeFileSync(join(opt.keep, 'shader.wgsl'), wgsl);
  }
  const jobs = entries.map((entryPoint) => ({
    id: entryPoint,
    code: wgsl,
    entryPoint,
    constants: opt.consts,
  }));
  const spirv = await dawnSpirv(jobs, { robustness: opt.robustness, keepDir: opt.keep ?? undefined });
  const consts =
    Object.entries(opt.consts)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ') + (opt.generate ? ` (generate ${opt.generate})` : '');
  const rel = relative(process.cwd(), resolve(file));
  const fam = FAMILIES[opt.family];
  let failed = false;
  for (const entry of entries) {
    const s = spirv.get(entry)!;
    if (s instanceof Error) {
      process.stderr.write(`gpustat: '${entry}': ${s.message}\n`);
      failed = true;
      continue;
    }
    try {
      const stats = await radvStats(s, opt.family, {
        wave: opt.wave,
        keepDir: opt.keep ?? undefined,
        name: entry,
        ir: opt.isa,
      });
      const robust = opt.robustness ? '' : ', no robustness';
      const title = `${rel && !rel.startsWith('..') ? rel : file} : ${entry}  [${opt.family} ${fam.gfx}, wave${stats.wave}${robust}]`;
      process.stdout.write(report(stats, title, consts, opt));
      if (opt.isa && stats.assembly) process.stdout.write(`${stats.assembly}\n`);
    } catch (e) {
      process.stderr.write(`gpustat: '${entry}': ${(e as Error).message}\n`);
      failed = true;
    }
  }
  if (opt.keep) process.stdout.write(`(kept: ${opt.keep})\n`);
  process.exit(failed ? 2 : 0);
}

await main();
