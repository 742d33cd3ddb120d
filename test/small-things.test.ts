// Small promises a user meets first: the 'gpu' alias, suggestions of scikit-learn's names, the
// message for flat data, k-means' score as a sum, one result per standard output, other names
// of standard output, and Fortran-order .npy files. The CLI runs as a shell runs it: the built
// bin/webgpu-em.js, on the CPU backend.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createBackend } from '../src/backends/select.js';
import { BACKEND_CHOICES, type BackendChoice } from '../src/core/names.js';
import type { RowChunk } from '../src/data/row-source.js';
import { parseCsv } from '../src/io/csv.js';
import { encodeNpy, parseNpy } from '../src/io/npy.js';
import { openDataSource } from '../src/io/row-files.js';
import {
  BayesianGaussianMixture,
  GaussianMixture,
  KMeans,
  readNpyBlob,
  WebGpuEmError,
} from '../src/index.js';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'bin/webgpu-em.js');
const iris = join(root, 'data/iris.csv');
const work = mkdtempSync(join(tmpdir(), 'webgpu-em-small-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs a shell script in the work folder with $CLI set to the command; a hang is a failure. */
function sh(script: string) {
  const r = spawnSync('bash', ['-c', `set -o pipefail\n${script}`], {
    cwd: work,
    env: { ...process.env, CLI: `"${process.execPath}" "${bin}"`, IRIS: iris },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The usage error a call throws (a failure when it throws none or another kind). */
async function usageMessage(f: () => unknown): Promise<string> {
  try {
    await f();
  } catch (e) {
    expect(e).toBeInstanceOf(WebGpuEmError);
    expect((e as WebGpuEmError).kind).toBe('usage');
    return (e as Error).message;
  }
  throw new Error('expected a usage error');
}

/** The error a call throws, as `kind: message`. */
async function errorOf(f: () => unknown): Promise<string> {
  try {
    await f();
  } catch (e) {
    expect(e).toBeInstanceOf(WebGpuEmError);
    return `${(e as WebGpuEmError).kind}: ${(e as Error).message}`;
  }
  throw new Error('expected an error');
}

const irisMatrix = parseCsv(readFileSync(iris, 'utf8')).matrix;

describe("'gpu' is another name of the webgpu backend", () => {
  it('is a choice of the name table', () => {
    expect(BACKEND_CHOICES).toContain('gpu');
  });

  it('is accepted by every model', () => {
    for (const make of [
      () => new GaussianMixture({ nComponents: 2, backend: 'gpu' }),
      () => new BayesianGaussianMixture({ nComponents: 2, backend: 'gpu' }),
      () => new KMeans({ nClusters: 2, backend: 'gpu' }),
    ])
      make().dispose();
  });

  it('fails as webgpu does where no adapter matches, never falling back to the CPU', async () => {
    const options = { adapter: 'no adapter has this name' };
    // 'auto' falls back (said once on stderr); 'webgpu', and so 'gpu', refuse.
    const auto = await createBackend('auto', options);
    expect(auto.name).toBe('cpu');
    auto.dispose();
    const webgpu = await errorOf(() => createBackend('webgpu', options));
    expect(webgpu).toMatch(/^gpu: /);
    expect(await errorOf(() => createBackend('gpu' as BackendChoice, options))).toBe(webgpu);
  });

  it('--backend gpu is accepted on the command line; an unknown backend still is not', () => {
    // --adapter naming none: the GPU path is taken (and refuses), where cpu would have fitted.
    const r = sh('eval $CLI gmm "$IRIS" -k 2 --backend gpu --adapter no-such-adapter');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^webgpu-em: error: no WebGPU adapter/);
    const bad = sh('eval $CLI gmm "$IRIS" -k 2 --backend gpus');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--backend .*'gpus'.*did you mean gpu\?/);
  });
});

describe("scikit-learn's names suggest ours", () => {
  it.each([
    ['randomState', 'seed'],
    ['random_state', 'seed'],
    ['n_components', 'nComponents'],
    ['max_iter', 'maxIter'],
    ['n_init', 'nInit'],
    ['reg_covar', 'regCovar'],
    ['covariance_type', 'covarianceType'],
    ['warm_start', 'warmStart'],
    ['init_params', 'init'],
  ])('GaussianMixture and BayesianGaussianMixture: %s suggests %s', async (theirs, ours) => {
    for (const Model of [GaussianMixture, BayesianGaussianMixture]) {
      const message = await usageMessage(() => new Model({ nComponents: 2, [theirs]: 1 } as never));
      expect(message).toContain(`unknown option '${theirs}'; did you mean '${ours}'?`);
    }
  });

  it('KMeans: n_clusters, random_state and init_params suggest nClusters, seed and init', async () => {
    for (const [theirs, ours] of [
      ['n_clusters', 'nClusters'],
      ['random_state', 'seed'],
      ['init_params', 'init'],
    ]) {
      const message = await usageMessage(() => new KMeans({ nClusters: 2, [theirs]: 1 } as never));
      expect(message).toContain(`unknown option '${theirs}'; did you mean '${ours}'?`);
    }
  });

  it("covarianceType 'diagonal' suggests 'diag'", async () => {
    const message = await usageMessage(
      () => new GaussianMixture({ nComponents: 2, covarianceType: 'diagonal' as never }),
    );
    expect(message).toBe(
      "covarianceType must be 'full', 'tied', 'diag' or 'spherical', got 'diagonal'; did you mean 'diag'?",
    );
  });

  it.each([
    ['gmm "$IRIS" -k 2 --random-state 3', '--random-state', '--seed'],
    ['gmm "$IRIS" -k 2 --random_state 3', '--random_state', '--seed'],
    ['gmm "$IRIS" --n_components 2', '--n_components', '--n-components'],
    ['gmm "$IRIS" -k 2 --init_params random', '--init_params', '--init'],
    ['kmeans "$IRIS" --n_clusters 2', '--n_clusters', '--n-clusters'],
  ])('the command line: webgpu-em %s, for %s, suggests %s', (args, theirs, ours) => {
    const r = sh(`eval $CLI ${args} --backend cpu`);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`unknown option ${theirs}; did you mean ${ours}?`);
  });

  it('the command line: --covariance diagonal suggests diag', () => {
    const r = sh('eval $CLI gmm "$IRIS" -k 2 --covariance diagonal --backend cpu');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("got 'diagonal'; did you mean diag?");
  });
});

describe('flat data without a shape', () => {
  const expected =
    /^data: X is a (Float32Array of 10 values|Float64Array of 10 values|flat array of 10 numbers), with no shape; pass \{ data: Float32Array, rows, cols \} \(row-major, rows x cols values\) or number\[\]\[\] \(one array per sample\)$/;
  it.each([
    ['a Float32Array', () => new Float32Array(10)],
    ['a Float64Array', () => new Float64Array(10)],
    ['a flat number[]', () => Array.from({ length: 10 }, (_, i) => i)],
  ])('fit(%s) says to pass { data, rows, cols }', async (_, data) => {
    for (const make of [
      () => new GaussianMixture({ nComponents: 2, backend: 'cpu' }),
      () => new BayesianGaussianMixture({ nComponents: 2, backend: 'cpu' }),
      () => new KMeans({ nClusters: 2, backend: 'cpu' }),
    ]) {
      const model = make();
      try {
        expect(await errorOf(() => model.fit(data() as never))).toMatch(expected);
      } finally {
        model.dispose();
      }
    }
  });
});

describe("k-means' score is minus the inertia, a sum over the rows, in the API and the CLI", () => {
  it('KMeans.score is the sum of scoreSamples, and the inertia of the training data', async () => {
    using km = new KMeans({ nClusters: 3, backend: 'cpu' });
    await km.fit(irisMatrix);
    const perRow = await km.scoreSamples(irisMatrix);
    const sum = perRow.reduce((a, b) => a + b, 0);
    expect(await km.score(irisMatrix)).toBeCloseTo(sum, 6);
    expect(await km.score(irisMatrix)).toBeCloseTo(-km.inertia, 6);
  });

  it('webgpu-em score prints the same sum for a k-means model (a mixture: the mean)', async () => {
    const fit = sh('eval $CLI kmeans "$IRIS" -k 3 --backend cpu --out km.json --quiet');
    expect(fit.code).toBe(0);
    const saved = JSON.parse(readFileSync(join(work, 'km.json'), 'utf8'));
    using km = KMeans.fromJSON(saved, { backend: 'cpu' });
    const cli = sh('eval $CLI score km.json "$IRIS" --backend cpu');
    expect(cli.code).toBe(0);
    const expected = await km.score(irisMatrix);
    expect(Number(cli.stdout)).toBeCloseTo(expected, 4);
    // And the same streamed, a block at a time.
    const streamed = sh('eval $CLI score km.json "$IRIS" --backend cpu --stream');
    expect(Number(streamed.stdout)).toBeCloseTo(expected, 4);
    // `info` says what score prints.
    expect(sh('eval $CLI info km.json').stdout).toContain('score: minus the inertia: the sum over rows');

    expect(sh('eval $CLI gmm "$IRIS" -k 2 --backend cpu --out gmm.json --quiet').code).toBe(0);
    using gmm = GaussianMixture.fromJSON(readFileSync(join(work, 'gmm.json'), 'utf8'), { backend: 'cpu' });
    const mean = Number(sh('eval $CLI score gmm.json "$IRIS" --backend cpu').stdout);
    expect(mean).toBeCloseTo(await gmm.score(irisMatrix), 6);
  });
});

describe('one result per standard output', () => {
  sh('eval $CLI gmm "$IRIS" -k 3 --backend cpu --out gmm-3.json --quiet');
  it.each([
    ['gmm "$IRIS" -k 2 --json --labels -', '--labels - and --json'],
    ['kmeans "$IRIS" -k 2 --json --labels /dev/stdout', '--labels /dev/stdout and --json'],
    ['select "$IRIS" --k-range 1..2 --json --labels -', '--labels - and --json'],
    ['gmm "$IRIS" -k 2 --out /dev/stdout --labels -', '--labels - and --out /dev/stdout'],
  ])('webgpu-em %s is refused in one line before any work', (args, what) => {
    // A data file that does not exist: refused before it is even opened.
    const r = sh(`eval $CLI ${args.replace('"$IRIS"', 'missing.csv')} --backend cpu`);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `webgpu-em: error: ${what} both write to standard output; write the labels to a file (--labels FILE)${what.includes('--out') ? ' or the model to one (--out FILE)' : ''}\n`,
    );
  });

  it.each(['/dev/stdout', '/dev/fd/1', '/proc/self/fd/1'])(
    '--labels %s writes the labels alone, as --labels - does',
    (path) => {
      const dash = sh('eval $CLI gmm "$IRIS" -k 3 --backend cpu --labels -');
      expect(dash.code).toBe(0);
      expect(dash.stdout.trim().split('\n')).toHaveLength(150);
      // Through a pipe and into a file alike.
      const piped = sh(`eval $CLI gmm "$IRIS" -k 3 --backend cpu --labels ${path} | cat`);
      expect(piped.code).toBe(0);
      expect(piped.stdout).toBe(dash.stdout);
      const file = sh(`eval $CLI gmm "$IRIS" -k 3 --backend cpu --labels ${path} > into.txt && cat into.txt`);
      expect(file.stdout).toBe(dash.stdout);
      const perSample = sh(`eval $CLI score gmm-3.json "$IRIS" --backend cpu --per-sample ${path}`);
      expect(perSample.code).toBe(0);
      expect(perSample.stdout).toBe(
        sh('eval $CLI score gmm-3.json "$IRIS" --backend cpu --per-sample -').stdout,
      );
    },
  );
});

describe('Fortran-order .npy files', () => {
  const rows = 7;
  const cols = 3;
  // Values that tell every (row, column) apart: 10 r + c (+ 0.5 for the floats).
  const value = (r: number, c: number, float: boolean) => 10 * r + c + (float ? 0.5 : 0) - 20;

  /** A .npy file of `descr` in C or Fortran order (NumPy's header, then the values). */
  function npyFile(descr: '<f4' | '<f8' | '<i2', fortran: boolean): Uint8Array {
    const size = { '<f4': 4, '<f8': 8, '<i2': 2 }[descr];
    const dict = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': (${rows}, ${cols}), }`;
    const pad = (64 - ((10 + dict.length + 1) % 64)) % 64;
    const header = dict + ' '.repeat(pad) + '\n';
    const out = new Uint8Array(10 + header.length + rows * cols * size);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
    for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
    const view = new DataView(out.buffer, 10 + header.length);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const at = (fortran ? c * rows + r : r * cols + c) * size;
        const v = value(r, c, descr !== '<i2');
        if (descr === '<f4') view.setFloat32(at, v, true);
        else if (descr === '<f8') view.setFloat64(at, v, true);
        else view.setInt16(at, v, true);
      }
    }
    return out;
  }

  async function streamed(file: string, blockBytes: number, columns?: string[]): Promise<RowChunk[]> {
    const source = await openDataSource(file, {
      blockBytes,
      ...(columns ? { select: { columns } } : {}),
    });
    const chunks: RowChunk[] = [];
    try {
      for await (const chunk of source.source()) chunks.push(chunk);
    } finally {
      await source.release();
    }
    return chunks;
  }

  const joined = (chunks: RowChunk[]) => Float32Array.from(chunks.flatMap((c) => Array.from(c.data)));

  it.each(['<f4', '<f8', '<i2'] as const)('%s: read whole, the values of the C-order file', (descr) => {
    const c = parseNpy(npyFile(descr, false), 'c.npy');
    const f = parseNpy(npyFile(descr, true), 'f.npy');
    expect(f.rows).toBe(rows);
    expect(f.cols).toBe(cols);
    expect(Array.from(f.data)).toEqual(Array.from(c.data));
    expect(f.data[1 * cols + 2]).toBe(value(1, 2, descr !== '<i2'));
  });

  it.each(['<f4', '<f8', '<i2'] as const)(
    '%s: streamed, blocks of 2 rows (a block ends mid-column), the values of the C-order file',
    async (descr) => {
      const size = { '<f4': 4, '<f8': 8, '<i2': 2 }[descr];
      const cFile = join(work, `c${size}.npy`);
      const fFile = join(work, `f${size}.npy`);
      writeFileSync(cFile, npyFile(descr, false));
      writeFileSync(fFile, npyFile(descr, true));
      const block = 2 * cols * size; // 2 rows a block: 7 rows end in a block of 1
      const c = await streamed(cFile, block);
      const f = await streamed(fFile, block);
      expect(f.map((x) => x.rows)).toEqual([2, 2, 2, 1]);
      expect(f.map((x) => x.cols)).toEqual(c.map((x) => x.cols));
      expect(Array.from(joined(f))).toEqual(Array.from(joined(c)));
      // A column selection reads the same columns.
      const picked = await streamed(fFile, block, ['3', '1']);
      expect(Array.from(joined(picked))).toEqual(
        Array.from(joined(await streamed(cFile, block, ['3', '1']))),
      );
    },
  );

  it('a non-finite value is named by its row and column', async () => {
    const bytes = npyFile('<f4', true);
    const dataStart = bytes.length - rows * cols * 4;
    // Row 5, column 2 of a column-major file.
    new DataView(bytes.buffer).setFloat32(dataStart + (2 * rows + 5) * 4, NaN, true);
    expect(await errorOf(() => parseNpy(bytes, 'nan.npy'))).toMatch(
      /nan\.npy: non-finite value NaN at row 5 \(0-based\), column 2 \(0-based\)/,
    );
    writeFileSync(join(work, 'nan.npy'), bytes);
    expect(await errorOf(() => streamed(join(work, 'nan.npy'), 2 * cols * 4))).toMatch(
      /row 5 \(0-based\), column 2 \(0-based\)/,
    );
  });

  /** The bytes as a File (a browser's file input gives one) when named, else as a Blob. */
  const asBlob = (bytes: Uint8Array, name?: string) => {
    const part = bytes as Uint8Array<ArrayBuffer>;
    return name ? new File([part], name) : new Blob([part]);
  };

  it.each(['<f4', '<f8', '<i2'] as const)(
    '%s: read from a Blob in pieces (the demo reads a File so), the values of the C-order file',
    async (descr) => {
      const reference = parseNpy(npyFile(descr, false), 'c.npy');
      for (const fortran of [false, true]) {
        const fractions: number[] = [];
        const shapes: number[][] = [];
        // 5-byte pieces: a row a piece in C order, one or two values of a column in Fortran order
        // (a piece is never less than a row or a value).
        const m = await readNpyBlob(asBlob(npyFile(descr, fortran), 'f.npy'), {
          pieceBytes: 5,
          onShape: (r, c) => shapes.push([r, c]),
          onProgress: (f) => fractions.push(f),
        });
        expect([m.rows, m.cols]).toEqual([rows, cols]);
        expect(Array.from(m.data)).toEqual(Array.from(reference.data));
        expect(shapes).toEqual([[rows, cols]]);
        expect(fractions.at(-1)).toBe(1);
        expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
      }
    },
  );

  it('from a Blob: the errors of parseNpy, the File’s name in them; onShape refuses before the values', async () => {
    const bytes = npyFile('<f4', true);
    new DataView(bytes.buffer).setFloat32(bytes.length - rows * cols * 4 + (2 * rows + 5) * 4, NaN, true);
    expect(await errorOf(() => readNpyBlob(asBlob(bytes, 'nan.npy'), { pieceBytes: 8 }))).toMatch(
      /^data: nan\.npy: non-finite value NaN at row 5 \(0-based\), column 2 \(0-based\)/,
    );
    const cut = npyFile('<f8', false).slice(0, -1);
    expect(await errorOf(() => readNpyBlob(asBlob(cut)))).toMatch(/^data: <input>: truncated \.npy file/);
    let progressed = false;
    const big = readNpyBlob(asBlob(npyFile('<f4', true)), {
      onShape: () => {
        throw new Error('too large for this page');
      },
      onProgress: () => (progressed = true),
    });
    await expect(big).rejects.toThrow('too large for this page');
    expect(progressed).toBe(false);
    // A 1-D array is one column with `vector`, refused without.
    const vector = encodeNpy(Float32Array.of(1, 2, 3), 3, 1);
    const text = new TextDecoder().decode(vector.subarray(10, 80));
    vector.set(new TextEncoder().encode(text.replace('(3, 1)', '(3,)  ')), 10);
    expect(Array.from((await readNpyBlob(asBlob(vector), { vector: true })).data)).toEqual([1, 2, 3]);
    expect(await errorOf(() => readNpyBlob(asBlob(vector)))).toMatch(/a 1-D array/);
  });

  it('the command line fits a Fortran-order file as its C-order copy', () => {
    const m = irisMatrix;
    writeFileSync(join(work, 'iris-c.npy'), encodeNpy(m.data, m.rows, m.cols));
    // The same values column-major, with NumPy's header for it.
    const c = encodeNpy(m.data, m.rows, m.cols);
    const f = c.slice();
    const text = new TextDecoder().decode(f.subarray(10, 80));
    f.set(new TextEncoder().encode(text.replace("'fortran_order': False", "'fortran_order': True ")), 10);
    const start = c.length - m.rows * m.cols * 4;
    const values = new Float32Array(m.rows * m.cols);
    for (let r = 0; r < m.rows; r++)
      for (let j = 0; j < m.cols; j++) values[j * m.rows + r] = m.data[r * m.cols + j];
    f.set(new Uint8Array(values.buffer), start);
    writeFileSync(join(work, 'iris-f.npy'), f);
    const fitted = (file: string, extra = '') =>
      sh(`eval $CLI gmm ${file} -k 3 --backend cpu --json ${extra}`).stdout.replace(/"seconds":[^,}]*/, '');
    const reference = fitted('iris-c.npy');
    expect(reference).toContain('"model"');
    expect(fitted('iris-f.npy')).toBe(reference);
    expect(fitted('iris-f.npy', '--stream')).toBe(fitted('iris-c.npy', '--stream'));
  });
});

describe("defaults: scikit-learn's but for init and seed", () => {
  // scikit-learn 1.2's get_params() of GaussianMixture, BayesianGaussianMixture and KMeans, in
  // our names; what the README and the options' doc comments say differs is left out here.
  const sklearnMixture = {
    covarianceType: 'full',
    tol: 1e-3,
    maxIter: 100,
    regCovar: 1e-6,
    nInit: 1,
    warmStart: false,
  };
  it("GaussianMixture and BayesianGaussianMixture: every other default is scikit-learn's", () => {
    using g = new GaussianMixture({ nComponents: 2 });
    expect(g.options).toMatchObject({ ...sklearnMixture, init: 'kmeans++', seed: 0 });
    using b = new BayesianGaussianMixture({ nComponents: 2 });
    expect(b.options).toMatchObject({
      ...sklearnMixture,
      weightConcentrationPriorType: 'dirichlet_process',
      meanPrecisionPrior: 1,
      init: 'kmeans++',
      seed: 0,
    });
  });

  it("KMeans: every other default is scikit-learn's", () => {
    using km = new KMeans({ nClusters: 2 });
    expect(km.options).toMatchObject({ init: 'kmeans++', maxIter: 300, tol: 1e-4, nInit: 1, seed: 0 });
  });
});
