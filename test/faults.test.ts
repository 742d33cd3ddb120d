// Fault injection on the CPU side: outputs, interrupted runs, bounded reads, limits checked
// before the work, cancellation and messages. Paths under /dev are only ever written inside a
// private mount namespace (unshare -m) with a throw-away /dev, so that a regression cannot
// replace the machine's own device files.
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BoundData } from '../src/backends/backend.js';
import { CheckedBoundData } from '../src/backends/checked.js';
import { CpuBackend } from '../src/backends/cpu/cpu-backend.js';
import { planOutput, writeOutputs } from '../src/io/files.js';
import { parseCsv } from '../src/io/csv.js';
import { encodeNpy } from '../src/io/npy.js';
import { GaussianMixture, KMeans, WebGpuEmError } from '../src/index.js';
import { makeBlobs } from './helpers/data.js';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'bin/webgpu-em.js');
const iris = join(root, 'data/iris.csv');
const work = mkdtempSync(join(tmpdir(), 'webgpu-em-faults-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function dir(name: string): string {
  const d = join(work, name);
  mkdirSync(d, { recursive: true });
  return d;
}

/** Runs the built CLI; `timeout` kills it (a hang is a failure, never a stuck suite). */
function cli(
  args: string[],
  options: { input?: string | Buffer; timeout?: number; env?: NodeJS.ProcessEnv } = {},
) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    input: options.input,
    timeout: options.timeout ?? 30_000,
    env: { ...process.env, ...options.env },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) };
}

const unshareWorks = spawnSync('unshare', ['-m', 'true']).status === 0;

/**
 * Runs `script` (sh) in a private mount namespace whose /dev is a fresh tmpfs holding only the
 * nodes node needs: whatever the CLI does to /dev there dies with the namespace.
 */
function inPrivateDev(script: string): { code: number | null; stdout: string; stderr: string } {
  const setup = [
    'set -e',
    'mount --make-rprivate /',
    'mount -t tmpfs -o size=1m,mode=755 tmpfs /dev',
    'mknod -m 666 /dev/null c 1 3',
    'mknod -m 666 /dev/zero c 1 5',
    'mknod -m 666 /dev/random c 1 8',
    'mknod -m 666 /dev/urandom c 1 9',
    'ln -s /proc/self/fd /dev/fd',
    'ln -s /proc/self/fd/0 /dev/stdin',
    'ln -s /proc/self/fd/1 /dev/stdout',
    'ln -s /proc/self/fd/2 /dev/stderr',
    'set +e',
  ].join('\n');
  const r = spawnSync('unshare', ['-m', 'sh', '-c', `${setup}\n${script}`], {
    timeout: 60_000,
    env: { ...process.env, NODE: process.execPath, BIN: bin, IRIS: iris },
  });
  return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

describe('outputs', () => {
  it('--out /dev/null and --labels /dev/stdout write in place, never rename over them', () => {
    // Without a private mount namespace this case could replace the machine's /dev/null.
    expect(unshareWorks, 'unshare -m is needed to run the device-path cases safely').toBe(true);
    const d = dir('devices');
    const redirected = join(d, 'stdout.txt');
    const r = inPrivateDev(
      [
        // stdout a regular file: /dev/stdout resolves to it, and it must not be replaced.
        `echo previous > ${redirected}`,
        `"$NODE" "$BIN" gmm "$IRIS" -k 3 --backend cpu --out /dev/null --labels /dev/stdout --quiet >> ${redirected}`,
        'echo "rc1=$?"',
        // stdout a pipe: /dev/stdout resolves to no path at all.
        `"$NODE" "$BIN" kmeans "$IRIS" -k 3 --backend cpu --out /dev/null --labels /dev/stdout | wc -l`,
        'echo "null=$(stat -c %F /dev/null) stdout=$(stat -c %F /dev/stdout)"',
      ].join('\n'),
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('rc1=0');
    expect(r.stdout).toContain('null=character special file stdout=symbolic link');
    // The labels through the pipe (150 rows) and nothing else: /dev/stdout is standard output.
    expect(r.stdout.split('\n')).toContain('150');
    const text = readFileSync(redirected, 'utf8').split('\n');
    expect(text[0]).toBe('previous');
    expect(text.slice(1, 151).every((l) => /^[0-2]$/.test(l))).toBe(true);
  });

  it('writes into a FIFO in place', async () => {
    const d = dir('fifo');
    const fifo = join(d, 'labels.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const reader = spawn('cat', [fifo]);
    let got = '';
    reader.stdout.on('data', (b) => (got += b));
    const done = new Promise((resolve) => reader.on('close', resolve));
    const r = cli(['gmm', iris, '-k', '2', '--backend', 'cpu', '--labels', fifo, '--quiet']);
    await done;
    expect(r.code).toBe(0);
    expect(got.trim().split('\n')).toHaveLength(150);
    expect(statSync(fifo).isFIFO()).toBe(true);
  });

  it('every output path is checked before the data is even opened', () => {
    const d = dir('precheck');
    // A FIFO nobody writes to: opening it as the data would block forever.
    const fifo = join(d, 'never.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const cases: Array<[string[], RegExp]> = [
      [['--out', join(d, 'no', 'such', 'dir.json')], /--out .*directory .*no[/\\]such does not exist/],
      [['--labels', d], /--labels .*is a directory/],
      [['--out', join(d, 'same'), '--labels', join(d, 'same')], /--out and --labels are both/],
    ];
    for (const [extra, pattern] of cases) {
      const started = performance.now();
      const r = cli(['gmm', fifo, '-k', '2', '--backend', 'cpu', ...extra], { timeout: 10_000 });
      expect(r.signal, extra.join(' ')).toBeNull();
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(performance.now() - started).toBeLessThan(10_000);
    }
  });

  it('a symbolic link to nothing is refused, not replaced by a file', () => {
    const d = dir('dangling');
    const link = join(d, 'out.json');
    expect(spawnSync('ln', ['-s', join(d, 'nowhere', 'x.json'), link]).status).toBe(0);
    const r = cli(['gmm', iris, '-k', '2', '--backend', 'cpu', '--out', link]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/symbolic link to a file that does not exist/);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it('an output that is an input is refused before the work', () => {
    const d = dir('same-as-input');
    const data = join(d, 'data.csv');
    writeFileSync(data, readFileSync(iris));
    const r = cli(['gmm', data, '-k', '2', '--backend', 'cpu', '--labels', data]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--labels .* is the input file/);
    expect(readFileSync(data, 'utf8')).toBe(readFileSync(iris, 'utf8'));
  });

  it('a failure while writing leaves every earlier output as it was, and no temporary file', async () => {
    const d = dir('all-or-nothing');
    const out = join(d, 'out.json');
    const sub = join(d, 'sub');
    mkdirSync(sub);
    const labels = join(sub, 'labels.txt');
    writeFileSync(out, 'previous out');
    writeFileSync(labels, 'previous labels');
    const plans = [await planOutput(out, '--out', []), await planOutput(labels, '--labels', [])];
    // The second output's folder disappears during the run.
    rmSync(sub, { recursive: true });
    await expect(
      writeOutputs(
        [
          { plan: plans[0], contents: 'new out' },
          { plan: plans[1], contents: 'new labels' },
        ],
        () => {},
      ),
    ).rejects.toThrow(/labels\.txt/);
    expect(readFileSync(out, 'utf8')).toBe('previous out');
    expect(readdirSync(d)).toEqual(['out.json']);
  });

  it('--out and --labels are written together: a --labels failure keeps the old --out', () => {
    const d = dir('labels-fails');
    const out = join(d, 'out.json');
    writeFileSync(out, 'previous');
    const r = cli([
      'gmm',
      iris,
      '-k',
      '2',
      '--backend',
      'cpu',
      '--out',
      out,
      '--labels',
      join(d, 'missing', 'l.txt'),
    ]);
    expect(r.code).toBe(1);
    expect(readFileSync(out, 'utf8')).toBe('previous');
    expect(readdirSync(d)).toEqual(['out.json']);
  });
});

describe('Ctrl-C', () => {
  it('stops a long CPU fit at once: exit 130, earlier files intact, no temporary files', async () => {
    const d = dir('sigint');
    const x = makeBlobs({ n: 300_000, d: 8, k: 16, seed: 3 });
    const data = join(d, 'big.npy');
    writeFileSync(data, encodeNpy(x.data, x.rows, x.cols));
    const out = join(d, 'out.json');
    writeFileSync(out, 'previous');
    const tmp = dir('sigint-tmp');
    const child = spawn(
      process.execPath,
      [bin, 'gmm', '-', '-k', '16', '--backend', 'cpu', '--max-iter', '1000', '--tol', '0', '--out', out],
      { env: { ...process.env, TMPDIR: tmp }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    // The data arrives on standard input (spooled to TMPDIR), then the fit runs for minutes.
    child.stdin.on('error', () => {});
    child.stdin.end(readFileSync(data));
    let stderr = '';
    child.stderr.on('data', (b) => (stderr += b));
    const exited = new Promise<[number | null, string | null]>((resolve) =>
      child.on('exit', (code, signal) => resolve([code, signal])),
    );
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const sent = performance.now();
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const [code, signal] = await exited;
    clearTimeout(timer);
    const took = performance.now() - sent;
    expect(signal).toBeNull();
    expect(code).toBe(130);
    expect(stderr).toMatch(/interrupted by SIGINT; stopped before writing any output/);
    expect(took).toBeLessThan(3000);
    expect(readFileSync(out, 'utf8')).toBe('previous');
    expect(readdirSync(d).sort()).toEqual(['big.npy', 'out.json']);
    expect(readdirSync(tmp)).toEqual([]);
  });
});

describe('Ctrl-C while waiting for input', () => {
  it('stops at once while standard input sends nothing, leaving no spooled copy', async () => {
    const tmp = dir('sigint-idle-tmp');
    const child = spawn(process.execPath, [bin, 'gmm', '-', '-k', '2', '--backend', 'cpu'], {
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.on('error', () => {});
    child.stdin.write('1,2\n3,4\n'); // some data, then silence
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const sent = performance.now();
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    child.stdin.destroy();
    expect(code).toBe(130);
    expect(performance.now() - sent).toBeLessThan(3000);
    expect(readdirSync(tmp)).toEqual([]);
  });
});

describe('bounded reads', () => {
  it('input that is not a regular file is refused past --max-input-size', () => {
    const tmp = dir('spool-tmp');
    const env = { TMPDIR: tmp };
    const zero = cli(['gmm', '/dev/zero', '-k', '3', '--backend', 'cpu', '--max-input-size', '4M'], { env });
    expect(zero.code).toBe(1);
    expect(zero.stderr).toMatch(/\/dev\/zero: the data file is larger than --max-input-size .*4M/);
    const piped = cli(['gmm', '-', '-k', '3', '--backend', 'cpu', '--max-input-size', '1K'], {
      input: readFileSync(iris),
      env,
    });
    expect(piped.code).toBe(1);
    expect(piped.stderr).toMatch(/standard input: .*--max-input-size/);
    expect(readdirSync(tmp)).toEqual([]);
    const bad = cli(['gmm', '-', '-k', '3', '--max-input-size', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--max-input-size needs a size/);
  });

  it('data on standard input or from a FIFO is read (several EM passes over a spooled copy)', async () => {
    const args = ['-k', '3', '--backend', 'cpu', '--json', '--seed', '1'];
    const direct = JSON.parse(cli(['gmm', iris, ...args]).stdout).model.means;
    const r = cli(['gmm', '-', ...args], { input: readFileSync(iris) });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).model.means).toEqual(direct);
    const fifo = join(dir('fifo-data'), 'data.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const writer = spawn('sh', ['-c', 'cat "$0" > "$1"', iris, fifo]);
    const written = new Promise((resolve) => writer.on('close', resolve));
    const child = spawn(process.execPath, [bin, 'gmm', fifo, ...args]);
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    const code = await new Promise((resolve) => child.on('close', resolve));
    await written;
    expect(code).toBe(0);
    expect(JSON.parse(out).model.means).toEqual(direct);
  });

  it('a model file has a size limit, whatever kind of file it is', () => {
    const d = dir('model-limit');
    const r = cli(['gmm', iris, '--init-model', '/dev/zero', '--backend', 'cpu'], {
      env: { TMPDIR: d },
      timeout: 60_000,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\/dev\/zero: the model file is larger than the model file limit, 256M/);
    expect(readdirSync(d)).toEqual([]);
  });

  it('select --k-range is bounded before any list is built, and by the samples', () => {
    const huge = cli(['select', iris, '--k-range', '1..1000000000']);
    expect(huge.code).toBe(2);
    expect(huge.stderr).toMatch(/1000000000 values, over the limit of 1000 candidates/);
    expect(huge.stderr).not.toMatch(/FATAL|heap/i);
    const beyond = cli(['select', iris, '--k-range', '140..160', '--backend', 'cpu']);
    expect(beyond.code).toBe(2);
    expect(beyond.stderr).toMatch(/K = 160 but the data has 150 samples/);
    expect(cli(['select', iris, '--k-range', '5..2']).code).toBe(2);
  });
});

describe('cancellation on the CPU backend', () => {
  // An explicit initial model: no host-side initialisation pass, only backend passes.
  // One pass takes seconds here (N·K·D² ~ 1e9), so only a check inside the pass can stop it in time.
  const x = makeBlobs({ n: 200_000, d: 16, k: 32, seed: 5 });
  const d = 16;
  const k = 32;
  const start = {
    weights: new Float64Array(k).fill(1 / k),
    means: Float64Array.from({ length: k * d }, (_, i) => x.data[(i % d) + Math.floor(i / d) * 997 * d]),
    covariances: Float64Array.from({ length: k * d * d }, (_, i) =>
      Math.floor(i / d) % d === i % d ? 4 : 0,
    ),
  };

  async function timeToStop(
    stop: (g: GaussianMixture, c: AbortController) => void,
  ): Promise<[number, unknown]> {
    const g = new GaussianMixture({ nComponents: k, backend: 'cpu', init: start, maxIter: 1000, tol: 0 });
    const controller = new AbortController();
    const fit = g.fit(x, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopped = performance.now();
    stop(g, controller);
    const error = await fit.then(
      () => null,
      (e: unknown) => e,
    );
    return [performance.now() - stopped, error];
  }

  it('an AbortSignal stops a fit within a fraction of a second', async () => {
    const [ms, error] = await timeToStop((_, c) => c.abort());
    expect((error as Error).name).toBe('AbortError');
    expect(ms).toBeLessThan(500);
  });

  it('dispose() stops a fit within a fraction of a second', async () => {
    const [ms, error] = await timeToStop((g) => g.dispose());
    expect(error).toBeInstanceOf(WebGpuEmError);
    expect((error as Error).message).toMatch(/disposed/);
    expect(ms).toBeLessThan(500);
  });

  it('k-means stops on abort too', async () => {
    const km = new KMeans({
      nClusters: 1024,
      backend: 'cpu',
      init: { means: x.data.slice(0, 1024 * d) },
      maxIter: 1000,
      tol: 0,
    });
    const controller = new AbortController();
    const fit = km.fit(x, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopped = performance.now();
    controller.abort();
    await expect(fit).rejects.toThrow(/abort/i);
    expect(performance.now() - stopped).toBeLessThan(500);
  });

  it('a second fit() on a busy model is a usage error, and the first one completes', async () => {
    const small = makeBlobs({ n: 500, d: 2, k: 2, seed: 1 });
    const g = new GaussianMixture({ nComponents: 2, backend: 'cpu' });
    const first = g.fit(small);
    const second = g.fit(small);
    await expect(second).rejects.toThrow(/fit\(\) was called while fit\(\) is still running on this model/);
    await expect(first).resolves.toBe(g);
    expect(Number.isFinite(g.lowerBound)).toBe(true);
    const km = new KMeans({ nClusters: 2, backend: 'cpu' });
    const a = km.fit(small);
    await expect(km.fit(small)).rejects.toThrow(/still running on this KMeans/);
    await a;
  });
});

describe('no silent garbage', () => {
  /** Bound data whose every result is NaN where `poison` says. */
  function poisoned(poison: 'stats' | 'estep' | 'kmeans'): BoundData {
    return {
      rows: 2,
      cols: 1,
      weights: null,
      lastGpuSeconds: null,
      prepare: async () => {},
      sufficientStatistics: async () => ({
        nComponents: 1,
        nFeatures: 1,
        weightSum: 2,
        logLikelihoodSum: poison === 'stats' ? Infinity : -1,
        respLogRespSum: 0,
        nk: Float64Array.of(2),
        firstMoment: Float64Array.of(0),
        secondMomentLayout: 'packed' as const,
        secondMoment: Float64Array.of(1),
      }),
      eStep: async () => ({
        logLikelihood: Float64Array.of(-1, poison === 'estep' ? NaN : -1),
        responsibilities: null,
        labels: null,
      }),
      kmeansStatistics: async () => ({
        nClusters: 1,
        nFeatures: 1,
        counts: Float64Array.of(2),
        firstMoment: Float64Array.of(poison === 'kmeans' ? NaN : 0),
        inertia: 1,
        changed: 0,
      }),
      seedingStep: async () => ({
        index: 0,
        state: {
          potential: 1,
          sample: async () => 0,
          samples: async (us) => us.map(() => 0),
          release: () => {},
        },
      }),
      assign: async () => ({
        labels: Int32Array.of(0, 0),
        minDistances: Float64Array.of(0, 0),
        distances: null,
      }),
      dispose: () => {},
    };
  }

  it('a non-finite backend result is an error naming float32 overflow, never a return value', async () => {
    const p = {
      covarianceType: 'full' as const,
      nComponents: 1,
      nFeatures: 1,
      logWeights: Float64Array.of(0),
      means: Float64Array.of(0),
      precisionCholesky: Float64Array.of(1),
      logDetPrecisionCholesky: Float64Array.of(0),
    };
    const stats = new CheckedBoundData(poisoned('stats'), 'webgpu', 1);
    await expect(stats.sufficientStatistics(p, Float64Array.of(0))).rejects.toThrow(
      /sufficient statistics came back as Infinity: float32 overflowed on the GPU/,
    );
    const estep = new CheckedBoundData(poisoned('estep'), 'webgpu', 1);
    await expect(estep.eStep(p, { responsibilities: false })).rejects.toThrow(/came back as NaN/);
    const km = new CheckedBoundData(poisoned('kmeans'), 'cpu', 1);
    await expect(km.kmeansStatistics(Float64Array.of(0), 1)).rejects.toThrow(/k-means sums came back as NaN/);
  });

  it('scaled data gives the same answer as unscaled data on the reference backend', async () => {
    // The scale wrapper folds a power of two in and out exactly: compare with no scaling.
    const x = makeBlobs({ n: 400, d: 3, k: 3, seed: 2 });
    const p = {
      covarianceType: 'full' as const,
      nComponents: 1,
      nFeatures: 3,
      logWeights: Float64Array.of(0),
      means: Float64Array.of(1, 2, 3),
      precisionCholesky: Float64Array.of(0.5, 0.1, 0.4, 0, 0.2, 0.3),
      logDetPrecisionCholesky: Float64Array.of(Math.log(0.5 * 0.4 * 0.3)),
    };
    const scale = 2 ** 40;
    const scaled = { ...x, data: Float32Array.from(x.data, (v) => v / scale) };
    const plain = new CheckedBoundData(await new CpuBackend().bindData(x), 'cpu', 1);
    const folded = new CheckedBoundData(await new CpuBackend().bindData(scaled), 'cpu', scale);
    const a = await plain.sufficientStatistics(p, Float64Array.of(1, 1, 1));
    const b = await folded.sufficientStatistics(p, Float64Array.of(1, 1, 1));
    expect(b.logLikelihoodSum).toBeCloseTo(a.logLikelihoodSum, 6);
    for (let i = 0; i < a.secondMoment.length; i++)
      expect(b.secondMoment[i]).toBeCloseTo(a.secondMoment[i], 6);
    const ka = await plain.kmeansStatistics(Float64Array.of(0, 0, 0, 5, 5, 5), 2);
    const kb = await folded.kmeansStatistics(Float64Array.of(0, 0, 0, 5, 5, 5), 2);
    expect(kb.inertia).toBeCloseTo(ka.inertia, 6);
  });
});

describe('messages', () => {
  it("a '#' comment line is named as a comment, not as decimal commas", () => {
    for (const text of ['# made by hand\n1,2\n3,4\n', '1,2\n# note\n3,4\n', 'a b\n  # x\n1 2\n']) {
      expect(() => parseCsv(text)).toThrow(/line \d is a comment \('#'\)/);
    }
  });

  it('a 2-million-column row gives a limit, not "Invalid typed array length"', async () => {
    const x = { data: new Float32Array(2 * 2_000_000).fill(1), rows: 2, cols: 2_000_000 };
    const g = new GaussianMixture({ nComponents: 1, backend: 'cpu' });
    const error = await g.fit(x).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebGpuEmError);
    expect((error as Error).message).toMatch(/D = 2000000 features need .* covariance sums, over the limit/);
    // diag holds D second moments per component, not D(D+1)/2: 2 million fit.
    const diag = new GaussianMixture({ nComponents: 1, backend: 'cpu', covarianceType: 'diag' });
    await diag.fit(x);
    expect(diag.covariances.length).toBe(2_000_000);
  });

  it('the CLI reports these as one line', () => {
    const d = dir('messages');
    const commented = join(d, 'c.csv');
    writeFileSync(commented, '# exported\nx,y\n1,2\n3,4\n');
    const r = cli(['gmm', commented, '-k', '1', '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/line 1 is a comment/);
    expect(existsSync(join(d, 'c.csv'))).toBe(true);
  });
});
