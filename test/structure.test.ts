import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CpuBackend } from '../src/backends/cpu/cpu-backend.js';
import { arrayLength, FAMILIES, family, isDiagonal } from '../src/core/families.js';
import { packedIndex, packedSize } from '../src/core/linalg.js';
import { COVARIANCE_TYPES, nearest } from '../src/core/names.js';
import { Random } from '../src/core/random.js';
import { makeBlobs } from '../src/data/synthetic.js';
import { GaussianMixture, KMeans, selectGaussianMixture, WebGpuEmError } from '../src/index.js';

const cpu = { backend: 'cpu' as const };

describe('the covariance family table', () => {
  /** K random symmetric positive definite D x D matrices, flat. */
  function spdMatrices(k: number, d: number, rng: Random): Float64Array {
    const out = new Float64Array(k * d * d);
    for (let c = 0; c < k; c++) {
      const a = Float64Array.from({ length: d * d }, () => rng.normal());
      for (let i = 0; i < d; i++)
        for (let j = 0; j < d; j++) {
          let s = i === j ? d : 0;
          for (let t = 0; t < d; t++) s += a[i * d + t] * a[j * d + t];
          out[c * d * d + i * d + j] = s;
        }
    }
    return out;
  }

  it('has one entry per covariance type, and only diag and spherical are diagonal', () => {
    expect(Object.keys(FAMILIES).sort()).toEqual([...COVARIANCE_TYPES].sort());
    expect(COVARIANCE_TYPES.filter(isDiagonal)).toEqual(['diag', 'spherical']);
    expect(() => family('banana' as never)).toThrow(/unknown covariance type 'banana'/);
  });

  it.each(COVARIANCE_TYPES)('%s: shapes, conversions and per-component covariances agree', (type) => {
    const [k, d] = [3, 4];
    const f = family(type);
    const full = spdMatrices(k, d, new Random(7));
    const natural = f.fromFullMatrices(full, k, d);
    expect(natural.length).toBe(arrayLength(type, k, d));
    const stored = f.fromArray(natural, k, d);
    expect(stored.length).toBe(f.storedLength(k, d));
    expect(Array.from(f.toArray(stored, k, d))).toEqual(Array.from(natural));
    for (let c = 0; c < k; c++) {
      const packed = f.componentCovariance(stored, c, d);
      expect(packed.length).toBe(packedSize(d));
      const source = type === 'tied' ? 0 : c;
      // Every family keeps the diagonal (spherical: the first variance of each component).
      for (let i = 0; i < d; i++) {
        const expected = type === 'spherical' ? full[source * d * d] : full[source * d * d + i * d + i];
        expect(packed[packedIndex(i, i)]).toBe(expected);
      }
      // Setting a component's covariance to what it is leaves storage unchanged (spherical: d equal variances).
      const copy = Float64Array.from(stored);
      f.setComponentCovariance(copy, c, d, packed);
      expect(Array.from(copy)).toEqual(Array.from(stored));
    }
    // Precision factors: log det of the factor is -1/2 log det of the covariance.
    const logDet = new Float64Array(k);
    const factors = f.precisionFactors(stored, k, d, logDet);
    expect(factors.length).toBe(k * (f.statistics === 'diagonal' ? d : packedSize(d)));
    for (let c = 0; c < k; c++) {
      const packed = f.componentCovariance(stored, c, d);
      let det = 1;
      if (f.statistics === 'diagonal') for (let i = 0; i < d; i++) det *= packed[packedIndex(i, i)];
      else det = determinant(packed, d);
      expect(logDet[c]).toBeCloseTo(-0.5 * Math.log(det), 10);
    }
  });

  function determinant(packed: Float64Array, d: number): number {
    const m = Array.from({ length: d }, (_, i) =>
      Array.from({ length: d }, (_, j) => packed[packedIndex(Math.max(i, j), Math.min(i, j))]),
    );
    let det = 1;
    for (let c = 0; c < d; c++) {
      det *= m[c][c];
      for (let r = c + 1; r < d; r++) {
        const f = m[r][c] / m[c][c];
        for (let j = c; j < d; j++) m[r][j] -= f * m[c][j];
      }
    }
    return det;
  }
});

describe('option names', () => {
  function usage(f: () => unknown): string {
    try {
      f();
    } catch (error) {
      expect(error).toBeInstanceOf(WebGpuEmError);
      expect((error as WebGpuEmError).kind).toBe('usage');
      return (error as Error).message;
    }
    throw new Error('no error thrown');
  }

  it('refuses unknown option keys and suggests the nearest known name', () => {
    expect(usage(() => new GaussianMixture({ nComponents: 2, max_iter: 5 } as never))).toMatch(
      /GaussianMixture: unknown option 'max_iter'; did you mean 'maxIter'\?/,
    );
    expect(usage(() => new KMeans({ nClusters: 2, n_init: 3 } as never))).toMatch(
      /KMeans: unknown option 'n_init'; did you mean 'nInit'\?/,
    );
    expect(usage(() => new GaussianMixture({ nComponents: 2, covariance_type: 'diag' } as never))).toMatch(
      /did you mean 'covarianceType'/,
    );
    expect(usage(() => new GaussianMixture({ nComponents: 2, banana: 1 } as never))).toMatch(
      /unknown option 'banana'; the options are nComponents, covarianceType/,
    );
  });

  it('suggests the nearest choice for a misspelt value', () => {
    expect(usage(() => new GaussianMixture({ nComponents: 2, covarianceType: 'diagonal' as never }))).toMatch(
      /covarianceType must be 'full', 'tied', 'diag' or 'spherical', got 'diagonal'/,
    );
    expect(usage(() => new GaussianMixture({ nComponents: 2, init: 'kmeans+' as never }))).toMatch(
      /did you mean 'kmeans\+\+'\?/,
    );
    expect(nearest('backnd', ['backend', 'seed'])).toBe('backend');
    expect(nearest('zzzz', ['backend', 'seed'])).toBeNull();
  });

  it('selectGaussianMixture refuses unknown keys too', async () => {
    await expect(
      selectGaussianMixture([[1], [2], [3]], { nComponents: [1], criteria: 'aic' } as never),
    ).rejects.toThrow(/unknown option 'criteria'; did you mean 'criterion'\?/);
  });
});

describe('samples bound once per fit', () => {
  afterEach(() => vi.restoreAllMocks());
  const x = makeBlobs({ n: 300, d: 2, k: 3, seed: 2 });

  it('nInit restarts and a k-means initialisation upload the samples once', async () => {
    const binds = vi.spyOn(CpuBackend.prototype, 'bindData');
    const g = new GaussianMixture({ nComponents: 3, ...cpu, nInit: 3, init: 'kmeans' });
    await g.fit(x);
    expect(binds).toHaveBeenCalledTimes(1);
    g.dispose();
  });

  it('model selection uploads the samples once for every candidate, fit and score', async () => {
    const binds = vi.spyOn(CpuBackend.prototype, 'bindData');
    const { scores, model } = await selectGaussianMixture(x, {
      nComponents: [1, 2, 3],
      covarianceTypes: ['full', 'diag'],
      ...cpu,
    });
    expect(scores).toHaveLength(6);
    expect(binds).toHaveBeenCalledTimes(1);
    // The winner is a model of its own: predicting binds the data again, on its backend.
    await model.predict(x);
    expect(binds).toHaveBeenCalledTimes(2);
    model.dispose();
  });
});

describe('KMeans step by step', () => {
  it('initialize, step until done, gives what fit() gives', async () => {
    const x = makeBlobs({ n: 500, d: 3, k: 4, seed: 11 });
    const a = new KMeans({ nClusters: 4, ...cpu, seed: 3 });
    await a.fit(x);
    const b = new KMeans({ nClusters: 4, ...cpu, seed: 3 });
    expect(b.done).toBe(true);
    await expect(b.step()).rejects.toThrow(/step\(\) needs initialize\(X\) first/);
    await b.initialize(x);
    expect(b.done).toBe(false);
    const seen = [];
    while (!b.done) seen.push(await b.step());
    expect(seen.map((r) => r.inertia)).toEqual(a.history.map((r) => r.inertia));
    expect(Array.from(b.clusterCenters.data)).toEqual(Array.from(a.clusterCenters.data));
    expect(b.inertia).toBe(a.inertia);
    expect(b.nIter).toBe(a.nIter);
    await expect(b.step()).rejects.toThrow(/the fit is done/);
    b.dispose();
    a.dispose();
  });

  it('repeated initialize() calls draw the nInit restarts', async () => {
    const x = makeBlobs({ n: 400, d: 2, k: 5, seed: 8 });
    const seeded = new KMeans({ nClusters: 5, ...cpu, nInit: 3, seed: 4, init: 'random' });
    await seeded.fit(x);
    const inertias = [];
    for (let i = 0; i < 3; i++) {
      const km = new KMeans({ nClusters: 5, ...cpu, seed: 4, init: 'random' });
      for (let j = 0; j <= i; j++) await km.initialize(x);
      while (!km.done) await km.step();
      inertias.push(km.inertia);
      km.dispose();
    }
    expect(seeded.inertia).toBe(Math.min(...inertias));
  });
});

describe('import cycles', () => {
  let dir: string | null = null;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = null;
  });
  const check = (...args: string[]) =>
    spawnSync(process.execPath, ['scripts/check-cycles.mjs', ...args], { encoding: 'utf8' });

  it('the sources have none', () => {
    const r = check();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('a cycle through a type-only import or a dynamic import fails the check, naming the loop', () => {
    dir = mkdtempSync(join(tmpdir(), 'cycles-'));
    mkdirSync(join(dir, 'low'));
    writeFileSync(join(dir, 'a.ts'), "import { b } from './low/b.js';\nexport const a = b + 1;\n");
    writeFileSync(join(dir, 'low', 'b.ts'), "import type { C } from '../c.js';\nexport const b: C = 1;\n");
    writeFileSync(
      join(dir, 'c.ts'),
      "export type C = number;\nexport const load = () => import('./a.js');\n",
    );
    const r = check(dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/import cycle: .*a\.ts -> .*low\/b\.ts -> .*c\.ts -> .*a\.ts/);
    // Breaking the loop (no dynamic import back up) passes.
    writeFileSync(join(dir, 'c.ts'), 'export type C = number;\n');
    expect(check(dir).status).toBe(0);
  });
});

describe('layers', () => {
  /** The src/ files (relative, with .js as .ts) that the files under `dir` import. */
  function importsOf(dir: string): Array<{ file: string; target: string }> {
    const found: Array<{ file: string; target: string }> = [];
    const specifiers =
      /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)/g;
    for (const name of readdirSync(dir, { recursive: true }) as string[]) {
      if (!name.endsWith('.ts')) continue;
      const file = join(dir, name);
      for (const m of readFileSync(file, 'utf8').matchAll(specifiers)) {
        const spec = m[1] ?? m[2];
        if (!spec.startsWith('.')) continue;
        found.push({ file, target: relative('.', resolve(dirname(file), spec)).replace(/\.js$/, '.ts') });
      }
    }
    return found;
  }

  it('src/models imports nothing from src/io: the models own their JSON, io reads and writes bytes', () => {
    const imports = importsOf('src/models');
    expect(imports.length).toBeGreaterThan(0);
    expect(
      imports.filter((i) => /^src[\\/]io[\\/]/.test(i.target)).map((i) => `${i.file} -> ${i.target}`),
    ).toEqual([]);
  });
});

describe('file sizes', () => {
  it('no source file in src/ is over 450 lines (generated code aside)', () => {
    const root = resolve(dirname(new URL(import.meta.url).pathname), '..', 'src');
    const long: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.generated.ts')) {
          const lines = readFileSync(path, 'utf8').split('\n').length - 1;
          if (lines > 450) long.push(`${relative(root, path)}: ${lines} lines`);
        }
      }
    };
    walk(root);
    expect(long).toEqual([]);
  });
});
