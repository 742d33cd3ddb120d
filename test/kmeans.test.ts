import { describe, expect, it } from 'vitest';
import { KMeans, WebGpuEmError } from '../src/index.js';
import { makeBlobs, maxAbsDiff } from './helpers/data.js';

const cpu = { backend: 'cpu' as const };

/** Lloyd's algorithm written out plainly in float64, as an independent check. */
function lloydReference(data: Float32Array, d: number, start: number[], iters: number) {
  const k = start.length / d;
  let centres = Float64Array.from(start);
  for (let t = 0; t < iters; t++) {
    const sums = new Float64Array(k * d);
    const counts = new Float64Array(k);
    for (let n = 0; n < data.length / d; n++) {
      let best = 0;
      let bestDist = Infinity;
      for (let c = 0; c < k; c++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += (data[n * d + i] - centres[c * d + i]) ** 2;
        if (s < bestDist) [best, bestDist] = [c, s];
      }
      counts[best]++;
      for (let i = 0; i < d; i++) sums[best * d + i] += data[n * d + i];
    }
    centres = centres.map((v, e) =>
      counts[Math.floor(e / d)] > 0 ? sums[e] / counts[Math.floor(e / d)] : v,
    );
  }
  return centres;
}

describe('KMeans on the CPU reference', () => {
  const x = makeBlobs({ n: 3000, d: 3, k: 4, seed: 21, spread: 8 });

  it('follows Lloyd’s algorithm from given centres', async () => {
    const start = Array.from(x.data.slice(0, 12));
    const km = new KMeans({ nClusters: 4, ...cpu, init: { means: start }, maxIter: 5, tol: 0 });
    await km.fit(x);
    const reference = lloydReference(x.data, 3, start.map(Math.fround), 5);
    expect(maxAbsDiff(km.clusterCenters.data, reference)).toBeLessThan(1e-5);
  });

  it('a stepwise fit holds the centres of each step (predict, toJSON), as fit() reaches them', async () => {
    const start = Array.from(x.data.slice(0, 12));
    const km = new KMeans({ nClusters: 4, ...cpu, init: { means: start }, maxIter: 5, tol: 0 });
    await km.initialize(x);
    await km.step();
    await km.step();
    const reference = lloydReference(x.data, 3, start.map(Math.fround), 2);
    expect(maxAbsDiff(km.clusterCenters.data, reference)).toBeLessThan(1e-5);
    expect(KMeans.fromJSON(JSON.stringify(km)).clusterCenters.data).toEqual(km.clusterCenters.data);
    expect((await km.predict(x)).length).toBe(x.rows);
    expect(() => km.inertia).toThrow(/after fit/);
  });

  it('never increases the objective and converges', async () => {
    const km = new KMeans({ nClusters: 4, ...cpu, seed: 3 });
    await km.fit(x);
    const h = km.history;
    for (let i = 1; i < h.length; i++)
      expect(h[i].inertia).toBeLessThanOrEqual(h[i - 1].inertia * (1 + 1e-12));
    expect(km.converged).toBe(true);
    expect(km.inertia).toBeLessThanOrEqual(h[h.length - 1].inertia * (1 + 1e-12));
    expect(await km.score(x)).toBeCloseTo(-km.inertia, 6);
  });

  it('predict and transform agree; transform gives Euclidean distances', async () => {
    const km = new KMeans({ nClusters: 4, ...cpu });
    await km.fit(x);
    const labels = await km.predict(x);
    const t = await km.transform(x);
    const c = km.clusterCenters.data;
    for (let n = 0; n < 50; n++) {
      const row = t.data.subarray(n * 4, n * 4 + 4);
      expect(row.indexOf(Math.min(...row))).toBe(labels[n]);
      const dist = Math.hypot(...[0, 1, 2].map((i) => x.data[n * 3 + i] - c[labels[n] * 3 + i]));
      expect(row[labels[n]]).toBeCloseTo(dist, 8);
    }
  });

  it('re-seeds a cluster that loses every sample instead of producing NaN', async () => {
    const far = [1e6, 1e6, 1e6];
    const start = [...far, ...Array.from(x.data.slice(0, 9))];
    const km = new KMeans({ nClusters: 4, ...cpu, init: { means: start }, tol: 0, maxIter: 20 });
    await km.fit(x);
    expect(km.history[0].relocated).toBe(1);
    expect(km.clusterCenters.data.every(Number.isFinite)).toBe(true);
    expect(Math.max(...km.clusterCenters.data)).toBeLessThan(1e3);
  });

  it('keeps the lowest inertia of nInit restarts and is reproducible', async () => {
    const data = makeBlobs({ n: 800, d: 2, k: 8, seed: 2 });
    const many = new KMeans({ nClusters: 8, ...cpu, nInit: 5, init: 'random', seed: 4 });
    await many.fit(data);
    const again = new KMeans({ nClusters: 8, ...cpu, nInit: 5, init: 'random', seed: 4 });
    await again.fit(data);
    expect(again.inertia).toBe(many.inertia);
    const one = new KMeans({ nClusters: 8, ...cpu, nInit: 1, init: 'random', seed: 4 });
    await one.fit(data);
    expect(many.inertia).toBeLessThanOrEqual(one.inertia);
  });

  it('rejects bad options and shapes clearly', async () => {
    expect(() => new KMeans({ nClusters: 0 })).toThrow(WebGpuEmError);
    await expect(new KMeans({ nClusters: 5, ...cpu }).fit([[1], [2]])).rejects.toThrow(
      /2 samples but nClusters = 5/,
    );
    await expect(
      new KMeans({ nClusters: 2, ...cpu, init: { means: [1, 2, 3] } }).fit([
        [1, 2],
        [3, 4],
      ]),
    ).rejects.toThrow(/3 values but nClusters x nFeatures = 2 x 2/);
    await expect(new KMeans({ nClusters: 2, ...cpu }).predict([[1]])).rejects.toThrow(/not fitted/);
  });
});
