/**
 * The render view: the bound samples and each row's label on the model's device, written without
 * a read-back (a mixture's by the E-step, k-means' by row_labels.wgsl). Its labels are read back
 * here (the test's own copy) and held against predict(X) and the argmax of predictProba(X)
 * (mixtures) or the last Lloyd pass's assignment (k-means, equal to predict once no label changes).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GpuContext } from '../src/gpu/context.js';
import { GaussianMixture, KMeans, type Matrix, type RenderView } from '../src/index.js';
import { BufferUsage, MapMode } from '../src/gpu/constants.js';
import { makeBlobs } from './helpers/data.js';
import { requireGpu } from './helpers/gpu.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await requireGpu();
});
afterAll(() => gpu?.release());

/** Every row's label from the view's buffers, as the renderer would see them. */
async function viewLabels(view: RenderView): Promise<Uint32Array> {
  const out = new Uint32Array(view.rows);
  for (const c of view.chunks) {
    const read = view.device.createBuffer({
      size: c.rows * 4,
      usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
    });
    const encoder = view.device.createCommandEncoder();
    encoder.copyBufferToBuffer(c.labels, 0, read, 0, c.rows * 4);
    view.device.queue.submit([encoder.finish()]);
    await read.mapAsync(MapMode.READ);
    out.set(new Uint32Array(read.getMappedRange().slice(0)), c.firstRow);
    read.destroy();
  }
  return out;
}

/** Index of the largest of each row's K values (ties: the lowest). */
function argmaxRows(values: ArrayLike<number>, k: number): number[] {
  const out: number[] = [];
  for (let o = 0; o < values.length; o += k) {
    let best = 0;
    for (let c = 1; c < k; c++) if (values[o + c] > values[o + best]) best = c;
    out.push(best);
  }
  return out;
}

/** The view's samples, read back, against the data divided by the view's scale. */
async function expectSamples(view: RenderView, x: Matrix): Promise<void> {
  const c = view.chunks[0];
  const bytes = Math.min(c.rows, 100) * view.cols * 4;
  const read = view.device.createBuffer({ size: bytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  const encoder = view.device.createCommandEncoder();
  encoder.copyBufferToBuffer(c.samples, 0, read, 0, bytes);
  view.device.queue.submit([encoder.finish()]);
  await read.mapAsync(MapMode.READ);
  const got = new Float32Array(read.getMappedRange().slice(0));
  read.destroy();
  expect(Array.from(got)).toEqual(
    Array.from(x.data.subarray(0, got.length), (v) => Math.fround(v / view.scale)),
  );
}

describe('renderView', () => {
  for (const [covarianceType, n] of [
    ['full', 30_000], // two kernels per iteration
    ['full', 120_000], // the fused kernel: the view runs the E-step kernel the fit skips
    ['diag', 30_000],
  ] as const) {
    it(`a '${covarianceType}' mixture (N = ${n}): the view's labels are predict's, step after step`, async () => {
      const x = makeBlobs({ n, d: 3, k: 5, spread: 4, offset: 1000, seed: 3 });
      using gmm = new GaussianMixture({ nComponents: 5, covarianceType, backend: 'webgpu', seed: 2 });
      expect(await gmm.renderView()).toBeNull();
      await gmm.initialize(x);
      for (let i = 0; i < 3; i++) {
        const view = (await gmm.renderView())!;
        expect(view.device).toBe(gpu.device);
        expect([view.rows, view.cols, view.scale]).toEqual([n, 3, 1]);
        expect(view.chunks.reduce((a, c) => a + c.rows, 0)).toBe(n);
        await expectSamples(view, x);
        const labels = await viewLabels(view);
        expect(Array.from(labels)).toEqual(Array.from(await gmm.predict(x)));
        // The labels the host took from the responsibilities before they were taken on the GPU.
        if (i === 0) expect(Array.from(labels)).toEqual(argmaxRows((await gmm.predictProba(x)).data, 5));
        await gmm.step();
      }
    });
  }

  it('a fused fit and its view keep no N x K responsibilities on the device', async () => {
    const [n, k] = [120_000, 5];
    const x = makeBlobs({ n, d: 3, k, spread: 4, seed: 9 });
    using gmm = new GaussianMixture({ nComponents: k, backend: 'webgpu', seed: 2 });
    const made = vi.spyOn(GpuContext.prototype, 'createBuffer');
    try {
      await gmm.initialize(x);
      await gmm.step();
      const view = (await gmm.renderView())!;
      expect((await viewLabels(view)).every((l) => l < k)).toBe(true);
      expect(Math.max(...made.mock.calls.map(([, size]) => size))).toBeLessThan(n * k * 4);
    } finally {
      made.mockRestore();
    }
  });

  it('data scaled for float32 (|x| ~ 2^40): the view says the scale, the labels are unchanged', async () => {
    const base = makeBlobs({ n: 20_000, d: 2, k: 4, spread: 5, seed: 5 });
    const x = { ...base, data: base.data.map((v) => v * 2 ** 40) };
    using gmm = new GaussianMixture({ nComponents: 4, backend: 'webgpu', seed: 1 });
    await gmm.initialize(x);
    await gmm.step();
    const view = (await gmm.renderView())!;
    expect(view.scale).toBeGreaterThan(1);
    await expectSamples(view, x);
    expect(Array.from(await viewLabels(view))).toEqual(Array.from(await gmm.predict(x)));
  });

  it("k-means: unlabelled before the first pass, then the last pass's clusters", async () => {
    const x = makeBlobs({ n: 50_000, d: 4, k: 6, spread: 6, offset: -300, seed: 8 });
    using km = new KMeans({ nClusters: 6, backend: 'webgpu', seed: 4, tol: 0 });
    await km.initialize(x);
    const before = await viewLabels((await km.renderView())!);
    expect(before.every((l) => l === 0xffffffff)).toBe(true);
    await km.step();
    const first = await viewLabels((await km.renderView())!);
    expect(first.every((l) => l < 6)).toBe(true);
    while (!km.done) await km.step();
    // Converged with tol 0: no label changed in the last pass, so its labels are the centres' own.
    expect(km.converged).toBe(true);
    expect(Array.from(await viewLabels((await km.renderView())!))).toEqual(Array.from(await km.predict(x)));
  });

  it('is null on the CPU backend and after fit() freed the samples', async () => {
    const x = makeBlobs({ n: 2_000, d: 2, k: 3, seed: 1 });
    using cpu = new GaussianMixture({ nComponents: 3, backend: 'cpu' });
    await cpu.initialize(x);
    expect(await cpu.renderView()).toBeNull();
    using gmm = new GaussianMixture({ nComponents: 3, backend: 'webgpu' });
    await gmm.fit(x);
    expect(await gmm.renderView()).toBeNull();
  });
});
