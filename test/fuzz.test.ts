// Property and fuzz tests of the readers: random tables, arrays and models parse to exactly the
// right numbers; corrupted ones parse to finite numbers or fail with a one-line data error, and
// never hang, crash or return NaN. Seeded (the project's generator): a failure names its case.
import { describe, expect, it } from 'vitest';
import { Random } from '../src/core/random.js';
import { parseCsv } from '../src/io/csv.js';
import { parseModel } from '../src/models/model-file.js';
import { encodeNpy, parseNpy } from '../src/io/npy.js';
import { GaussianMixture, KMeans, WebGpuEmError } from '../src/index.js';

const CASES = 400;

/** Runs `parse`: its result, or the WebGpuEmError it threw (anything else fails the test). */
function attempt<T>(what: string, parse: () => T): T | WebGpuEmError {
  const started = performance.now();
  try {
    return parse();
  } catch (e) {
    if (!(e instanceof WebGpuEmError)) throw new Error(`${what}: threw ${String(e)}`, { cause: e });
    expect(e.message, what).not.toContain('\n');
    expect(['data', 'usage'], `${what}: ${e.message}`).toContain(e.kind);
    return e;
  } finally {
    // A reader that loops would take far longer than this on inputs of a few hundred bytes.
    expect(performance.now() - started, what).toBeLessThan(1000);
  }
}

function allFinite(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

/** A random finite value of float32 range, of every magnitude. */
function value(rng: Random): number {
  switch (rng.integer(5)) {
    case 0:
      return rng.integer(2001) - 1000;
    case 1:
      return rng.normal();
    case 2:
      return rng.normal() * 10 ** (rng.integer(60) - 30);
    case 3:
      return Math.fround(rng.normal() * 10 ** (rng.integer(70) - 35));
    default:
      return 0;
  }
}

/** A number as people's files write it. */
function format(v: number, rng: Random): string {
  const s = [
    () => String(v),
    () => v.toExponential(rng.integer(10)),
    () => v.toPrecision(1 + rng.integer(17)),
    () => (Math.abs(v) < 1e15 ? v.toFixed(rng.integer(8)) : String(v)),
    () => (v >= 0 ? `+${v}` : String(v)),
    () => String(v).toUpperCase(),
  ][rng.integer(6)]();
  return s;
}

describe('CSV', () => {
  it('random tables parse to exactly Math.fround of each cell', () => {
    const rng = new Random(101);
    for (let c = 0; c < CASES; c++) {
      const rows = 1 + rng.integer(12);
      const cols = 1 + rng.integer(6);
      const delim = [',', ';', '\t', ' '][rng.integer(4)];
      const eol = rng.integer(3) === 0 ? '\r\n' : '\n';
      const quote = delim !== ' ' && rng.integer(4) === 0;
      const pad = delim !== ' ' && delim !== '\t' && rng.integer(3) === 0 ? ' ' : '';
      const header = rng.integer(2) === 0;
      const cells: string[][] = [];
      const expected: number[] = [];
      for (let r = 0; r < rows; r++) {
        const row: string[] = [];
        for (let k = 0; k < cols; k++) {
          const text = format(value(rng), rng);
          expected.push(Math.fround(Number(text)));
          row.push(quote ? `"${text}"` : `${pad}${text}${pad}`);
        }
        cells.push(row);
      }
      const names = Array.from({ length: cols }, (_, k) => `col_${k}`);
      const lines = [...(header ? [names.join(delim)] : []), ...cells.map((r) => r.join(delim))];
      const blank = rng.integer(3) === 0 ? eol : '';
      const text =
        (rng.integer(5) === 0 ? '\ufeff' : '') + lines.join(eol + blank) + (rng.integer(2) ? eol : '');
      const what = `case ${c}: ${JSON.stringify(text.slice(0, 200))}`;
      const got = attempt(what, () => parseCsv(text, { header: header ? true : 'auto' }));
      if (got instanceof WebGpuEmError) throw new Error(`${what}: ${got.message}`);
      expect(got.matrix.rows, what).toBe(rows);
      expect(got.matrix.cols, what).toBe(cols);
      expect(Array.from(got.matrix.data), what).toEqual(expected);
      if (header) expect(got.columnNames, what).toEqual(names);
    }
  });

  it('corrupted tables give finite numbers or a one-line error, also with a column choice', () => {
    const rng = new Random(202);
    const junk = [
      'a',
      '"',
      ',',
      ';',
      '\t',
      ' ',
      '\n',
      '\r',
      'e',
      '-',
      '.',
      '1',
      'NaN',
      'inf',
      '1e999',
      '\u0000',
      '#',
    ];
    let failed = 0;
    for (let c = 0; c < CASES * 2; c++) {
      const rows = 1 + rng.integer(6);
      const cols = 1 + rng.integer(4);
      let text = [
        Array.from({ length: cols }, (_, k) => `x${k}`).join(','),
        ...Array.from({ length: rows }, () =>
          Array.from({ length: cols }, () => format(value(rng), rng)).join(','),
        ),
      ].join('\n');
      for (let m = 1 + rng.integer(4); m > 0; m--) {
        const at = rng.integer(text.length + 1);
        const op = rng.integer(4);
        if (op === 0) text = text.slice(0, at) + junk[rng.integer(junk.length)] + text.slice(at);
        else if (op === 1) text = text.slice(0, at) + text.slice(at + 1 + rng.integer(3));
        else if (op === 2) text = text.slice(0, at);
        else text = text.slice(0, at) + text.slice(rng.integer(text.length));
      }
      const select = [undefined, { numericOnly: true }, { columns: ['x0'] }, { columns: [1, 'x1'] }][
        rng.integer(4)
      ];
      const what = `case ${c}: ${JSON.stringify(text)} ${JSON.stringify(select)}`;
      const got = attempt(what, () => parseCsv(text, { source: 'fuzz.csv', select }));
      if (got instanceof WebGpuEmError) {
        failed++;
        expect(got.message.startsWith('fuzz.csv') || got.kind === 'usage', what).toBe(true);
        continue;
      }
      expect(allFinite(got.matrix.data), what).toBe(true);
      expect(got.matrix.data.length, what).toBe(got.matrix.rows * got.matrix.cols);
      expect(got.matrix.rows, what).toBeGreaterThan(0);
    }
    // The mutations are meant to break most tables: both outcomes must have been tried.
    expect(failed).toBeGreaterThan(CASES / 4);
    expect(failed).toBeLessThan(CASES * 2);
  });
});

describe('.npy', () => {
  it('random arrays round-trip exactly through encodeNpy and parseNpy', () => {
    const rng = new Random(303);
    for (let c = 0; c < CASES; c++) {
      const rows = 1 + rng.integer(20);
      const cols = 1 + rng.integer(8);
      const kind = rng.integer(3);
      const n = rows * cols;
      const data =
        kind === 0
          ? Float32Array.from({ length: n }, () => value(rng))
          : kind === 1
            ? Float64Array.from({ length: n }, () => value(rng))
            : Int32Array.from({ length: n }, () => rng.nextUint32() | 0);
      const m = parseNpy(encodeNpy(data, rows, cols));
      expect([m.rows, m.cols]).toEqual([rows, cols]);
      expect(Array.from(m.data), `case ${c}`).toEqual(Array.from(data, Math.fround));
    }
  });

  it('corrupted files give finite numbers of the declared shape or a one-line error', () => {
    const rng = new Random(404);
    let failed = 0;
    for (let c = 0; c < CASES * 2; c++) {
      const rows = 1 + rng.integer(5);
      const cols = 1 + rng.integer(5);
      const data = Float64Array.from({ length: rows * cols }, () => value(rng));
      const bytes = encodeNpy(rng.integer(2) ? data : Float32Array.from(data), rows, cols);
      let corrupt: Uint8Array = bytes.slice();
      for (let m = 1 + rng.integer(3); m > 0; m--) {
        const op = rng.integer(3);
        // Mostly the header (the first 64 bytes), where a wrong byte changes the meaning.
        const at = rng.integer(rng.integer(2) ? Math.min(64, corrupt.length) : corrupt.length);
        if (op === 0) corrupt[at] = rng.integer(256);
        else if (op === 1) corrupt[at] = " ()'{}:,<>fi0123456789x".charCodeAt(rng.integer(23));
        else corrupt = corrupt.slice(0, at);
      }
      const what = `case ${c}: ${JSON.stringify(new TextDecoder('latin1').decode(corrupt.subarray(0, 80)))}`;
      const got = attempt(what, () => parseNpy(corrupt, 'fuzz.npy'));
      if (got instanceof WebGpuEmError) {
        failed++;
        continue;
      }
      expect(allFinite(got.data), what).toBe(true);
      expect(got.data.length, what).toBe(got.rows * got.cols);
    }
    expect(failed).toBeGreaterThan(CASES / 4);
    expect(failed).toBeLessThan(CASES * 2);
  });
});

describe('model files', () => {
  /** Replaces a random node of a JSON tree by junk, or removes a key. */
  function mutate(node: unknown, rng: Random): unknown {
    const junk = [null, 'x', -1, 0, 1e308, -1e308, [], {}, [[]], true, 'NaN', 2.5, [1, 2], { format: 1 }];
    if (rng.integer(4) === 0 || node === null || typeof node !== 'object')
      return junk[rng.integer(junk.length)];
    if (Array.isArray(node)) {
      if (node.length === 0) return junk[rng.integer(junk.length)];
      const copy = [...node];
      const i = rng.integer(copy.length);
      if (rng.integer(6) === 0) copy.splice(i, 1);
      else copy[i] = mutate(copy[i], rng);
      return copy;
    }
    const copy: Record<string, unknown> = { ...(node as Record<string, unknown>) };
    const keys = Object.keys(copy);
    const key = keys[rng.integer(keys.length)];
    if (rng.integer(6) === 0) delete copy[key];
    else copy[key] = mutate(copy[key], rng);
    return copy;
  }

  it('mutated models load to finite parameters or fail with a one-line error', async () => {
    const x = Array.from({ length: 40 }, (_, i) => [i % 4, (i * 7) % 5, Math.sin(i)]);
    const models: unknown[] = [];
    for (const covarianceType of ['full', 'tied', 'diag', 'spherical'] as const) {
      const gmm = new GaussianMixture({ nComponents: 2, covarianceType, backend: 'cpu' });
      await gmm.fit(x);
      gmm.featureNames = ['a', 'b', 'c'];
      models.push(gmm.toJSON());
    }
    const km = new KMeans({ nClusters: 2, backend: 'cpu' });
    await km.fit(x);
    models.push(km.toJSON());
    const rng = new Random(505);
    let failed = 0;
    for (let c = 0; c < CASES * 2; c++) {
      let json = models[rng.integer(models.length)];
      for (let m = 1 + rng.integer(3); m > 0; m--) json = mutate(json, rng);
      const what = `case ${c}: ${JSON.stringify(json).slice(0, 300)}`;
      const spec = attempt(what, () => parseModel(json, 'fuzz.json'));
      if (spec instanceof WebGpuEmError) {
        failed++;
        expect(spec.message.startsWith('fuzz.json: '), what).toBe(true);
        continue;
      }
      expect(allFinite(spec.means), what).toBe(true);
      expect(spec.means.length, what).toBe(spec.nComponents * spec.nFeatures);
      if (spec.weights) {
        expect(allFinite(spec.weights), what).toBe(true);
        expect(
          spec.weights.reduce((a, b) => a + b, 0),
          what,
        ).toBeCloseTo(1, 12);
      }
      if (spec.covariances) expect(allFinite(spec.covariances), what).toBe(true);
      // What parses, loads: a model of its format predicts finite labels.
      const loaded = attempt(what, () =>
        spec.format === 'webgpu-em/gmm@1'
          ? GaussianMixture.fromJSON(json, { backend: 'cpu' }, 'fuzz.json')
          : KMeans.fromJSON(json, { backend: 'cpu' }, 'fuzz.json'),
      );
      if (loaded instanceof WebGpuEmError) continue; // a means-only mixture, say
      const rows = Array.from({ length: 3 }, () =>
        Array.from({ length: spec.nFeatures }, () => rng.normal()),
      );
      let labels: Int32Array;
      try {
        labels = await loaded.predict(rows);
      } catch (e) {
        // Parameters near float64's limit overflow the distances: said in one line, never NaN.
        expect(e, what).toBeInstanceOf(WebGpuEmError);
        expect((e as Error).message, what).not.toContain('\n');
        continue;
      }
      expect(
        Array.from(labels).every((l) => l >= 0 && l < spec.nComponents),
        what,
      ).toBe(true);
    }
    expect(failed).toBeGreaterThan(CASES / 4);
    expect(failed).toBeLessThan(CASES * 2);
  });

  it('corrupted model text is refused in one line', () => {
    const rng = new Random(606);
    const text = JSON.stringify({
      format: 'webgpu-em/kmeans@1',
      nFeatures: 2,
      means: [
        [1, 2],
        [3, 4],
      ],
    });
    for (let c = 0; c < CASES; c++) {
      const at = rng.integer(text.length);
      const corrupt =
        text.slice(0, at) + '{}[],:"0e-'.charAt(rng.integer(10)) + text.slice(at + rng.integer(3));
      const got = attempt(`case ${c}: ${corrupt}`, () => KMeans.fromJSON(corrupt, { backend: 'cpu' }));
      if (!(got instanceof WebGpuEmError)) expect(got.clusterCenters.data.every(Number.isFinite)).toBe(true);
    }
  });
});
