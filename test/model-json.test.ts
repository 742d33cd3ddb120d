import { describe, expect, it } from 'vitest';
import {
  BayesianGaussianMixture,
  COVARIANCE_TYPES,
  GaussianMixture,
  KMeans,
  WebGpuEmError,
} from '../src/index.js';
import { loadModel, MODEL_FORMATS } from '../src/models/formats.js';
import { makeBlobs, maxAbsDiff } from './helpers/data.js';

const cpu = { backend: 'cpu' as const };
const x = makeBlobs({ n: 600, d: 3, k: 3, seed: 11, offset: 40 });

function errorOf(f: () => unknown): WebGpuEmError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(WebGpuEmError);
    return e as WebGpuEmError;
  }
  throw new Error('expected an error');
}

describe('GaussianMixture toJSON / fromJSON', () => {
  it.each(COVARIANCE_TYPES)(
    '%s: a loaded model gives the same parameters, labels and scores',
    async (type) => {
      const gmm = new GaussianMixture({ nComponents: 3, covarianceType: type, regCovar: 1e-4, ...cpu });
      await gmm.fit(x);
      gmm.featureNames = ['a', 'b', 'c'];
      const text = JSON.stringify(gmm);
      const json = JSON.parse(text);
      expect(json.format).toBe('webgpu-em/gmm@1');
      expect(json.columns).toEqual(['a', 'b', 'c']);
      expect(json.regCovar).toBe(1e-4);
      for (const source of [json, text, { model: json, nIter: 3 }]) {
        const loaded = GaussianMixture.fromJSON(source, cpu);
        expect(loaded.options.covarianceType).toBe(type);
        expect(loaded.options.regCovar).toBe(1e-4);
        expect(loaded.featureNames).toEqual(['a', 'b', 'c']);
        expect(Array.from(loaded.weights)).toEqual(Array.from(gmm.weights));
        expect(Array.from(loaded.means.data)).toEqual(Array.from(gmm.means.data));
        expect(maxAbsDiff(loaded.covariances, gmm.covariances)).toBe(0);
        expect(Array.from(await loaded.predict(x))).toEqual(Array.from(gmm.labels));
        expect(await loaded.score(x)).toBeCloseTo(await gmm.score(x), 12);
        expect(JSON.stringify(loaded)).toBe(text);
        // A loaded model has no lower bound: an error, never -Infinity.
        expect(() => loaded.lowerBound).toThrow(/lowerBound is known after fit\(X\) only/);
        expect(Number.isFinite(gmm.lowerBound)).toBe(true);
      }
    },
  );

  it('refuses a k-means model, another version and unknown formats, naming both', async () => {
    const km = new KMeans({ nClusters: 2, ...cpu });
    await km.fit(x);
    const asMixture = errorOf(() => GaussianMixture.fromJSON(km.toJSON()));
    expect(asMixture.message).toMatch(
      /webgpu-em\/kmeans@1 model but GaussianMixture\.fromJSON reads webgpu-em\/gmm@1; load it with KMeans\.fromJSON/,
    );
    const gmm = new GaussianMixture({ nComponents: 2, ...cpu });
    await gmm.fit(x);
    const asKMeans = errorOf(() => KMeans.fromJSON(gmm.toJSON()));
    expect(asKMeans.message).toMatch(/webgpu-em\/gmm@1 model but KMeans\.fromJSON reads webgpu-em\/kmeans@1/);
    const v2 = errorOf(() =>
      GaussianMixture.fromJSON({ ...gmm.toJSON(), format: 'webgpu-em/gmm@2' }, {}, 'm.json'),
    );
    expect(v2.message).toBe(
      'm.json: the model is in format "webgpu-em/gmm@2" but this version of webgpu-em reads "webgpu-em/gmm@1"; use the webgpu-em that wrote it, or refit and save the model with this one',
    );
    expect(v2.kind).toBe('data');
    const other = errorOf(() => GaussianMixture.fromJSON({ ...gmm.toJSON(), format: 'sklearn/gmm' }));
    expect(other.message).toMatch(
      /unknown model format "sklearn\/gmm".*"webgpu-em\/gmm@1", "webgpu-em\/bgmm@1" and "webgpu-em\/kmeans@1"/,
    );
    expect(errorOf(() => GaussianMixture.fromJSON('{"format": ')).message).toMatch(/invalid JSON/);
    const columns = errorOf(() => GaussianMixture.fromJSON({ ...gmm.toJSON(), columns: ['a'] }));
    expect(columns.message).toMatch(/columns has 1 names but the model has 3 features/);
  });

  it('fitPredict gives the labels of the fit, which predict gives again', async () => {
    const gmm = new GaussianMixture({ nComponents: 3, ...cpu });
    const labels = await gmm.fitPredict(x);
    expect(Array.from(labels)).toEqual(Array.from(await gmm.predict(x)));
    expect(Array.from(gmm.labels)).toEqual(Array.from(labels));
    // Three well-separated blobs: the labels recover them up to a permutation.
    const pairs = new Set(Array.from(labels, (l, i) => `${l}:${x.labels[i]}`));
    expect(pairs.size).toBe(3);
    const fresh = GaussianMixture.fromJSON(gmm.toJSON(), cpu);
    expect(() => fresh.labels).toThrow(/labels are known after fit\(X\) only/);
  });

  it.each(COVARIANCE_TYPES)('%s: precisions invert the covariances; U Uᵀ is the precision', async (type) => {
    const gmm = new GaussianMixture({ nComponents: 2, covarianceType: type, ...cpu });
    await gmm.fit(x);
    const d = 3;
    const cov = gmm.covariances;
    const prec = gmm.precisions;
    const chol = gmm.precisionsCholesky;
    expect(prec.length).toBe(cov.length);
    expect(chol.length).toBe(cov.length);
    if (type === 'diag' || type === 'spherical') {
      for (let i = 0; i < cov.length; i++) {
        expect(cov[i] * prec[i]).toBeCloseTo(1, 12);
        expect(chol[i] * chol[i]).toBeCloseTo(prec[i], 10);
      }
      return;
    }
    for (let m = 0; m < cov.length / (d * d); m++) {
      const o = m * d * d;
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < d; j++) {
          let identity = 0;
          let uut = 0;
          for (let t = 0; t < d; t++) {
            identity += cov[o + i * d + t] * prec[o + t * d + j];
            uut += chol[o + i * d + t] * chol[o + j * d + t];
          }
          expect(identity).toBeCloseTo(i === j ? 1 : 0, 9);
          const p = prec[o + i * d + j];
          expect(Math.abs(uut - p)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(p)));
          if (i > j) expect(chol[o + i * d + j]).toBe(0); // upper triangular, as scikit-learn's
        }
      }
    }
  });

  it('Symbol.dispose disposes the model', async () => {
    const gmm = new GaussianMixture({ nComponents: 2, ...cpu });
    await gmm.fit(x);
    expect(typeof gmm[Symbol.dispose]).toBe('function');
    gmm[Symbol.dispose]();
    // Disposed, the fitted state stays readable and a later call acquires the backend again.
    expect(gmm.weights).toHaveLength(2);
    expect(await gmm.predict(x)).toHaveLength(600);
  });
});

describe('KMeans toJSON / fromJSON', () => {
  it('a loaded model predicts and scores as the fitted one; inertia needs a fit', async () => {
    const km = new KMeans({ nClusters: 3, ...cpu });
    const labels = await km.fitPredict(x);
    expect(Array.from(labels)).toEqual(Array.from(await km.predict(x)));
    km.featureNames = ['u', 'v', 'w'];
    const loaded = KMeans.fromJSON(JSON.stringify(km), cpu);
    expect(loaded.featureNames).toEqual(['u', 'v', 'w']);
    expect(Array.from(loaded.clusterCenters.data)).toEqual(Array.from(km.clusterCenters.data));
    expect(Array.from(await loaded.predict(x))).toEqual(Array.from(labels));
    const perSample = await loaded.scoreSamples(x);
    expect(perSample.reduce((a, b) => a + b, 0)).toBeCloseTo(-km.inertia, 3);
    expect(() => loaded.inertia).toThrow(/inertia is known after fit\(X\) only/);
  });
});

describe('the model format registry', () => {
  it('loads every registered format, and each knows what it can do', async () => {
    const gmm = new GaussianMixture({ nComponents: 2, ...cpu });
    await gmm.fit(x);
    const km = new KMeans({ nClusters: 2, ...cpu });
    await km.fit(x);
    expect(MODEL_FORMATS.map((f) => f.format)).toEqual([
      'webgpu-em/gmm@1',
      'webgpu-em/bgmm@1',
      'webgpu-em/kmeans@1',
    ]);
    const bgmm = new BayesianGaussianMixture({ nComponents: 3, ...cpu });
    await bgmm.fit(x);
    const b = loadModel(JSON.parse(JSON.stringify(bgmm)), { source: 'b.json', backend: 'cpu', seed: 5 });
    expect(b.format).toBe('webgpu-em/bgmm@1');
    expect(maxAbsDiff(await b.scoreSamples(x), await bgmm.scoreSamples(x))).toBeLessThan(1e-9);
    expect(Array.from(b.sample!(20).x.data)).toEqual(Array.from(b.sample!(20).x.data)); // seeded
    const g = loadModel(gmm.toJSON(), { source: 'g.json', backend: 'cpu', seed: 5 });
    const k = loadModel(km.toJSON(), { source: 'k.json', backend: 'cpu' });
    expect(g.format).toBe('webgpu-em/gmm@1');
    expect(k.format).toBe('webgpu-em/kmeans@1');
    expect(g.predictProba).not.toBeNull();
    expect(k.predictProba).toBeNull();
    expect(k.sample).toBeNull();
    const drawn = g.sample!(50);
    expect(drawn.x.rows).toBe(50);
    expect(Array.from(g.sample!(50).x.data)).toEqual(Array.from(drawn.x.data)); // seeded
    expect(Array.from(await k.predict(x))).toEqual(Array.from(await km.predict(x)));
    expect(() => loadModel({ format: 'webgpu-em/kmeans@7', means: [[1]] }, { source: 'z.json' })).toThrow(
      /z\.json: the model is in format "webgpu-em\/kmeans@7" but this version of webgpu-em reads "webgpu-em\/kmeans@1"/,
    );
  });
});
