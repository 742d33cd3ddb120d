/**
 * Out-of-core EM on the float64 CPU backend: a row source gives the fit of the same rows in
 * memory. With at most STREAM_INIT_ROWS rows the initialisation sample is the data itself, in
 * order, so both fits start from the same parameters; the only difference left is the order of
 * float64 additions (per chunk, then merged), about 1e-16 relative per sum, which after a few
 * dozen EM iterations stays far below the 1e-9 asserted here.
 */
import { describe, expect, it } from 'vitest';
import { makeBlobs } from '../src/data/synthetic.js';
import { GaussianMixture, KMeans, WebGpuEmError } from '../src/index.js';
import { initSampleRows, scanSource } from '../src/models/streamed-data.js';
import { joinedChunks } from '../src/data/row-source.js';
import { chunked } from './helpers/chunks.js';
import { maxAbsDiff } from './helpers/data.js';

const cpu = { backend: 'cpu' as const };
const x = makeBlobs({ n: 600, d: 3, k: 3, seed: 5, offset: 40 });

/** Chunkings: one chunk, chunks of one row, uneven chunks. */
const CHUNKINGS: Array<[string, number[]]> = [
  ['one chunk', [600]],
  ['one row a chunk', [1]],
  ['uneven chunks', [7, 130, 2, 61]],
];

describe('GaussianMixture.fit on a row source', () => {
  for (const [name, sizes] of CHUNKINGS) {
    it(`${name}: the in-memory fit`, async () => {
      using mem = new GaussianMixture({ nComponents: 3, seed: 2, ...cpu });
      await mem.fit(x);
      using streamed = new GaussianMixture({ nComponents: 3, seed: 2, ...cpu });
      const source = chunked(x, sizes);
      await streamed.fit(source);
      expect(streamed.nIter).toBe(mem.nIter);
      expect(streamed.converged).toBe(mem.converged);
      expect(Math.abs(streamed.lowerBound - mem.lowerBound)).toBeLessThan(1e-9 * Math.abs(mem.lowerBound));
      expect(maxAbsDiff(streamed.means.data, mem.means.data)).toBeLessThan(1e-9 * 40);
      expect(maxAbsDiff(streamed.covariances, mem.covariances)).toBeLessThan(1e-9);
      // One pass to scan, then one per EM iteration.
      expect(source.passes).toBe(1 + mem.nIter);
      expect(() => streamed.labels).toThrow(/labels are known after fit/);
      // predict and score of a source equal those of the matrix.
      expect(await streamed.predict(chunked(x, sizes))).toEqual(await mem.predict(x));
      expect(await streamed.score(chunked(x, sizes))).toBeCloseTo(await mem.score(x), 9);
      const proba = await streamed.predictProba(chunked(x, sizes));
      expect(maxAbsDiff(proba.data, (await mem.predictProba(x)).data)).toBeLessThan(1e-9);
    });
  }

  it('chunk weights give the fit of sampleWeight', async () => {
    const w = Float64Array.from({ length: x.rows }, (_, i) => (i % 5 === 0 ? 0 : 1 + (i % 3)));
    using mem = new GaussianMixture({ nComponents: 3, covarianceType: 'diag', seed: 1, ...cpu });
    await mem.fit(x, { sampleWeight: w });
    using streamed = new GaussianMixture({ nComponents: 3, covarianceType: 'diag', seed: 1, ...cpu });
    await streamed.fit(chunked(x, [5, 50], w));
    expect(streamed.nIter).toBe(mem.nIter);
    expect(maxAbsDiff(streamed.means.data, mem.means.data)).toBeLessThan(1e-9 * 40);
    expect(await streamed.score(chunked(x, [33], w))).toBeCloseTo(await mem.score(x, { sampleWeight: w }), 9);
  });

  it('initialises a source larger than its sample from a seeded sample of it', async () => {
    const big = makeBlobs({ n: 120_000, d: 1, k: 2, seed: 9, spread: 10 });
    expect(initSampleRows(2, 1)).toBe(100_000);
    const scan = await scanSource(chunked(big, [9973]), 2, 1);
    expect(scan.rows).toBe(120_000);
    expect(scan.sample.rows).toBe(100_000);
    // Far-apart blobs: both starts reach the same optimum.
    using mem = new GaussianMixture({ nComponents: 2, seed: 3, ...cpu });
    await mem.fit(big);
    using streamed = new GaussianMixture({ nComponents: 2, seed: 3, ...cpu });
    await streamed.fit(chunked(big, [40_000]));
    expect(Math.abs(streamed.lowerBound - mem.lowerBound)).toBeLessThan(1e-6 * Math.abs(mem.lowerBound));
  });

  it('samples uniformly, with the same draws whatever the chunking', async () => {
    const big = makeBlobs({ n: 5000, d: 1, k: 1, seed: 4 });
    const a = await scanSource(chunked(big, [5000]), 1, 7);
    const b = await scanSource(chunked(big, [3, 17]), 1, 7);
    expect(a.sample.data).toEqual(b.sample.data);
    expect(a.meanVariance).toBeCloseTo(b.meanVariance, 9);
  });

  it('refuses a source that changes between passes, and sampleWeight beside a source', async () => {
    let pass = 0;
    const shrinking = async function* () {
      const n = pass++ === 0 ? 600 : 599;
      yield { data: x.data.slice(0, n * 3), rows: n, cols: 3 };
    };
    using gmm = new GaussianMixture({ nComponents: 3, ...cpu });
    await expect(gmm.fit(shrinking)).rejects.toThrow(/gave 599 rows on this pass but 600 on the first/);
    await expect(gmm.fit(chunked(x, [10]), { sampleWeight: new Float64Array(600) })).rejects.toThrow(
      /sampleWeight cannot be given with a row source/,
    );
    const ragged = async function* () {
      yield { data: new Float32Array(6), rows: 2, cols: 3 };
      yield { data: new Float32Array(4), rows: 2, cols: 2 };
    };
    await expect(gmm.fit(ragged)).rejects.toThrow(
      /chunk 1 of the row source has 2 columns but the first had 3/,
    );
    const bad = async function* () {
      yield { data: Float32Array.from([1, 2, NaN]), rows: 1, cols: 3 };
    };
    await expect(gmm.fit(bad)).rejects.toBeInstanceOf(WebGpuEmError);
  });
});

describe('KMeans.fit on a row source', () => {
  for (const [name, sizes] of CHUNKINGS) {
    it(`${name}: the in-memory fit`, async () => {
      using mem = new KMeans({ nClusters: 4, seed: 3, ...cpu });
      await mem.fit(x);
      using streamed = new KMeans({ nClusters: 4, seed: 3, ...cpu });
      await streamed.fit(chunked(x, sizes));
      expect(streamed.nIter).toBe(mem.nIter);
      expect(maxAbsDiff(streamed.clusterCenters.data, mem.clusterCenters.data)).toBeLessThan(1e-9 * 40);
      expect(Math.abs(streamed.inertia - mem.inertia)).toBeLessThan(1e-9 * mem.inertia);
      expect(await streamed.predict(chunked(x, sizes))).toEqual(await mem.predict(x));
      expect(await streamed.score(chunked(x, sizes))).toBeCloseTo(await mem.score(x), 6);
    });
  }

  it('moves an empty cluster to the farthest sample of the stream, as in memory', async () => {
    // Two far centres start empty: both move to the farthest samples.
    const init = {
      means: [x.data.slice(0, 3), x.data.slice(3, 6), [1e4, 1e4, 1e4], [-1e4, 0, 0]] as number[][],
    };
    init.means = init.means.map((r) => Array.from(r));
    using mem = new KMeans({ nClusters: 4, init, ...cpu });
    await mem.fit(x);
    using streamed = new KMeans({ nClusters: 4, init, ...cpu });
    await streamed.fit(chunked(x, [13]));
    expect(streamed.history[0].relocated).toBe(2);
    expect(maxAbsDiff(streamed.clusterCenters.data, mem.clusterCenters.data)).toBeLessThan(1e-9 * 40);
  });
});

describe('joinedChunks', () => {
  const chunk = (start: number, rows: number, weights: number[] | null) => ({
    matrix: { data: Float32Array.from({ length: rows * 2 }, (_, i) => start * 2 + i), rows, cols: 2 },
    weights: weights ? Float64Array.from(weights) : null,
  });
  async function* of(...chunks: ReturnType<typeof chunk>[]) {
    yield* chunks;
  }

  it('joins small chunks in order, fills missing weights with 1, passes long ones uncopied', async () => {
    const long = chunk(6, 5, null);
    const out = [];
    for await (const c of joinedChunks(
      of(chunk(0, 2, null), chunk(2, 3, [2, 0, 3]), chunk(5, 1, null), long, chunk(11, 1, null)),
      4,
    ))
      out.push(c);
    expect(out.map((c) => c.matrix.rows)).toEqual([5, 1, 5, 1]);
    expect(Array.from(out[0].matrix.data)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(Array.from(out[0].weights!)).toEqual([1, 1, 2, 0, 3]);
    expect(out[1].weights).toBeNull();
    expect(out[2]).toBe(long);
    expect(Array.from(out[3].matrix.data)).toEqual([22, 23]);
  });
});
