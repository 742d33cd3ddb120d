/**
 * The shared contract of every model (scikit-learn's `check_estimator`): one table of models,
 * each run through the same checks. A later model is one more entry in MODELS.
 *
 * The package is imported by its name (`webgpu-em`: the built dist/ through package.json's
 * `exports`, Node's self-reference), as a user gets it, never from src/: run
 * `npx tsc -p tsconfig.build.json` first.
 *
 * Every check but the last runs on the float64 CPU backend, where a fit is deterministic to the
 * bit, so "the same" means equal. The last compares the WebGPU backend (float32) with the CPU
 * from the same start; its tolerances are given there.
 *
 * A later stochastic model (mini-batch k-means, online EM) keeps every check; for it "the same
 * seed gives the same result" stands in for "stepwise equals fit" where a step is not a pass.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BayesianGaussianMixture,
  GaussianMixture,
  KMeans,
  WebGpuEmError,
  createBackend,
  releaseSharedDevices,
  type Matrix,
  type Matrix64,
} from 'webgpu-em';

// ---------------------------------------------------------------------------------------------
// Data: Iris (150 x 4, K = 3) for the fits; seeded blobs of the same width for a refit on other data.

function readIris(): Matrix {
  const lines = readFileSync(new URL('../data/iris.csv', import.meta.url), 'utf8')
    .trim()
    .split('\n');
  const rows = lines.slice(1).map((line) => line.split(',').map(Number));
  return { data: Float32Array.from(rows.flat()), rows: rows.length, cols: rows[0].length };
}

const X = readIris();
const N = X.rows;
const D = X.cols;
const K = 3;
/**
 * Other data of the same width, as hard to fit as Iris (several iterations): Iris with its
 * columns in reverse order. The refit that is aborted must not move the model to it.
 */
const OTHER: Matrix = {
  data: X.data.map((_, i) => X.data[i - (i % D) + (D - 1 - (i % D))]),
  rows: N,
  cols: D,
};

// ---------------------------------------------------------------------------------------------
// The table.

type Values = ArrayLike<number>;
type Iteration = { readonly iteration: number };

/** What the contract uses of a model; every class in MODELS has it (checked by the compiler). */
interface ContractModel {
  fit(x: Matrix, options?: { signal?: AbortSignal; onIteration?: (r: Iteration) => void }): Promise<unknown>;
  initialize(x: Matrix): Promise<void>;
  step(): Promise<unknown>;
  readonly done: boolean;
  readonly nIter: number;
  readonly converged: boolean;
  readonly history: readonly unknown[];
  readonly labels: Int32Array;
  predict(x: Matrix): Promise<Int32Array>;
  score(x: Matrix): Promise<number>;
  scoreSamples(x: Matrix): Promise<Float64Array>;
  backendName(): Promise<string>;
  toJSON(): Record<string, unknown>;
  dispose(): void;
}

interface Entry {
  name: string;
  /** A model of K components from the contract's options (seed, backend, maxIter, tol, init...). */
  make(options: Record<string, unknown>): ContractModel;
  /** The model saved by toJSON(), read back. */
  fromJSON(json: unknown): ContractModel;
  /** The fitted parameters, each flat, with the length it must have. */
  parameters(m: ContractModel): Record<string, { values: Values; length: number }>;
  /** The options that start a fit from these labels of X (the same start on both backends). */
  startFrom(labels: Int32Array): Record<string, unknown>;
  /** The name of K and of one more option, each misspelt and what it should suggest. */
  misspelt: [wrong: string, suggested: string][];
  /** score(X) is the mean of scoreSamples(X) (the mixtures) or their sum (k-means). */
  score: 'mean' | 'sum';
  /** An N x K matrix per sample (predictProba, or k-means' distances), and what its rows hold. */
  perComponent(m: ContractModel, x: Matrix): Promise<Matrix64>;
  rows: 'probabilities' | 'distances';
  /** Draws n samples, where the model generates data. */
  sample?(m: ContractModel, n: number): { x: Matrix64; labels: Int32Array };
}

/** The covariances' length in each family (scikit-learn's shapes, flat). */
const COVARIANCE_LENGTH = { full: K * D * D, tied: D * D, diag: K * D, spherical: K } as const;
type Family = keyof typeof COVARIANCE_LENGTH;

const asGmm = (m: ContractModel) => m as unknown as GaussianMixture;
const asBgmm = (m: ContractModel) => m as unknown as BayesianGaussianMixture;
const asKm = (m: ContractModel) => m as unknown as KMeans;

function gaussianMixture(covarianceType: Family): Entry {
  return {
    name: `GaussianMixture (${covarianceType})`,
    make: (o) => new GaussianMixture({ nComponents: K, covarianceType, ...o }),
    fromJSON: (json) => GaussianMixture.fromJSON(json, { backend: 'cpu' }),
    parameters: (m) => ({
      weights: { values: asGmm(m).weights, length: K },
      means: { values: asGmm(m).means.data, length: K * D },
      covariances: { values: asGmm(m).covariances, length: COVARIANCE_LENGTH[covarianceType] },
      precisionsCholesky: {
        values: asGmm(m).precisionsCholesky,
        length: COVARIANCE_LENGTH[covarianceType],
      },
    }),
    startFrom: (labels) => ({ init: { labels } }),
    misspelt: [
      ['nComponent', 'nComponents'],
      ['random_state', 'seed'],
    ],
    score: 'mean',
    perComponent: (m, x) => asGmm(m).predictProba(x),
    rows: 'probabilities',
    sample: (m, n) => asGmm(m).sample(n),
  };
}

function bayesianMixture(covarianceType: Family): Entry {
  return {
    name: `BayesianGaussianMixture (${covarianceType})`,
    make: (o) => new BayesianGaussianMixture({ nComponents: K, covarianceType, ...o }),
    fromJSON: (json) => BayesianGaussianMixture.fromJSON(json, { backend: 'cpu' }),
    parameters: (m) => ({
      weights: { values: asBgmm(m).weights, length: K },
      means: { values: asBgmm(m).means.data, length: K * D },
      covariances: { values: asBgmm(m).covariances, length: COVARIANCE_LENGTH[covarianceType] },
      weightConcentration: { values: asBgmm(m).weightConcentration, length: 2 * K }, // Dirichlet process
      meanPrecision: { values: asBgmm(m).meanPrecision, length: K },
      degreesOfFreedom: { values: asBgmm(m).degreesOfFreedom, length: K },
    }),
    startFrom: (labels) => ({ init: { labels } }),
    misspelt: [
      ['nComponent', 'nComponents'],
      ['random_state', 'seed'],
    ],
    score: 'mean',
    perComponent: (m, x) => asBgmm(m).predictProba(x),
    rows: 'probabilities',
    sample: (m, n) => asBgmm(m).sample(n),
  };
}

const kmeans: Entry = {
  name: 'KMeans',
  make: (o) => new KMeans({ nClusters: K, ...o }),
  fromJSON: (json) => KMeans.fromJSON(json, { backend: 'cpu' }),
  parameters: (m) => ({ clusterCenters: { values: asKm(m).clusterCenters.data, length: K * D } }),
  startFrom: (labels) => ({ init: { means: centresOf(X, labels, K) } }),
  misspelt: [
    ['nCluster', 'nClusters'],
    ['random_state', 'seed'],
  ],
  score: 'sum',
  perComponent: (m, x) => asKm(m).transform(x),
  rows: 'distances',
};

const MODELS: Entry[] = [
  gaussianMixture('full'),
  gaussianMixture('tied'),
  gaussianMixture('diag'),
  gaussianMixture('spherical'),
  bayesianMixture('full'),
  bayesianMixture('tied'),
  bayesianMixture('diag'),
  bayesianMixture('spherical'),
  kmeans,
];

// ---------------------------------------------------------------------------------------------
// Helpers.

/** Each cluster's mean, K x D flat. */
function centresOf(x: Matrix, labels: Int32Array, k: number): Float64Array {
  const sums = new Float64Array(k * x.cols);
  const counts = new Float64Array(k);
  for (let r = 0; r < x.rows; r++) {
    counts[labels[r]]++;
    for (let j = 0; j < x.cols; j++) sums[labels[r] * x.cols + j] += x.data[r * x.cols + j];
  }
  return sums.map((s, i) => s / counts[Math.floor(i / x.cols)]);
}

/** A plain copy of every parameter (results are views that a later fit replaces). */
function snapshot(entry: Entry, m: ContractModel): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [name, p] of Object.entries(entry.parameters(m))) out[name] = Array.from(p.values);
  return out;
}

function allFinite(a: Values): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

function maxAbsDiff(a: Values, b: Values): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function expectLabels(labels: Int32Array, n: number) {
  expect(labels).toBeInstanceOf(Int32Array);
  expect(labels.length).toBe(n);
  for (const l of labels) expect(l >= 0 && l < K).toBe(true);
}

/** The error a call throws or rejects with. */
async function errorOf(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

/** The CPU backend (deterministic to the bit) and the default seed; other options at their defaults. */
const CPU = { backend: 'cpu', seed: 0 } as const;

// ---------------------------------------------------------------------------------------------
// The checks, on the float64 CPU backend.

it("'webgpu-em' resolves to the package itself: the built dist/, through package.json's exports", () => {
  const resolved = createRequire(import.meta.url).resolve('webgpu-em');
  expect(resolved).toBe(fileURLToPath(new URL('../dist/src/index.js', import.meta.url)));
});

describe.each(MODELS)('$name', (entry) => {
  const models: ContractModel[] = [];
  const make = (o: Record<string, unknown>) => {
    const m = entry.make(o);
    models.push(m);
    return m;
  };
  afterAll(() => models.forEach((m) => m.dispose()));

  let fitted: ContractModel;
  beforeAll(async () => {
    fitted = make(CPU);
    await fitted.fit(X);
  });

  it('fits: parameters, labels, nIter and history in their shapes, finite', () => {
    for (const [name, p] of Object.entries(entry.parameters(fitted))) {
      expect(p.values.length, name).toBe(p.length);
      expect(allFinite(p.values), name).toBe(true);
    }
    expectLabels(fitted.labels, N);
    expect(fitted.nIter).toBeGreaterThanOrEqual(1);
    expect(fitted.history.length).toBe(fitted.nIter);
    expect(typeof fitted.converged).toBe('boolean');
  });

  it('predict, the per-component matrix, score and scoreSamples: shapes, finite, consistent', async () => {
    const labels = await fitted.predict(X);
    expectLabels(labels, N);
    // The labels of the fit are the predictions on the training data under the final parameters.
    expect(Array.from(labels)).toEqual(Array.from(fitted.labels));

    const per = await entry.perComponent(fitted, X);
    expect([per.rows, per.cols]).toEqual([N, K]);
    expect(allFinite(per.data)).toBe(true);
    for (let r = 0; r < N; r++) {
      const row = per.row(r);
      // The predicted component is the most probable one, or the nearest centre.
      const best = entry.rows === 'probabilities' ? Math.max(...row) : Math.min(...row);
      expect(row[labels[r]]).toBe(best);
      if (entry.rows === 'probabilities') {
        for (const p of row) expect(p >= 0 && p <= 1).toBe(true);
        // Each row sums to 1 to float64 rounding (K terms, each exp of a normalised log).
        expect(Math.abs(row.reduce((s, p) => s + p, 0) - 1)).toBeLessThan(1e-12);
      } else {
        for (const v of row) expect(v).toBeGreaterThanOrEqual(0);
      }
    }

    const perSample = await fitted.scoreSamples(X);
    expect(perSample).toBeInstanceOf(Float64Array);
    expect(perSample.length).toBe(N);
    expect(allFinite(perSample)).toBe(true);
    const score = await fitted.score(X);
    expect(Number.isFinite(score)).toBe(true);
    const sum = perSample.reduce((s, v) => s + v, 0);
    // The same float64 values summed in another order: relative rounding of N ulps at most.
    const expected = entry.score === 'mean' ? sum / N : sum;
    expect(Math.abs(score - expected)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(expected)));
  });

  it('sample(n): n x D samples and n labels, finite, seeded (models that generate data)', () => {
    if (!entry.sample) {
      // k-means models no density to draw from (as scikit-learn's KMeans): no sample().
      expect((fitted as unknown as { sample?: unknown }).sample).toBeUndefined();
      return;
    }
    const draw = entry.sample!(fitted, 40);
    expect([draw.x.rows, draw.x.cols]).toEqual([40, D]);
    expect(allFinite(draw.x.data)).toBe(true);
    expectLabels(draw.labels, 40);
    // Drawn from the model's seeded stream: another model of the same fit draws the same rows.
    const again = entry.sample!(entry.fromJSON(JSON.parse(JSON.stringify(fitted))), 40);
    expect(Array.from(again.x.data)).toEqual(Array.from(draw.x.data));
  });

  it('the same seed reproduces the fit; another seed starts elsewhere', async () => {
    const same = make(CPU);
    await same.fit(X);
    expect(snapshot(entry, same)).toEqual(snapshot(entry, fitted));
    expect(Array.from(same.labels)).toEqual(Array.from(fitted.labels));
    expect(same.nIter).toBe(fitted.nIter);

    // After one iteration the fits still show their starts: seeds 0 and 1 draw different ones.
    const one = async (seed: number) => {
      const m = make({ ...CPU, seed, maxIter: 1 });
      await m.fit(X);
      return snapshot(entry, m);
    };
    expect(await one(1)).not.toEqual(await one(0));
    // And refitting the same model gives its fit again (every fit draws from the seed anew).
    await same.fit(X);
    expect(snapshot(entry, same)).toEqual(snapshot(entry, fitted));
  });

  // An abort at four moments of a refit (to other data): before it starts, after its first
  // iteration, after the one before its last and after its last (the promise is still pending:
  // the labels pass follows). The refit never completes: the model keeps the previous fit (its
  // parameters, labels and nIter) and the promise rejects with the signal's AbortError.
  it.each(['before the call', 'first', 'second-to-last', 'last'])(
    'an abort (%s iteration) during a refit keeps the previous fit',
    async (when) => {
      const probe = make(CPU);
      await probe.fit(OTHER);
      expect(probe.nIter).toBeGreaterThanOrEqual(3); // so that the moments differ
      const abortAfter = {
        'before the call': 0,
        first: 1,
        'second-to-last': probe.nIter - 1,
        last: probe.nIter,
      }[when]!;

      const m = make(CPU);
      await m.fit(X);
      const before = snapshot(entry, m);
      const labels = Array.from(m.labels);
      const nIter = m.nIter;
      const controller = new AbortController();
      if (abortAfter === 0) controller.abort();
      const error = await errorOf(() =>
        m.fit(OTHER, {
          signal: controller.signal,
          onIteration: (r) => {
            if (r.iteration === abortAfter) controller.abort();
          },
        }),
      );
      expect((error as Error).name).toBe('AbortError');
      expect(snapshot(entry, m)).toEqual(before);
      expect(Array.from(m.labels)).toEqual(labels);
      expect(m.nIter).toBe(nIter);
    },
  );

  it('unknown options are refused with the nearest name', async () => {
    for (const [wrong, suggested] of entry.misspelt) {
      const error = await errorOf(() => entry.make({ [wrong]: 3 }));
      expect(error).toBeInstanceOf(WebGpuEmError);
      expect((error as WebGpuEmError).kind).toBe('usage');
      expect((error as Error).message).toContain(`unknown option '${wrong}'; did you mean '${suggested}'?`);
    }
    const error = await errorOf(() => fitted.fit(X, { onIteraton: () => {} } as never));
    expect((error as Error).message).toContain("unknown option 'onIteraton'; did you mean 'onIteration'?");
  });

  it('toJSON / fromJSON round trip: the same labels, scores within 1e-12', async () => {
    const text = JSON.stringify(fitted);
    const loaded = entry.fromJSON(JSON.parse(text));
    models.push(loaded);
    // JSON writes each float64 exactly (shortest round-trip form): the parameters come back equal.
    expect(snapshot(entry, loaded)).toEqual(snapshot(entry, fitted));
    expect(Array.from(await loaded.predict(X))).toEqual(Array.from(await fitted.predict(X)));
    // Equal parameters give equal scores; 1e-12 leaves room for values derived anew on load
    // (precisions from covariances) differing in the last bits.
    const a = await fitted.scoreSamples(X);
    const b = await loaded.scoreSamples(X);
    expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(1e-12 * Math.max(1, ...Array.from(a, Math.abs)));
    const [sa, sb] = [await fitted.score(X), await loaded.score(X)];
    expect(Math.abs(sa - sb)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(sa)));
    // A second trip writes the same file.
    expect(JSON.stringify(loaded)).toBe(text);
  });

  it('stepwise (initialize, step until done) equals fit', async () => {
    const stepwise = make(CPU);
    await stepwise.initialize(X);
    let steps = 0;
    while (!stepwise.done) {
      await stepwise.step();
      steps++;
    }
    expect(steps).toBe(fitted.nIter);
    expect(stepwise.nIter).toBe(fitted.nIter);
    expect(stepwise.converged).toBe(fitted.converged);
    expect(snapshot(entry, stepwise)).toEqual(snapshot(entry, fitted));
    expect(Array.from(await stepwise.predict(X))).toEqual(Array.from(fitted.labels));
  });
});

// ---------------------------------------------------------------------------------------------
// CPU equals GPU from the same start.
//
// Tolerances, as in gpu-vs-cpu.gpu.test.ts: the GPU holds data and parameters in float32 (unit
// roundoff 6e-8) and sums in tiles, so one pass's statistics agree to ~1e-5 relative and the
// mean log-likelihood to ~1e-6; over 10 iterations from the same start the difference can grow
// a little along the trajectory. Fits are compared to 1e-4 relative in the objective (lower
// bound, k-means inertia) and 1e-3 of the data's scale (Iris: values up to 7.9) in every
// parameter; the per-sample log-densities to 1e-3 of their scale. A label may differ only where
// the sample is near a tie: its two best probabilities (or distances) within 1e-3 of each other
// on the CPU. (Measured on llvmpipe: objectives within 1e-7 relative, parameters within 2e-7,
// per-sample scores within 4e-6 of a scale of ~10, no label differs: the tolerances are the
// suite's, gpu-vs-cpu.gpu.test.ts's, not tuned to this data.)

describe('CPU equals GPU from the same start', () => {
  beforeAll(async () => {
    // No adapter is a failure, never a skip (as test/helpers/gpu.ts; scripts/setup.sh installs one).
    try {
      (await createBackend('webgpu')).dispose();
    } catch (error) {
      throw new Error(
        `GPU tests need a WebGPU adapter and none was found (${(error as Error).message}). ` +
          'Run `bash scripts/setup.sh` to install a software Vulkan driver.',
        { cause: error },
      );
    }
  });
  afterAll(() => releaseSharedDevices());

  /**
   * The start, the same for every model and both backends: the labels of one k-means iteration
   * from k-means++ (CPU), so that k-means too has iterations left to run from it.
   */
  let start: Int32Array;
  beforeAll(async () => {
    const km = new KMeans({ nClusters: K, backend: 'cpu', maxIter: 1 });
    start = (await km.fit(X)).labels.slice();
    km.dispose();
  });

  const SCALE = Math.max(...Array.from(X.data, Math.abs));

  it.each(MODELS)('$name', async (entry) => {
    const options = { ...entry.startFrom(start), seed: 0, tol: 0, maxIter: 10 };
    const cpu = entry.make({ ...options, backend: 'cpu' });
    const gpu = entry.make({ ...options, backend: 'webgpu' });
    try {
      await cpu.fit(X);
      await gpu.fit(X);
      expect(await gpu.backendName()).toBe('webgpu');
      expect(gpu.nIter).toBe(cpu.nIter);
      expect(cpu.nIter).toBeGreaterThanOrEqual(2); // the comparison covers iterations, not only the start

      const objective = (m: ContractModel) =>
        entry.rows === 'distances' ? asKm(m).inertia : asGmm(m).lowerBound;
      const [oc, og] = [objective(cpu), objective(gpu)];
      expect(Number.isFinite(og)).toBe(true);
      expect(Math.abs(oc - og)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(oc)));

      const pc = entry.parameters(cpu);
      const pg = entry.parameters(gpu);
      for (const name of Object.keys(pc)) {
        // Concentrations and degrees of freedom count samples (up to N): compare them relatively.
        const scale = ['weightConcentration', 'meanPrecision', 'degreesOfFreedom'].includes(name)
          ? Math.max(...Array.from(pc[name].values, Math.abs))
          : name === 'precisionsCholesky'
            ? Math.max(...Array.from(pc[name].values, Math.abs)) // 1/sigma: its own scale
            : SCALE;
        expect(maxAbsDiff(pc[name].values, pg[name].values), name).toBeLessThanOrEqual(1e-3 * scale);
      }

      const sc = await cpu.scoreSamples(X);
      const sg = await gpu.scoreSamples(X);
      expect(maxAbsDiff(sc, sg)).toBeLessThanOrEqual(1e-3 * Math.max(1, ...Array.from(sc, Math.abs)));

      const per = await entry.perComponent(cpu, X);
      const lc = await cpu.predict(X);
      const lg = await gpu.predict(X);
      let differing = 0;
      for (let r = 0; r < N; r++) {
        if (lc[r] === lg[r]) continue;
        differing++;
        const row = Array.from(per.row(r)).sort((a, b) => a - b);
        const gap = entry.rows === 'probabilities' ? row[K - 1] - row[K - 2] : row[1] - row[0];
        expect(gap, `sample ${r} changed component away from a tie`).toBeLessThan(1e-3);
      }
      expect(differing).toBeLessThanOrEqual(2);
    } finally {
      cpu.dispose();
      gpu.dispose();
    }
  });
});
