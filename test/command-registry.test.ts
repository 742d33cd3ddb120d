// The command registry: every command's help (each flag, its description, the library's
// default), dispatch of every entry, the launcher's GPU list, the getopt forms and suggestions.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AUTO_CPU_MAX_VALUES, DEFAULT_MAX_GPU_BYTES } from '../src/backends/select.js';
import { parseArgs } from '../src/cli/args.js';
import { COMMANDS, commandHelp } from '../src/cli/commands.js';
import { main } from '../src/cli/main.js';
import { formatBytes } from '../src/io/byte-sizes.js';
import { DEFAULT_MAX_INPUT_BYTES } from '../src/io/read-bytes.js';
import { BayesianGaussianMixture, GaussianMixture, KMeans } from '../src/index.js';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'bin/webgpu-em.js');
const iris = join(root, 'data/iris.csv');

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

/** The library's resolved options of each fit command's model, read from the models themselves. */
const library: Record<string, Readonly<Record<string, unknown>>> = {
  gmm: new GaussianMixture({ nComponents: 1 }).options,
  bgmm: new BayesianGaussianMixture({ nComponents: 1 }).options,
  kmeans: new KMeans({ nClusters: 1 }).options,
  // The candidates are GaussianMixtures, less what the search varies.
  select: (({ covarianceType: _varied, ...rest }) => rest)(new GaussianMixture({ nComponents: 1 }).options),
};

/** A flag's description in a help text: the rest of its line, or the next line when it is long. */
function described(help: string, flags: readonly string[]): string {
  const lines = help.split('\n');
  const flag = `  ${flags.join(', ')}`;
  const i = lines.findIndex((l) => l === flag || l.startsWith(`${flag} `));
  expect(i, `${flags.join(', ')} in the help`).toBeGreaterThan(-1);
  const rest = lines[i].slice(flag.length).replace(/^ [^ ]+/, '');
  return (rest.trim() === '' ? lines[i + 1] : rest).trim();
}

describe('help from the registry', () => {
  it.each(COMMANDS.map((c) => c.name))('%s --help lists every flag with a description', async (name) => {
    const command = COMMANDS.find((c) => c.name === name)!;
    const r = await cli(name, '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(commandHelp(name) + '\n');
    expect(r.stdout).toMatch(new RegExp(`^Usage: webgpu-em ${name} `));
    for (const o of command.options) expect(described(r.stdout, o.flags).length).toBeGreaterThan(10);
  });

  it.each(Object.keys(library))('%s --help shows every default of the library model', async (name) => {
    const command = COMMANDS.find((c) => c.name === name)!;
    const help = (await cli(name, '--help')).stdout;
    const shown = new Map<string, string>();
    for (const o of command.options) {
      const m = /\(default ([^)]*)\)$/.exec(described(help, o.flags));
      // A model's flag is named after the library option it sets.
      if (m) shown.set(o.name, m[1]);
    }
    // Every option of the model with a default a flag can set (not K, not a boolean) has one.
    const defaults = Object.entries(library[name]).filter(
      ([key, v]) =>
        (typeof v === 'number' || typeof v === 'string') && key !== 'nComponents' && key !== 'nClusters',
    );
    expect(defaults.length).toBeGreaterThanOrEqual(6);
    for (const [key, value] of defaults) {
      expect(shown.has(key), `${name}: a flag showing the default of ${key}`).toBe(true);
      const text = shown.get(key)!;
      expect(typeof value === 'number' ? Number(text) : text, `${name}: default of ${key}`).toBe(value);
    }
  });

  it('sizes show the library constants, and mstep the mixtures regCovar', async () => {
    const help = (await cli('gmm', '--help')).stdout;
    expect(described(help, ['--max-gpu-memory'])).toMatch(`(default ${formatBytes(DEFAULT_MAX_GPU_BYTES)})`);
    expect(described(help, ['--max-input-size'])).toMatch(
      `(default ${formatBytes(DEFAULT_MAX_INPUT_BYTES)})`,
    );
    const mstep = (await cli('mstep', '--help')).stdout;
    const regCovar = /\(default ([^)]*)\)$/.exec(described(mstep, ['--reg-covar']))![1];
    expect(Number(regCovar)).toBe(library.gmm.regCovar);
  });

  it('the global help lists every command of the registry', async () => {
    const r = await cli('help');
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toContain(`\n  ${c.name} ${c.usage}`);
    expect((await cli('--help')).stdout).toBe(r.stdout);
    expect((await cli('help', 'kmeans')).stdout).toBe(commandHelp('kmeans') + '\n');
  });
});

describe('dispatch', () => {
  // Each command's own first check, reached only through its entry's run.
  const reached: Record<string, [string[], RegExp]> = {
    gmm: [[], /gmm needs exactly one data file/],
    bgmm: [[], /bgmm needs exactly one data file/],
    kmeans: [[], /kmeans needs exactly one data file/],
    select: [[iris], /select needs --k-range/],
    predict: [[], /predict needs a model file and a data file/],
    score: [[], /score needs a model file and a data file/],
    sample: [[], /sample needs a model file/],
    stats: [[], /stats needs a model file and a data file/],
    mstep: [[], /mstep needs one or more statistics files/],
    info: [['--backend', 'cpu'], /^backend: cpu\n/],
    help: [['sample'], /^Usage: webgpu-em sample /],
  };

  it('covers every registry entry', () => {
    expect(Object.keys(reached).sort()).toEqual(COMMANDS.map((c) => c.name).sort());
  });

  it.each(Object.keys(reached))('%s runs its own code', async (name) => {
    const [args, expected] = reached[name];
    const r = await cli(name, ...args);
    expect(r.code === 0 ? r.stdout : r.stderr).toMatch(expected);
  });

  it('an unknown command gets the nearest one and the list', async () => {
    const r = await cli('kmean', iris);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'kmean'; did you mean kmeans\? commands are gmm, bgmm/);
  });
});

describe('getopt forms', () => {
  const gmm = COMMANDS.find((c) => c.name === 'gmm')!.options;

  it('-k3, bundles whose last flag takes a value, --opt=value, -k=3 and --', () => {
    expect(parseArgs(['-k3'], gmm).options.nComponents).toBe(3);
    expect(parseArgs(['-qk', '3', 'x.csv'], gmm)).toEqual({
      options: { quiet: true, nComponents: 3 },
      positionals: ['x.csv'],
    });
    expect(parseArgs(['-vqk7'], gmm).options).toEqual({ verbose: true, quiet: true, nComponents: 7 });
    expect(parseArgs(['--max-iter=5', '--tol=0'], gmm).options).toEqual({ maxIter: 5, tol: 0 });
    expect(parseArgs(['-k=3'], gmm).options.nComponents).toBe(3);
    expect(parseArgs(['-k', '2', '--', '-q', '--tol', '-'], gmm)).toEqual({
      options: { nComponents: 2 },
      positionals: ['-q', '--tol', '-'],
    });
    expect(parseArgs(['-', '-1.5'], gmm).positionals).toEqual(['-', '-1.5']);
  });

  it('mistakes name the flag, and an unknown one gets the nearest', () => {
    expect(() => parseArgs(['-qx'], gmm)).toThrow(/unknown option -x in -qx/);
    expect(() => parseArgs(['--max-itre', '3'], gmm)).toThrow(
      /unknown option --max-itre; did you mean --max-iter\?/,
    );
    expect(() => parseArgs(['--covarance', 'diag'], gmm)).toThrow(/did you mean --covariance\?/);
    expect(() => parseArgs(['-qk'], gmm)).toThrow(/-k needs a value/);
    expect(() => parseArgs(['--quiet=1'], gmm)).toThrow(/--quiet takes no value/);
    expect(() => parseArgs(['-kx'], gmm)).toThrow(/-k needs a number, got 'x'/);
  });

  it('a bundled fit equals the spelled-out one', async () => {
    const bundled = await cli('gmm', iris, '-qk3', '--backend=cpu', '--json');
    const spelled = await cli('gmm', iris, '-q', '-k', '3', '--backend', 'cpu', '--json');
    expect(bundled.code).toBe(0);
    const model = (r: { stdout: string }) => (JSON.parse(r.stdout) as { model: unknown }).model;
    expect(model(bundled)).toEqual(model(spelled));
    const r = await cli('kmeans', iris, '--n-cluster', '3');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option --n-cluster; did you mean --n-clusters\?/);
  });
});

describe('the launcher (bin/webgpu-em.js, built)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webgpu-em-launcher-'));
  // Each Node process that starts says so: one for a command run in place, two with a child.
  const preload = join(dir, 'started.mjs');
  writeFileSync(preload, "process.stderr.write('node started\\n');\n");
  function starts(...args: string[]): number {
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: `--import=${preload}` };
    delete env.WEBGPU_EM_DIRECT;
    const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env });
    return r.stderr.split('\n').filter((l) => l === 'node started').length;
  }

  it("starts a child for the registry's GPU commands only", () => {
    const children = COMMANDS.filter((c) => starts(c.name, '--no-such-option') === 2).map((c) => c.name);
    expect(children).toEqual(COMMANDS.filter((c) => c.usesGpu).map((c) => c.name));
    expect(children.length).toBeGreaterThan(0);
    // -v and -h, alone or bundled, run in place.
    expect(starts('gmm', '--no-such-option', '-qv')).toBe(1);
  });

  it('runs an auto fit of a file that cannot hold more than AUTO_CPU_MAX_VALUES values in place', () => {
    const small = join(dir, 'small.csv');
    writeFileSync(small, '1,'.repeat(AUTO_CPU_MAX_VALUES));
    expect(starts('gmm', small, '--no-such-option')).toBe(1);
    const large = join(dir, 'large.csv');
    writeFileSync(large, '1,'.repeat(AUTO_CPU_MAX_VALUES) + '1');
    expect(starts('gmm', large, '--no-such-option')).toBe(2);
    expect(starts('gmm', small, '--backend', 'webgpu', '--no-such-option')).toBe(2);
  });
});
