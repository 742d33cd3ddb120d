import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { GMM } from '../src/cli/gmm.js';
import { main } from '../src/cli/main.js';
import { encodeNpy } from '../src/io/npy.js';
import { GaussianMixture } from '../src/index.js';
import { makeBlobs } from './helpers/data.js';

const root = new URL('..', import.meta.url).pathname;
const iris = join(root, 'data/iris.csv');

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'webgpu-em-cli-'));
}

function irisMatrix() {
  const lines = readFileSync(iris, 'utf8').trim().split('\n').slice(1);
  return lines.map((l) => l.split(',').map(Number));
}

describe('webgpu-em gmm', () => {
  it('fits the example on the GPU and prints exactly one JSON object', async () => {
    const r = await cli('gmm', iris, '-k', '3', '--backend', 'webgpu', '--json');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]);
    expect(out.model.format).toBe('webgpu-em/gmm@1');
    expect(out.model.covarianceType).toBe('full');
    expect(out.model.nFeatures).toBe(4);
    expect(out.model.weights).toHaveLength(3);
    expect(out.model.means.map((m: number[]) => m.length)).toEqual([4, 4, 4]);
    expect(out.model.covariances.map((c: number[][]) => c.map((row) => row.length))).toEqual([
      [4, 4, 4, 4],
      [4, 4, 4, 4],
      [4, 4, 4, 4],
    ]);
    expect(out.backend).toBe('webgpu');
    expect(typeof out.adapter).toBe('string');
    expect(out.converged).toBe(true);
    expect(out.nIter).toBeGreaterThan(1);
    expect(out.seconds).toBeGreaterThan(0);
    // Iris's three species: the reference fit's mean log-likelihood is about -1.2.
    expect(out.lowerBound).toBeGreaterThan(-1.5);
    expect(out.lowerBound).toBeLessThan(-1.0);
    expect(out.model.columns).toEqual(['sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
  });

  it('a fit asks for its training labels only with --labels, and the result is otherwise the same', async () => {
    const dir = tempDir();
    const [model, labels] = [join(dir, 'model.json'), join(dir, 'labels.txt')];
    const fit = vi.spyOn(GMM, 'fit');
    try {
      const common = ['gmm', iris, '-k', '3', '--json', '--seed', '1', '--backend', 'webgpu'];
      const plain = await cli(...common);
      const labelled = await cli(...common, '--out', model, '--labels', labels);
      expect([plain.code, labelled.code]).toEqual([0, 0]);
      // The runner passes the model's fit option `labels`: the labels pass runs for --labels only.
      expect(fit.mock.calls.map((call) => call[2].labels)).toEqual([false, true]);
      const [a, b] = [JSON.parse(plain.stdout), JSON.parse(labelled.stdout)];
      for (const r of [a, b]) delete r.seconds;
      expect(b).toEqual(a);
      const saved = GaussianMixture.fromJSON(readFileSync(model, 'utf8'), { backend: 'webgpu' });
      const written = readFileSync(labels, 'utf8').trim().split('\n').map(Number);
      expect(written).toEqual(Array.from(await saved.predict(irisMatrix())));
      saved.dispose();
    } finally {
      fit.mockRestore();
    }
  });

  it('--out and --labels write files; --init-model restarts from exactly that model', async () => {
    const dir = tempDir();
    const model = join(dir, 'model.json');
    const labels = join(dir, 'labels.txt');
    const first = await cli(
      'gmm',
      iris,
      '-k',
      '3',
      '--json',
      '--out',
      model,
      '--labels',
      labels,
      '--backend',
      'webgpu',
    );
    expect(first.code).toBe(0);
    expect(JSON.parse(readFileSync(model, 'utf8'))).toEqual(JSON.parse(first.stdout));
    const labelLines = readFileSync(labels, 'utf8').trim().split('\n').map(Number);
    expect(labelLines).toHaveLength(150);
    expect(new Set(labelLines)).toEqual(new Set([0, 1, 2]));
    expect(readdirSync(dir).sort()).toEqual(['labels.txt', 'model.json']);

    // One iteration from the saved model: its lower bound is the saved model's own mean log-likelihood.
    const again = await cli(
      'gmm',
      iris,
      '--init-model',
      model,
      '--tol',
      '0',
      '--max-iter',
      '1',
      '--json',
      '--backend',
      'webgpu',
    );
    expect(again.code).toBe(0);
    const saved = JSON.parse(first.stdout).model;
    const reference = GaussianMixture.fromParameters(
      { weights: saved.weights, means: saved.means, covariances: saved.covariances },
      { backend: 'cpu' },
    );
    const expected = await reference.score(irisMatrix());
    expect(Math.abs(JSON.parse(again.stdout).lowerBound - expected)).toBeLessThan(1e-5);

    const three = await cli(
      'gmm',
      iris,
      '--init-model',
      model,
      '--tol',
      '0',
      '--max-iter',
      '3',
      '--json',
      '--backend',
      'cpu',
    );
    expect(JSON.parse(three.stdout).nIter).toBe(3);
  });

  it('a means-only model (k-means) starts from those means', async () => {
    const dir = tempDir();
    const file = join(dir, 'kmeans.json');
    writeFileSync(
      file,
      JSON.stringify({
        model: {
          format: 'webgpu-em/kmeans@1',
          nFeatures: 4,
          means: [
            [5, 3.4, 1.5, 0.2],
            [5.9, 2.8, 4.3, 1.3],
            [6.8, 3, 5.7, 2.1],
          ],
        },
        inertia: 78.8,
      }),
    );
    const r = await cli('gmm', iris, '--init-model', file, '--json', '--backend', 'webgpu');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.model.weights).toHaveLength(3);
    // Component order follows the given means.
    expect(out.model.means[0][2]).toBeLessThan(2);
    expect(out.model.means[2][2]).toBeGreaterThan(5);
    expect((await cli('gmm', iris, '--init-model', file, '-k', '4')).code).toBe(2);
  });

  it('reads .npy (float32 and float64) like CSV', async () => {
    const dir = tempDir();
    const x = makeBlobs({ n: 500, d: 3, k: 2 });
    const csv = join(dir, 'x.csv');
    writeFileSync(
      csv,
      Array.from({ length: 500 }, (_, r) => Array.from(x.data.subarray(r * 3, r * 3 + 3)).join(',')).join(
        '\n',
      ),
    );
    const npy32 = join(dir, 'x32.npy');
    const npy64 = join(dir, 'x64.npy');
    writeFileSync(npy32, encodeNpy(x.data, 500, 3));
    writeFileSync(npy64, encodeNpy(Float64Array.from(x.data), 500, 3));
    const results = await Promise.all(
      [csv, npy32, npy64].map(async (f) =>
        JSON.parse((await cli('gmm', f, '-k', '2', '--json', '--backend', 'cpu')).stdout),
      ),
    );
    expect(results[1].model).toEqual(results[0].model);
    expect(results[2].model).toEqual(results[0].model);
  });

  it('errors: one line on stderr, exit 2 for usage and 1 for data', async () => {
    const dir = tempDir();
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'a,b\n1,2\n3,oops\n5,6\n');
    const wrongD = join(dir, 'wrong.json');
    writeFileSync(
      wrongD,
      JSON.stringify({ model: { format: 'webgpu-em/kmeans@1', nFeatures: 2, means: [[1, 2]] } }),
    );
    const cases: Array<[string[], number, RegExp]> = [
      [['gmm', iris], 2, /-k K/],
      [['gmm', iris, '-k', 'x'], 2, /-k needs a number/],
      [['gmm', iris, '-k', '0'], 2, /-k must be >= 1/],
      [['gmm', iris, '-k', '3', '--bogus'], 2, /unknown option --bogus/],
      [['gmm', iris, '-k', '3', '--init', 'nope'], 2, /--init must be one of/],
      [
        ['gmm', iris, '-k', '3', '--covariance', 'banana'],
        2,
        /--covariance must be one of full, tied, diag, spherical/,
      ],
      [['kmeans', iris], 2, /-k K/],
      [['kmeans', iris, '-k', '3', '--init', 'kmeans'], 2, /--init must be one of kmeans\+\+, random/],
      [['select', iris], 2, /--k-range/],
      [['select', iris, '--k-range', '3..x'], 2, /--k-range '3..x'/],
      [['select', iris, '--k-range', '1..2', '--covariance', 'full,round'], 2, /unknown type 'round'/],
      [['frobnicate'], 2, /unknown command/],
      [[], 2, /no command given/],
      [['gmm', join(dir, 'missing.csv'), '-k', '2'], 1, /missing\.csv/],
      [['gmm', bad, '-k', '2'], 1, /line 3.*column 2/],
      [['gmm', iris, '-k', '151', '--backend', 'cpu'], 1, /150 samples but nComponents = 151/],
      [['gmm', iris, '--init-model', wrongD], 1, /2 features but .* 4 columns/],
    ];
    for (const [args, code, pattern] of cases) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    }
  });

  it('a failed run leaves existing output files untouched', async () => {
    const dir = tempDir();
    const out = join(dir, 'result.json');
    writeFileSync(out, 'previous');
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, '1,2\n3,NaN\n');
    expect((await cli('gmm', bad, '-k', '1', '--out', out)).code).toBe(1);
    expect(readFileSync(out, 'utf8')).toBe('previous');
    const r = await cli(
      'gmm',
      iris,
      '-k',
      '2',
      '--out',
      join(dir, 'no', 'such', 'dir.json'),
      '--backend',
      'cpu',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no[/\\]such/);
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });
});

describe('webgpu-em gmm with every covariance type', () => {
  for (const type of ['full', 'tied', 'diag', 'spherical']) {
    it(`${type}: scikit-learn's shapes in the model, and --init-model round trip`, async () => {
      const dir = tempDir();
      const model = join(dir, `${type}.json`);
      const r = await cli(
        'gmm',
        iris,
        '-k',
        '3',
        '--covariance',
        type,
        '--json',
        '--out',
        model,
        '--backend',
        'webgpu',
      );
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.model.covarianceType).toBe(type);
      const shape = (v: unknown): number[] => (Array.isArray(v) ? [v.length, ...shape(v[0])] : []);
      expect(shape(out.model.covariances)).toEqual(
        { full: [3, 4, 4], tied: [4, 4], diag: [3, 4], spherical: [3] }[type],
      );
      const again = await cli(
        'gmm',
        iris,
        '--init-model',
        model,
        '--max-iter',
        '1',
        '--tol',
        '0',
        '--json',
        '--backend',
        'cpu',
      );
      expect(again.code).toBe(0);
      const next = JSON.parse(again.stdout);
      expect(next.model.covarianceType).toBe(type);
      // From a converged model one more iteration changes the lower bound by less than tol.
      expect(Math.abs(next.lowerBound - out.lowerBound)).toBeLessThan(1e-3);
      expect(
        (await cli('gmm', iris, '--init-model', model, '--covariance', type === 'full' ? 'diag' : 'full'))
          .code,
      ).toBe(2);
    });
  }
});

describe('webgpu-em kmeans and select', () => {
  it('kmeans prints the k-means contract and its model starts gmm and kmeans', async () => {
    const dir = tempDir();
    const model = join(dir, 'km.json');
    const labels = join(dir, 'labels.txt');
    const r = await cli(
      'kmeans',
      iris,
      '-k',
      '3',
      '--json',
      '--out',
      model,
      '--labels',
      labels,
      '--backend',
      'webgpu',
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.model.format).toBe('webgpu-em/kmeans@1');
    expect(out.model.nFeatures).toBe(4);
    expect(out.model.means).toHaveLength(3);
    expect(out.backend).toBe('webgpu');
    // Iris with 3 clusters: the best known inertia is about 78.85.
    expect(out.inertia).toBeGreaterThan(78);
    expect(out.inertia).toBeLessThan(80);
    expect(out.converged).toBe(true);
    expect(readFileSync(labels, 'utf8').trim().split('\n')).toHaveLength(150);
    const again = await cli('kmeans', iris, '--init-model', model, '--json', '--backend', 'cpu');
    expect(JSON.parse(again.stdout).inertia).toBeCloseTo(out.inertia, 3);
    expect(JSON.parse(again.stdout).nIter).toBeLessThanOrEqual(2);
    const gmm = await cli('gmm', iris, '--init-model', model, '--json', '--backend', 'cpu');
    expect(gmm.code).toBe(0);
  });

  it('select fits each K and type and picks the lowest BIC', async () => {
    const r = await cli(
      'select',
      iris,
      '--k-range',
      '1..4',
      '--covariance',
      'full,diag',
      '--json',
      '--backend',
      'webgpu',
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.scores).toHaveLength(8);
    const bics = out.scores.map((s: { bic: number }) => s.bic);
    expect(out.best.bic).toBe(Math.min(...bics));
    expect(out.model.covarianceType).toBe(out.best.covarianceType);
    expect(out.model.weights).toHaveLength(out.best.nComponents);
    // On iris, two full-covariance components win by BIC (the classic mclust result).
    expect(out.best.nComponents).toBe(2);
    expect(out.best.covarianceType).toBe('full');
  });
});

describe('the installed command', () => {
  it('bin/webgpu-em.js runs the built CLI with the same contract', () => {
    const ok = spawnSync(
      process.execPath,
      [join(root, 'bin/webgpu-em.js'), 'gmm', iris, '-k', '3', '--json'],
      {
        encoding: 'utf8',
      },
    );
    expect(ok.status).toBe(0);
    const result = JSON.parse(ok.stdout);
    expect(result.model.weights).toHaveLength(3);
    expect(['webgpu', 'cpu']).toContain(result.backend);
    const usage = spawnSync(process.execPath, [join(root, 'bin/webgpu-em.js'), 'gmm'], { encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(usage.stdout).toBe('');
  });
});

describe('saved models on the GPU, through the installed command', () => {
  const run = (args: string[], input?: string) =>
    spawnSync(process.execPath, [join(root, 'bin/webgpu-em.js'), ...args], { encoding: 'utf8', input });

  it("apply a saved model on the GPU as on the CPU, without Dawn's two warning lines", () => {
    const dir = tempDir();
    const model = join(dir, 'model.json');
    const fit = run(['gmm', iris, '-k', '3', '--backend', 'webgpu', '--out', model]);
    expect(fit.status).toBe(0);
    // The launcher leaves Dawn's adapter warnings out of what the user sees.
    expect(fit.stderr).not.toMatch(/artificially reduced/);
    expect(fit.stderr).toBe('');
    const gpu = run(['predict', model, iris, '--backend', 'webgpu', '--proba']);
    const cpu = run(['predict', model, iris, '--backend', 'cpu', '--proba']);
    expect(gpu.status).toBe(0);
    expect(gpu.stderr).toBe('');
    const [g, c] = [gpu.stdout, cpu.stdout].map((t) =>
      t
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(',').map(Number)),
    );
    expect(g).toHaveLength(150);
    // float32 responsibilities against float64: within 1e-4 absolute, as in gpu-vs-cpu.gpu.test.ts.
    let worst = 0;
    for (let i = 0; i < 150; i++)
      for (let k = 0; k < 3; k++) worst = Math.max(worst, Math.abs(g[i][k] - c[i][k]));
    expect(worst).toBeLessThan(1e-4);
    const gpuScore = Number(run(['score', model, iris, '--backend', 'webgpu']).stdout);
    const cpuScore = Number(run(['score', model, iris, '--backend', 'cpu']).stdout);
    // As scoreSamples in gpu-vs-cpu.gpu.test.ts: 1e-4 relative.
    expect(Math.abs(gpuScore - cpuScore)).toBeLessThan(1e-4 * Math.max(1, Math.abs(cpuScore)));
    // From standard input, on the GPU.
    const piped = run(['predict', model, '-', '--backend', 'webgpu'], readFileSync(iris, 'utf8'));
    expect(piped.stdout).toBe(run(['predict', model, iris, '--backend', 'cpu']).stdout);
  });

  it('info lists the adapters Dawn sees; --verbose runs without the launcher', () => {
    const info = run(['info', '--json']);
    expect(info.status).toBe(0);
    expect(info.stderr).toBe('');
    const parsed = JSON.parse(info.stdout);
    expect(parsed.adapters.length).toBeGreaterThan(0);
    expect(parsed.adapters.every((a: string) => /\(\w+\)$/.test(a))).toBe(true);
    const verbose = run(['info', '--json', '--verbose']);
    expect(verbose.status).toBe(0);
    expect(JSON.parse(verbose.stdout).adapters).toEqual(parsed.adapters);
  });

  it('Ctrl-C reaches the fit through the launcher: exit 130, nothing written', async () => {
    const dir = tempDir();
    const x = makeBlobs({ n: 300_000, d: 8, k: 16, seed: 3 });
    const data = join(dir, 'big.npy');
    writeFileSync(data, encodeNpy(x.data, x.rows, x.cols));
    const out = join(dir, 'out.json');
    const args = [
      'gmm',
      data,
      '-k',
      '16',
      '--backend',
      'webgpu',
      '--max-iter',
      '1000',
      '--tol',
      '0',
      '--out',
      out,
    ];
    const child = spawn(process.execPath, [join(root, 'bin/webgpu-em.js'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b) => (stderr += b));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise((resolve) => setTimeout(resolve, 6000));
    child.kill('SIGINT'); // the launcher's pid, as a terminal's Ctrl-C reaches it
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await exited;
    clearTimeout(timer);
    expect(code).toBe(130);
    expect(stderr).toMatch(/interrupted by SIGINT; stopped before writing any output/);
    expect(stderr).not.toMatch(/artificially reduced/);
    expect(existsSync(out)).toBe(false);
  });
});
