// Stop requests on the CPU path: an AbortSignal, dispose() and Ctrl-C are honoured within a
// fraction of a second however the work is split (many short passes, many restarts, many
// candidates), and a second Ctrl-C ends the command at once even when its process is blocked.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BayesianGaussianMixture,
  GaussianMixture,
  KMeans,
  selectGaussianMixture,
  WebGpuEmError,
} from '../src/index.js';
import type { SampleChunk } from '../src/backends/webgpu/sample-chunks.js';
import { kmeansWorkPerRow } from '../src/backends/webgpu/kmeans-budget.js';
import { mixtureWorkPerRow, rowsPerSubmission } from '../src/backends/webgpu/mixture-passes.js';
import {
  chunkRowsWithin,
  rowSlices,
  rowsWithinBudget,
  SLICE_ROW_ALIGN,
  SUBMISSION_MIN_ROWS,
  SUBMISSION_WORK,
  submissionGroups,
  submissionWork,
} from '../src/backends/webgpu/submissions.js';
import { makeBlobs } from './helpers/data.js';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'bin/webgpu-em.js');
const iris = join(root, 'data/iris.csv');
const blocker = join(root, 'test/helpers/block-on-signal.mjs');
const work = mkdtempSync(join(tmpdir(), 'webgpu-em-stops-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function dir(name: string): string {
  const d = join(work, name);
  mkdirSync(d, { recursive: true });
  return d;
}

// 200 x 3: each pass takes microseconds, so only a clock kept across passes can yield.
const small = makeBlobs({ n: 200, d: 3, k: 3, seed: 11 });
const long = { backend: 'cpu' as const, maxIter: 200_000, tol: 0 };

/** Milliseconds from `stop` to the fit's settling, and what it rejected with (null: it resolved). */
async function stopAfter(
  ms: number,
  fit: (signal: AbortSignal) => Promise<unknown>,
  stop: (c: AbortController) => void,
): Promise<[number, unknown]> {
  const controller = new AbortController();
  const running = fit(controller.signal).then(
    () => null,
    (e: unknown) => e,
  );
  await new Promise((resolve) => setTimeout(resolve, ms));
  const stopped = performance.now();
  stop(controller);
  const error = await running;
  return [performance.now() - stopped, error];
}

describe('an AbortSignal on the CPU backend, with many short passes', () => {
  it('AbortSignal.timeout(300) stops a GaussianMixture fit of 200 x 3 within 0.5 s of firing', async () => {
    const g = new GaussianMixture({ nComponents: 3, ...long });
    const started = performance.now();
    const error = await g.fit(small, { signal: AbortSignal.timeout(300) }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((error as Error | null)?.name).toBe('TimeoutError');
    expect(performance.now() - started).toBeLessThan(300 + 500);
    expect(() => g.lowerBound).toThrow(/known after fit/); // the model kept its (absent) previous fit
  });

  it.each([
    [
      'GaussianMixture, many restarts',
      (s: AbortSignal) =>
        new GaussianMixture({ nComponents: 3, backend: 'cpu', nInit: 1_000_000 }).fit(small, { signal: s }),
    ],
    [
      'KMeans, many restarts',
      (s: AbortSignal) =>
        new KMeans({ nClusters: 3, backend: 'cpu', nInit: 1_000_000 }).fit(small, { signal: s }),
    ],
    [
      'BayesianGaussianMixture',
      (s: AbortSignal) => new BayesianGaussianMixture({ nComponents: 3, ...long }).fit(small, { signal: s }),
    ],
    [
      'selectGaussianMixture',
      (s: AbortSignal) =>
        selectGaussianMixture(small, {
          nComponents: [1, 2, 3, 4],
          maxIter: 200_000,
          tol: 0,
          backend: 'cpu',
          signal: s,
        }),
    ],
  ])('%s: rejects within 0.5 s of the abort', async (_, fit) => {
    const [ms, error] = await stopAfter(300, fit, (c) => c.abort());
    expect((error as Error | null)?.name).toBe('AbortError');
    expect(ms).toBeLessThan(500);
  });
});

describe('dispose() during a CPU fit of many short passes', () => {
  it.each([
    ['GaussianMixture', () => new GaussianMixture({ nComponents: 3, ...long })],
    ['KMeans', () => new KMeans({ nClusters: 3, backend: 'cpu', nInit: 1_000_000 })],
    ['BayesianGaussianMixture', () => new BayesianGaussianMixture({ nComponents: 3, ...long })],
  ])('%s: the fit rejects with the usage error within 1 s', async (_, make) => {
    const model = make();
    const [ms, error] = await stopAfter(
      300,
      () => model.fit(small),
      () => model.dispose(),
    );
    expect(error).toBeInstanceOf(WebGpuEmError);
    expect((error as WebGpuEmError).kind).toBe('usage');
    expect((error as Error).message).toBe(
      'the model was disposed during fit(); await fit() before dispose()',
    );
    expect(ms).toBeLessThan(1000);
  });
});

/** Runs the CLI (node [preload] bin ...args) with stdin piped; `exited` gives its code and ms since `mark()`. */
function launch(args: string[], env: NodeJS.ProcessEnv = {}, preload: string[] = []) {
  const child: ChildProcess = spawn(process.execPath, [...preload, bin, ...args], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b) => (stderr += b));
  child.stdin!.on('error', () => {});
  let marked = 0;
  const exited = new Promise<{ code: number | null; ms: number }>((resolve) =>
    child.on('exit', (code) => resolve({ code, ms: performance.now() - marked })),
  );
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void exited.then(() => clearTimeout(guard));
  return {
    child,
    exited,
    stderr: () => stderr,
    /** Starts the clock `exited` reports against. */
    mark: () => (marked = performance.now()),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Ctrl-C on the command line, CPU path', () => {
  it.each([
    ['gmm --n-init 20000', ['gmm', iris, '-k', '3', '--n-init', '20000']],
    ['kmeans --n-init 1000000', ['kmeans', iris, '-k', '3', '--n-init', '1000000']],
    ['bgmm --max-iter 1000000', ['bgmm', iris, '-k', '3', '--max-iter', '1000000', '--tol', '0']],
    [
      'select --max-iter 1000000',
      ['select', iris, '--k-range', '1..4', '--max-iter', '1000000', '--tol', '0'],
    ],
  ])('%s on iris exits 130 within 1 s, earlier output intact', async (_, args) => {
    const d = dir(`ctrl-c-${args[0]}`);
    const out = join(d, 'out.json');
    writeFileSync(out, 'previous');
    const run = launch([...args, '--backend', 'cpu', '--out', out], { TMPDIR: d });
    await sleep(1500);
    run.mark();
    run.child.kill('SIGINT');
    const { code, ms } = await run.exited;
    expect(code).toBe(130);
    expect(ms).toBeLessThan(1000);
    expect(run.stderr()).toMatch(/interrupted by SIGINT; stopped before writing any output/);
    expect(readFileSync(out, 'utf8')).toBe('previous');
    expect(readdirSync(d)).toEqual(['out.json']);
  });

  it("a second Ctrl-C ends the launcher's child at once even when its event loop is blocked", async () => {
    // Piped data goes through the launcher's child, spooled to TMPDIR as it arrives; the input
    // stays open, so the spooled copy is there when the signals come. The preload blocks the
    // child's event loop at the first signal, as a long GPU submission can.
    const d = dir('ctrl-c-twice');
    const tmp = dir('ctrl-c-twice-tmp');
    const out = join(d, 'out.json');
    writeFileSync(out, 'previous');
    const run = launch(['gmm', '-', '-k', '3', '--out', out], { TMPDIR: tmp }, ['--import', blocker]);
    run.child.stdin!.write('1,2\n3,4\n5,6\n');
    await sleep(2000);
    expect(readdirSync(tmp)).toHaveLength(1); // the spooled copy of standard input
    run.child.kill('SIGINT');
    await sleep(500);
    run.mark();
    run.child.kill('SIGINT');
    const { code, ms } = await run.exited;
    run.child.stdin!.destroy();
    expect(code).toBe(130);
    expect(ms).toBeLessThan(1000);
    expect(run.stderr()).toMatch(/interrupted by SIGINT again; stopped at once/);
    expect(run.stderr().trim().split('\n')).toHaveLength(1);
    expect(readFileSync(out, 'utf8')).toBe('previous');
    expect(readdirSync(d)).toEqual(['out.json']);
    expect(readdirSync(tmp)).toEqual([]);
  });
});

describe('bounded GPU submissions: the budget and the grouping', () => {
  const device = (isFallbackAdapter: boolean) =>
    ({ adapterInfo: { isFallbackAdapter } }) as unknown as GPUDevice;
  const chunk = (rows: number) => ({ rows }) as SampleChunk;

  it('a software adapter gets the small budget, a GPU the large one, within 50 GFLOP and 2 GB', () => {
    expect(submissionWork(device(true))).toBe(SUBMISSION_WORK.software);
    expect(submissionWork(device(false))).toBe(SUBMISSION_WORK.gpu);
    expect(SUBMISSION_WORK.gpu.madds).toBeGreaterThan(SUBMISSION_WORK.software.madds);
    for (const budget of Object.values(SUBMISSION_WORK)) {
      expect(2 * budget.madds).toBeLessThanOrEqual(50e9);
      expect(budget.bytes).toBeLessThanOrEqual(2 ** 31);
    }
  });

  it('chunks are grouped in order, each group within both measures of the budget or a single chunk', () => {
    const budget = { madds: 40, bytes: 1e9 };
    const groups = submissionGroups(
      [chunk(10), chunk(10), chunk(25), chunk(5), chunk(5)],
      { madds: 2, bytes: 1 },
      budget,
    );
    expect(groups).toEqual([[0, 1], [2], [3, 4]]);
    expect(
      submissionGroups([chunk(100), chunk(1)], { madds: 1, bytes: 1 }, { madds: 10, bytes: 10 }),
    ).toEqual([[0], [1]]);
    // The bytes bind where the multiply-adds would not.
    expect(
      submissionGroups([chunk(10), chunk(10), chunk(10)], { madds: 1, bytes: 8 }, { madds: 1e9, bytes: 160 }),
    ).toEqual([[0, 1], [2]]);
  });

  it('rows per chunk keep one chunk within the budget, with a floor', () => {
    const perRow = mixtureWorkPerRow(16, 8, 'full');
    const budget = SUBMISSION_WORK.software;
    const rows = rowsPerSubmission(16, 8, 'full', budget);
    expect(rows * perRow.madds).toBeLessThanOrEqual(budget.madds);
    expect(rows * perRow.bytes).toBeLessThanOrEqual(budget.bytes);
    expect((rows + 1) * perRow.madds).toBeGreaterThan(budget.madds);
    expect(rowsPerSubmission(4096, 128, 'full', budget)).toBe(SUBMISSION_MIN_ROWS);
    // Few multiply-adds a row: the 2 GB of traffic bind (k-means of 2 features on a GPU).
    const light = kmeansWorkPerRow(2, 2);
    const gpuRows = rowsWithinBudget(light, SUBMISSION_WORK.gpu);
    expect(gpuRows * light.bytes).toBeLessThanOrEqual(2 ** 31);
    expect(gpuRows * light.madds).toBeLessThan(SUBMISSION_WORK.gpu.madds / 10);
  });

  it('a per-row pass is cut into slices of the chunks, from multiples of the alignment', () => {
    const slices = rowSlices([chunk(300), chunk(64), chunk(1)], 150);
    expect(slices).toEqual([
      { chunk: 0, first: 0, rows: 128 },
      { chunk: 0, first: 128, rows: 128 },
      { chunk: 0, first: 256, rows: 44 },
      { chunk: 1, first: 0, rows: 64 },
      { chunk: 2, first: 0, rows: 1 },
    ]);
    expect(slices.every((s) => s.first % SLICE_ROW_ALIGN === 0)).toBe(true);
    // Never below one alignment step, and whole blocks where a kernel asks for them.
    expect(rowSlices([chunk(100)], 1).map((s) => s.rows)).toEqual([64, 36]);
    expect(rowSlices([chunk(1000)], 600, 256).map((s) => s.first)).toEqual([0, 512]);
  });

  it('never more chunks than the partial sums allow: then fewer, longer submissions', () => {
    expect(chunkRowsWithin(10_000, 100, 1_000)).toBe(100);
    expect(chunkRowsWithin(10_000, 100, 20)).toBe(500);
    expect(chunkRowsWithin(10_000, 100, 0)).toBe(10_000);
  });
});
