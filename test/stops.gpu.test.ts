// Stop requests on the GPU path: a pass is split into submissions of bounded work, so an abort
// or dispose() is honoured after the submission in flight (not after the whole pass), dispose()
// gives the usage error for every model and stage, and a second Ctrl-C ends the command at once.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.js';
import { encodeNpy } from '../src/io/npy.js';
import { BayesianGaussianMixture, GaussianMixture, KMeans, WebGpuEmError } from '../src/index.js';
import { makeBlobs } from './helpers/data.js';
import { requireGpu } from './helpers/gpu.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await requireGpu();
});
afterAll(() => gpu?.release());

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'bin/webgpu-em.js');
const blocker = join(root, 'test/helpers/block-on-signal.mjs');
const work = mkdtempSync(join(tmpdir(), 'webgpu-em-stops-gpu-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// K = 200 full components of D = 64: a pass is seconds on a software adapter, and several submissions.
const x = makeBlobs({ n: 2000, d: 64, k: 10, seed: 4 });
const gmmOptions = { nComponents: 200, backend: 'webgpu' as const, maxIter: 1000, tol: 0 };
const disposedMessage = 'the model was disposed during fit(); await fit() before dispose()';

type Stoppable = { fit: GaussianMixture['fit'] };

/**
 * Fits, and `delay` ms after the first iteration's record (while the next pass has just been
 * submitted) calls `stop`; resolves to the rejection, the ms it took after `stop`, and that
 * first iteration's seconds.
 */
async function stopDuringSecondPass(
  model: Stoppable,
  stop: (c: AbortController) => void,
): Promise<{ error: unknown; ms: number; passSeconds: number }> {
  const controller = new AbortController();
  let stopped = 0;
  let passSeconds = NaN;
  const fit = model.fit(x, {
    signal: controller.signal,
    onIteration: (r: { iteration: number; seconds: number }) => {
      if (r.iteration !== 1) return;
      passSeconds = r.seconds;
      setTimeout(() => {
        stopped = performance.now();
        stop(controller);
      }, 50);
    },
  });
  const error = await fit.then(
    () => null,
    (e: unknown) => e,
  );
  return { error, ms: performance.now() - stopped, passSeconds };
}

describe('stops on the GPU: after the submission in flight', () => {
  it('an abort stops a K = 200, D = 64 fit well before its pass would end', async () => {
    const g = new GaussianMixture(gmmOptions);
    const { error, ms, passSeconds } = await stopDuringSecondPass(g, (c) => c.abort());
    g.dispose();
    expect((error as Error | null)?.name).toBe('AbortError');
    // One pass is split into several submissions: two at most are queued when the abort comes.
    expect(ms).toBeLessThan(0.6 * passSeconds * 1000);
  }, 120_000);

  it('dispose() during a GaussianMixture fit rejects with the usage error, after the submission in flight', async () => {
    const g = new GaussianMixture(gmmOptions);
    const { error, ms, passSeconds } = await stopDuringSecondPass(g, () => g.dispose());
    expect(error).toBeInstanceOf(WebGpuEmError);
    expect((error as WebGpuEmError).kind).toBe('usage');
    expect((error as Error).message).toBe(disposedMessage);
    expect(ms).toBeLessThan(0.6 * passSeconds * 1000);
  }, 120_000);

  it('dispose() during a BayesianGaussianMixture fit rejects with the usage error', async () => {
    const b = new BayesianGaussianMixture({ ...gmmOptions, nComponents: 100 });
    const { error } = await stopDuringSecondPass(b as unknown as Stoppable, () => b.dispose());
    expect((error as WebGpuEmError).kind).toBe('usage');
    expect((error as Error).message).toBe(disposedMessage);
  }, 120_000);

  it('dispose() during KMeans passes and during k-means++ seeding rejects with the usage error', async () => {
    const big = makeBlobs({ n: 50_000, d: 64, k: 10, seed: 5 });
    const km = new KMeans({ nClusters: 500, backend: 'webgpu', maxIter: 10_000, tol: 0 });
    let iterations = 0;
    const kmFit = km.fit(big, { onIteration: () => iterations++ }).catch((e: unknown) => e);
    // The seeding of 500 centres takes thousands of small passes: stop in their middle.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    km.dispose();
    const seedingError = await kmFit;
    expect(iterations).toBe(0);
    expect((seedingError as WebGpuEmError).kind).toBe('usage');
    expect((seedingError as Error).message).toBe(disposedMessage);

    const km2 = new KMeans({ nClusters: 50, backend: 'webgpu', maxIter: 100_000, tol: 0, init: 'random' });
    const fit2 = km2
      .fit(big, { onIteration: (r) => void (r.iteration === 2 && km2.dispose()) })
      .catch((e: unknown) => e);
    const passError = await fit2;
    expect((passError as WebGpuEmError).kind).toBe('usage');
    expect((passError as Error).message).toBe(disposedMessage);
  }, 120_000);
});

describe('Ctrl-C twice on the GPU path', () => {
  it('gmm K = 800, D = 64 --backend webgpu: SIGINT at 6 s and 9 s exits 130 within 2 s of the second', async () => {
    const data = join(work, 'k800.npy');
    const blobs = makeBlobs({ n: 1000, d: 64, k: 10, seed: 6 });
    writeFileSync(data, encodeNpy(blobs.data, blobs.rows, blobs.cols));
    const out = join(work, 'out.json');
    writeFileSync(out, 'previous');
    const tmp = mkdtempSync(join(work, 'tmp-'));
    const child = spawn(
      process.execPath,
      // The preload blocks the child's event loop at the first signal for 30 s, as one long
      // submission or a driver's compile may: only the launcher can then end the run in time.
      ['--import', blocker, bin, 'gmm', data, '-k', '800', '--backend', 'webgpu', '--tol', '0', '--out', out],
      { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (b) => (stderr += b));
    let second = 0;
    const exited = new Promise<{ code: number | null; ms: number }>((resolve) =>
      child.on('exit', (code) => resolve({ code, ms: performance.now() - second })),
    );
    const guard = setTimeout(() => child.kill('SIGKILL'), 90_000);
    await new Promise((resolve) => setTimeout(resolve, 6000));
    child.kill('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    second = performance.now();
    child.kill('SIGINT');
    const { code, ms } = await exited;
    clearTimeout(guard);
    expect(code).toBe(130);
    expect(ms).toBeLessThan(2000);
    expect(stderr).toMatch(/interrupted by SIGINT/);
    expect(readFileSync(out, 'utf8')).toBe('previous');
    expect(readdirSync(work).sort()).toEqual(['k800.npy', 'out.json', tmp.split('/').pop()].sort());
    expect(readdirSync(tmp)).toEqual([]);
  }, 120_000);
});
