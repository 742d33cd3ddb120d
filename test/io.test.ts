import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebGpuEmError } from '../src/errors.js';
import { parseCsv } from '../src/io/csv.js';
import { readDataFile, readModelFile, writeFileAtomic } from '../src/io/files.js';
import {
  gmmModelToJson,
  kmeansModelToJson,
  parseModel,
  type CovarianceType,
} from '../src/models/model-file.js';
import { encodeNpy, parseNpy } from '../src/io/npy.js';

/** Runs fn, expects a WebGpuEmError of the given kind, and returns its message. */
function errorOf(fn: () => unknown, kind: 'data' | 'usage' = 'data'): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WebGpuEmError);
    expect((e as WebGpuEmError).kind).toBe(kind);
    const message = (e as Error).message;
    expect(message).not.toMatch(/[\r\n]/);
    return message;
  }
  throw new Error('expected an error');
}

async function asyncErrorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(WebGpuEmError);
    expect((e as WebGpuEmError).kind).toBe('data');
    const message = (e as Error).message;
    expect(message).not.toMatch(/[\r\n]/);
    return message;
  }
  throw new Error('expected an error');
}

const f32 = (xs: number[]): number[] => xs.map((x) => Math.fround(x));

describe('parseCsv', () => {
  it('reads a comma-separated file with a header', () => {
    const { matrix, columnNames } = parseCsv('x,y,z\n1,2,3\n4.5,-6,7e2\n');
    expect(columnNames).toEqual(['x', 'y', 'z']);
    expect(matrix.rows).toBe(2);
    expect(matrix.cols).toBe(3);
    expect(matrix.data).toBeInstanceOf(Float32Array);
    expect(matrix.data.length).toBe(6);
    expect(Array.from(matrix.data)).toEqual([1, 2, 3, 4.5, -6, 700]);
  });

  it('treats a numeric first row as data when header is auto', () => {
    const { matrix, columnNames } = parseCsv('1,2\n3,4');
    expect(columnNames).toBeNull();
    expect(matrix.rows).toBe(2);
    expect(Array.from(matrix.data)).toEqual([1, 2, 3, 4]);
  });

  it('forces the header on or off', () => {
    const forced = parseCsv('1,2\n3,4', { header: true });
    expect(forced.columnNames).toEqual(['1', '2']);
    expect(forced.matrix.rows).toBe(1);
    expect(Array.from(forced.matrix.data)).toEqual([3, 4]);

    const msg = errorOf(() => parseCsv('a,b\n1,2', { header: false, source: 'f.csv' }));
    expect(msg).toContain('f.csv');
    expect(msg).toContain('line 1, column 1');
    expect(msg).toContain('header');
  });

  it('reads a first row that mixes text and numbers as data, and says so', () => {
    const msg = errorOf(() => parseCsv('id,2\n1,2'));
    expect(msg).toContain('line 1, column 1');
    expect(msg).toContain('"id"');
    expect(msg).toContain('header');
  });

  it('rejects an invalid header option', () => {
    errorOf(() => parseCsv('1', { header: 'yes' as unknown as boolean }), 'usage');
  });

  it('detects semicolon, tab and whitespace delimiters', () => {
    expect(Array.from(parseCsv('a;b\n1;2\n3;4').matrix.data)).toEqual([1, 2, 3, 4]);
    const tsv = parseCsv('petal length\tpetal width\n1.5\t0.25\n');
    expect(tsv.columnNames).toEqual(['petal length', 'petal width']);
    expect(Array.from(tsv.matrix.data)).toEqual([1.5, 0.25]);
    const ws = parseCsv('  1   2\t 3  \n4 5 6\n\t7  8   9');
    expect(ws.matrix.cols).toBe(3);
    expect(Array.from(ws.matrix.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const wsHeader = parseCsv('a b\n1 2\n');
    expect(wsHeader.columnNames).toEqual(['a', 'b']);
  });

  it('reads a single column', () => {
    const { matrix, columnNames } = parseCsv('value\n1\n2\n3\n');
    expect(columnNames).toEqual(['value']);
    expect(matrix.cols).toBe(1);
    expect(Array.from(matrix.data)).toEqual([1, 2, 3]);
  });

  it('trims spaces around cells', () => {
    const { matrix, columnNames } = parseCsv(' a , b \n 1 , 2 \n3,   4   \n');
    expect(columnNames).toEqual(['a', 'b']);
    expect(Array.from(matrix.data)).toEqual([1, 2, 3, 4]);
  });

  it('handles double-quoted cells and header names', () => {
    const { matrix, columnNames } = parseCsv('"x, first","say ""hi""",plain\n"1.5", "2" ,3\n4,"5",6\n');
    expect(columnNames).toEqual(['x, first', 'say "hi"', 'plain']);
    expect(Array.from(matrix.data)).toEqual([1.5, 2, 3, 4, 5, 6]);
    const ws = parseCsv('"petal length" "petal width"\n1 2\n"3" 4\n');
    expect(ws.columnNames).toEqual(['petal length', 'petal width']);
    expect(Array.from(ws.matrix.data)).toEqual([1, 2, 3, 4]);
    const semi = parseCsv('"a;b";c\n1;2');
    expect(semi.columnNames).toEqual(['a;b', 'c']);
  });

  it('reports quoting errors with line and column', () => {
    expect(errorOf(() => parseCsv('a,b\n1,"2\n'))).toMatch(/line 2, column 2: unterminated quoted cell/);
    expect(errorOf(() => parseCsv('a,b\n1,"2"x\n'))).toMatch(/line 2, column 2: unexpected text after/);
    expect(errorOf(() => parseCsv('a,b\n1,""\n'))).toMatch(/line 2, column 2 \("b"\): empty cell/);
  });

  it('handles CRLF, a BOM, old Mac line ends and blank lines', () => {
    const crlf = parseCsv('\ufeffa,b\r\n1,2\r\n\r\n3,4\r\n');
    expect(crlf.columnNames).toEqual(['a', 'b']);
    expect(Array.from(crlf.matrix.data)).toEqual([1, 2, 3, 4]);
    const cr = parseCsv('a,b\r1,2\r3,4\r');
    expect(Array.from(cr.matrix.data)).toEqual([1, 2, 3, 4]);
    const blanks = parseCsv('\n\n  \na,b\n\n1,2\n \t \n3,4\n\n');
    expect(blanks.matrix.rows).toBe(2);
    expect(Array.from(blanks.matrix.data)).toEqual([1, 2, 3, 4]);
  });

  it('counts physical lines (blank ones included) in messages', () => {
    const msg = errorOf(() => parseCsv('a,b\n\n1,2\r\n   \n3,x\n', { source: 'data.csv' }));
    expect(msg).toContain('data.csv: line 5, column 2 ("b")');
    expect(msg).toContain('"x" is not a number');
  });

  it('accepts the usual number forms', () => {
    const cells = ['1', '-2.5e-3', '+.5', '1.', '1E3', '-0', '007', '0.000123', '6.02214076e+23', '-1.5E-7'];
    const { matrix } = parseCsv(cells.join(','));
    expect(Array.from(matrix.data)).toEqual(f32(cells.map(Number)));
    const ws = parseCsv(cells.join('  '));
    expect(Array.from(ws.matrix.data)).toEqual(f32(cells.map(Number)));
  });

  it('rounds like Number() followed by float32 rounding, for long and short decimals', () => {
    const cells: string[] = [];
    let seed = 12345;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let i = 0; i < 4000; i++) {
      const v = (rand() - 0.5) * 10 ** Math.floor(rand() * 24 - 12);
      const k = i % 5;
      if (k === 0) cells.push(String(v));
      else if (k === 1) cells.push(v.toExponential(Math.floor(rand() * 20)));
      else if (k === 2) cells.push(v.toFixed(Math.floor(rand() * 20)));
      else if (k === 3) cells.push(String(Math.fround(v)));
      else cells.push(String(Math.fround(v) * (1 + 2 ** -24))); // halfway between two float32 values
    }
    const lines: string[] = [];
    for (let i = 0; i < cells.length; i += 4) lines.push(cells.slice(i, i + 4).join(','));
    const { matrix } = parseCsv(lines.join('\n'));
    expect(Array.from(matrix.data)).toEqual(cells.map((c) => Math.fround(Number(c))));
  });

  it('rejects empty, missing, infinite and non-numeric cells with line and column', () => {
    const cases: [string, RegExp][] = [
      ['a,b\n1,\n', /line 2, column 2 \("b"\): empty cell/],
      ['a,b\n1,2\n,3\n', /line 3, column 1 \("a"\): empty cell/],
      ['a,b\n1,NaN\n', /line 2, column 2 \("b"\): missing value "NaN"/],
      ['a,b\n1,NA\n', /line 2, column 2 \("b"\): missing value "NA"/],
      ['a,b\n1,inf\n', /line 2, column 2 \("b"\): infinite value "inf"/],
      ['a,b\n-Infinity,2\n', /line 2, column 1 \("a"\): infinite value "-Infinity"/],
      ['a,b\n1,abc\n', /line 2, column 2 \("b"\): "abc" is not a number/],
      ['a,b\n1,0x10\n', /line 2, column 2 \("b"\): "0x10" is not a number/],
      ['a,b\n1,1e39\n', /line 2, column 2 \("b"\): value "1e39" is outside the float32 range/],
      ['a,b\n1,1e400\n', /line 2, column 2 \("b"\): value "1e400" is outside the float32 range/],
      ['a,b\n1,1.2.3\n', /line 2, column 2 \("b"\): "1.2.3" is not a number/],
      ['a,b\n1,-\n', /line 2, column 2 \("b"\): "-" is not a number/],
      ['a,b\n1,1e\n', /line 2, column 2 \("b"\): "1e" is not a number/],
      ['a,b\n1,2 3\n', /line 2, column 2 \("b"\): "2 3" is not a number/],
      ['1 2\n3 x4\n', /line 2, column 2: "x4" is not a number/],
      ['1 2\n3 4x\n', /line 2, column 2: "4x" is not a number/],
      ['1\t2\n3\t\n', /line 2, column 2: empty cell/],
    ];
    for (const [text, re] of cases) expect(errorOf(() => parseCsv(text, { source: 'in.csv' }))).toMatch(re);
  });

  it('explains decimal commas', () => {
    expect(errorOf(() => parseCsv('a;b\n1,5;2\n'))).toMatch(/line 2, column 1 .*decimal comma/);
  });

  it('mentions a trailing delimiter when the last column is empty', () => {
    const msg = errorOf(() => parseCsv('a,b,\n1,2,\n'));
    expect(msg).toContain('line 2, column 3');
    expect(msg).toContain('trailing delimiter');
  });

  it('rejects ragged rows, naming the line and both counts', () => {
    const more = errorOf(() => parseCsv('a,b\n1,2\n1,2,3\n', { source: 'r.csv' }));
    expect(more).toContain('r.csv: line 3 has 3 columns but the header (line 1) has 2');
    const fewer = errorOf(() => parseCsv('1,2,3\n4,5\n'));
    expect(fewer).toContain('line 2 has 2 columns but line 1 (the first row) has 3');
    const ws = errorOf(() => parseCsv('1 2\n3 4 5 6\n'));
    expect(ws).toContain('line 2 has 4 columns but line 1 (the first row) has 2');
    const quoted = errorOf(() => parseCsv('a,b\n"1","2","3"\n'));
    expect(quoted).toContain('line 2 has 3 columns');
  });

  it('rejects input without data rows', () => {
    expect(errorOf(() => parseCsv('', { source: 'e.csv' }))).toMatch(/^e\.csv: no data rows/);
    expect(errorOf(() => parseCsv('\ufeff\r\n  \n\n'))).toMatch(/^<input>: no data rows/);
    expect(errorOf(() => parseCsv('a,b\n\n'))).toMatch(/no data rows \(only the header on line 1\)/);
    expect(errorOf(() => parseCsv('1,2', { header: true }))).toMatch(/no data rows/);
  });

  it('parses many rows, growing its buffer, into an exactly sized array', () => {
    const rows = 20000;
    const cols = 5;
    const lines = ['c0,c1,c2,c3,c4'];
    const expected: number[] = [];
    for (let r = 0; r < rows; r++) {
      const row: string[] = [];
      for (let c = 0; c < cols; c++) {
        const v = ((r * 7919 + c * 104729) % 100003) / 1000 - 50;
        row.push(c === 2 ? v.toExponential(3) : String(v));
        expected.push(Math.fround(Number(row[c])));
      }
      // A short first line makes the initial size estimate too small.
      lines.push(r === 0 ? '0,0,0,0,0' : row.join(','));
      if (r === 0) expected.splice(0, cols, 0, 0, 0, 0, 0);
    }
    const { matrix } = parseCsv(lines.join('\n'));
    expect(matrix.rows).toBe(rows);
    expect(matrix.data.length).toBe(rows * cols);
    expect(matrix.data.buffer.byteLength).toBe(rows * cols * 4);
    expect(Array.from(matrix.data)).toEqual(expected);
  });
});

describe('npy', () => {
  const npyHeader = (bytes: Uint8Array): string => {
    const len = bytes[8] | (bytes[9] << 8);
    return String.fromCharCode(...bytes.subarray(10, 10 + len));
  };

  /** Builds a .npy file by hand with any header text and version. */
  function buildNpy(header: string, data: Uint8Array, version = 1): Uint8Array {
    const lenBytes = version === 1 ? 2 : 4;
    const headerBytes = new TextEncoder().encode(header);
    const out = new Uint8Array(8 + lenBytes + headerBytes.length + data.length);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
    const view = new DataView(out.buffer);
    if (version === 1) view.setUint16(8, headerBytes.length, true);
    else view.setUint32(8, headerBytes.length, true);
    out.set(headerBytes, 8 + lenBytes);
    out.set(data, 8 + lenBytes + headerBytes.length);
    return out;
  }

  const f64Bytes = (xs: number[]): Uint8Array => new Uint8Array(new Float64Array(xs).buffer);

  it('round-trips float32 through encodeNpy and parseNpy', () => {
    const data = Float32Array.from([1.5, -2, 3.25, 1e-20, 4, 5e30]);
    const bytes = encodeNpy(data, 3, 2);
    const header = npyHeader(bytes);
    expect(header).toContain("'descr': '<f4'");
    expect(header).toContain("'fortran_order': False");
    expect(header).toContain("'shape': (3, 2)");
    expect(header.endsWith('\n')).toBe(true);
    expect((10 + header.length) % 64).toBe(0);
    expect(bytes.length).toBe(10 + header.length + 6 * 4);
    const m = parseNpy(bytes, 'a.npy');
    expect(m.rows).toBe(3);
    expect(m.cols).toBe(2);
    expect(Array.from(m.data)).toEqual(Array.from(data));
  });

  it('round-trips float64, rounding to float32', () => {
    const values = [0.1, -1 / 3, 123456.789, 1e-40, 2 ** 60, -7];
    const bytes = encodeNpy(Float64Array.from(values), 2, 3);
    expect(npyHeader(bytes)).toContain("'descr': '<f8'");
    expect((10 + npyHeader(bytes).length) % 64).toBe(0);
    const m = parseNpy(bytes);
    expect(m.rows).toBe(2);
    expect(m.cols).toBe(3);
    expect(m.data).toBeInstanceOf(Float32Array);
    expect(Array.from(m.data)).toEqual(f32(values));
  });

  it('does not alias the input bytes', () => {
    const bytes = encodeNpy(Float32Array.from([1, 2]), 1, 2);
    const m = parseNpy(bytes);
    bytes.fill(0, bytes.length - 8);
    expect(Array.from(m.data)).toEqual([1, 2]);
  });

  it('reads data that is not aligned in its buffer', () => {
    for (const arr of [Float32Array.from([1, 2, 3, 4]), Float64Array.from([1, 2, 3, 4])]) {
      const bytes = encodeNpy(arr, 2, 2);
      const shifted = new Uint8Array(bytes.length + 3);
      shifted.set(bytes, 3);
      const m = parseNpy(shifted.subarray(3));
      expect(Array.from(m.data)).toEqual([1, 2, 3, 4]);
    }
  });

  it('reads hand-built version 2.0 and 3.0 files', () => {
    const header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }";
    const v2 = parseNpy(buildNpy(header + ' '.repeat(3) + '\n', f64Bytes([1, 2, 3, 4]), 2));
    expect(v2.rows).toBe(2);
    expect(Array.from(v2.data)).toEqual([1, 2, 3, 4]);
    const v3 = parseNpy(
      buildNpy(`{"descr": "<f8", "shape": (1, 4), "fortran_order": False}\n`, f64Bytes([5, 6, 7, 8]), 3),
    );
    expect(v3.rows).toBe(1);
    expect(v3.cols).toBe(4);
    expect(Array.from(v3.data)).toEqual([5, 6, 7, 8]);
  });

  it('rejects big-endian and other dtypes, saying what is accepted', () => {
    const be = errorOf(() =>
      parseNpy(
        buildNpy("{'descr': '>f8', 'fortran_order': False, 'shape': (1, 1), }\n", new Uint8Array(8)),
        'be.npy',
      ),
    );
    expect(be).toContain('be.npy');
    expect(be).toContain("'>f8'");
    expect(be).toContain('big-endian');
    expect(be).toContain("'<f4'");
    expect(be).toContain('astype(np.float32)');
    const complex = errorOf(() =>
      parseNpy(buildNpy("{'descr': '<c8', 'fortran_order': False, 'shape': (1, 1), }\n", new Uint8Array(8))),
    );
    expect(complex).toContain('complex64');
    expect(complex).toContain('astype(np.float32)');
    const structured = errorOf(() =>
      parseNpy(
        buildNpy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1, 1), }\n", new Uint8Array(4)),
      ),
    );
    expect(structured).toContain('structured');
  });

  it('reads integer dtypes as their values in float32', () => {
    const cases: Array<[string, ArrayBufferView, number[]]> = [
      ['|i1', new Int8Array([-128, 0, 127, 5]), [-128, 0, 127, 5]],
      ['|u1', new Uint8Array([0, 255, 1, 2]), [0, 255, 1, 2]],
      ['<i2', new Int16Array([-32768, 32767, 0, -1]), [-32768, 32767, 0, -1]],
      ['<u2', new Uint16Array([65535, 0, 1, 2]), [65535, 0, 1, 2]],
      ['<i4', new Int32Array([-(2 ** 31), 2 ** 24, 7, -7]), [-(2 ** 31), 2 ** 24, 7, -7]],
      ['<u4', new Uint32Array([2 ** 32 - 1, 0, 3, 4]), [Math.fround(2 ** 32 - 1), 0, 3, 4]],
      ['<i8', new BigInt64Array([-(2n ** 40n), 5n, 0n, -1n]), [-(2 ** 40), 5, 0, -1]],
      ['<u8', new BigUint64Array([2n ** 63n, 1n, 0n, 9n]), [2 ** 63, 1, 0, 9]],
    ];
    for (const [descr, values, expected] of cases) {
      const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      const m = parseNpy(
        buildNpy(`{'descr': '${descr}', 'fortran_order': False, 'shape': (2, 2), }\n`, bytes),
      );
      expect([m.rows, m.cols]).toEqual([2, 2]);
      expect(Array.from(m.data)).toEqual(expected.map(Math.fround));
    }
    const short = errorOf(() =>
      parseNpy(
        buildNpy("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }\n", new Uint8Array(12)),
        'short.npy',
      ),
    );
    expect(short).toMatch(/short\.npy: truncated \.npy file .*16 bytes/);
  });

  it('rejects a fortran_order that is not True or False (Fortran order itself: small-things.test.ts)', () => {
    const msg = errorOf(() =>
      parseNpy(buildNpy("{'descr': '<f4', 'fortran_order': 1, 'shape': (2, 2), }\n", new Uint8Array(16))),
    );
    expect(msg).toContain("malformed .npy header (field 'fortran_order' is not True or False)");
  });

  it('rejects 1-D and 3-D arrays and empty arrays', () => {
    const oneD = errorOf(() =>
      parseNpy(buildNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }\n", new Uint8Array(16))),
    );
    expect(oneD).toContain('(4,)');
    expect(oneD).toContain('reshape(-1, 1)');
    const threeD = errorOf(() =>
      parseNpy(
        buildNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 2), }\n", new Uint8Array(16)),
      ),
    );
    expect(threeD).toContain('3-D');
    const empty = errorOf(() => parseNpy(encodeNpy(new Float32Array(0), 0, 3)));
    expect(empty).toContain('no data');
  });

  it('rejects truncated files and bad magic', () => {
    const bytes = encodeNpy(Float32Array.from([1, 2, 3, 4]), 2, 2);
    expect(errorOf(() => parseNpy(bytes.subarray(0, bytes.length - 1), 't.npy'))).toMatch(
      /^t\.npy: truncated .npy file .*16 bytes of data but only 15/,
    );
    expect(errorOf(() => parseNpy(bytes.subarray(0, 40)))).toContain('truncated');
    expect(errorOf(() => parseNpy(bytes.subarray(0, 8)))).toContain('truncated');
    expect(errorOf(() => parseNpy(new TextEncoder().encode('1,2\n3,4\n')))).toContain('not a .npy file');
    expect(
      errorOf(() => parseNpy(buildNpy("{'descr': '<f4', 'shape': (1, 1)}\n", new Uint8Array(4)))),
    ).toContain('fortran_order');
    expect(errorOf(() => parseNpy(buildNpy("{'descr': '<f4', \n", new Uint8Array(4))))).toContain(
      'malformed',
    );
  });

  it('rejects non-finite values and float32 overflow with the 0-based row and column', () => {
    const nan = errorOf(() => parseNpy(encodeNpy(Float32Array.from([1, 2, 3, NaN]), 2, 2), 'n.npy'));
    expect(nan).toContain('n.npy');
    expect(nan).toContain('NaN at row 1 (0-based), column 1 (0-based)');
    const inf = errorOf(() => parseNpy(encodeNpy(Float64Array.from([Infinity, 1]), 2, 1)));
    expect(inf).toContain('Infinity at row 0 (0-based), column 0 (0-based)');
    const big = errorOf(() => parseNpy(encodeNpy(Float64Array.from([0, 0, 1e300]), 1, 3)));
    expect(big).toContain('value 1e+300 at row 0 (0-based), column 2 (0-based) is outside the float32 range');
  });

  it('validates encodeNpy arguments', () => {
    errorOf(() => encodeNpy(new Float32Array(5), 2, 3), 'usage');
    errorOf(() => encodeNpy(new Float32Array(6), 2.5, 3), 'usage');
    errorOf(() => encodeNpy([1, 2] as unknown as Float32Array, 1, 2), 'usage');
  });
});

describe('model files', () => {
  const K = 3;
  const D = 2;
  const weights = [0.2, 0.3, 0.5];
  const means = [0, 1, 2, 3, -4, 5.5];
  /** Symmetric positive definite 2x2 matrices, one per component. */
  const fullCov = [2, 0.5, 0.5, 1, 1, -0.2, -0.2, 3, 0.5, 0, 0, 0.25];

  function roundTrip(json: Record<string, unknown>): ReturnType<typeof parseModel> {
    return parseModel(JSON.parse(JSON.stringify(json)), 'model.json');
  }

  const cases: [CovarianceType, number[], number[]][] = [
    ['full', fullCov, fullCov],
    ['tied', [2, 0.5, 0.5, 1], [2, 0.5, 0.5, 1, 2, 0.5, 0.5, 1, 2, 0.5, 0.5, 1]],
    ['diag', [1, 2, 3, 4, 5, 6], [1, 0, 0, 2, 3, 0, 0, 4, 5, 0, 0, 6]],
    ['spherical', [1, 2, 3], [1, 0, 0, 1, 2, 0, 0, 2, 3, 0, 0, 3]],
  ];

  for (const [type, natural, expanded] of cases) {
    it(`round-trips a ${type} gmm`, () => {
      const json = gmmModelToJson({
        covarianceType: type,
        nFeatures: D,
        weights: Float32Array.from(weights),
        means,
        covariances: natural,
        extra: { logLikelihood: -12.5 },
      });
      expect(json.format).toBe('webgpu-em/gmm@1');
      expect(json.logLikelihood).toBe(-12.5);
      const spec = roundTrip(json);
      expect(spec.format).toBe('webgpu-em/gmm@1');
      expect(spec.covarianceType).toBe(type);
      expect(spec.nComponents).toBe(K);
      expect(spec.nFeatures).toBe(D);
      expect(Array.from(spec.means)).toEqual(means);
      expect(spec.weights).not.toBeNull();
      expect(Array.from(spec.weights!).map((w) => Math.fround(w))).toEqual(f32(weights));
      expect(spec.weights!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 15);
      expect(spec.covariances).toBeInstanceOf(Float64Array);
      expect(Array.from(spec.covariances!)).toEqual(expanded);
    });
  }

  it('writes nested arrays in the documented shapes', () => {
    const full = gmmModelToJson({
      covarianceType: 'full',
      nFeatures: D,
      weights,
      means,
      covariances: fullCov,
    });
    expect(full.means).toEqual([
      [0, 1],
      [2, 3],
      [-4, 5.5],
    ]);
    expect(full.covariances).toEqual([
      [
        [2, 0.5],
        [0.5, 1],
      ],
      [
        [1, -0.2],
        [-0.2, 3],
      ],
      [
        [0.5, 0],
        [0, 0.25],
      ],
    ]);
    const tied = gmmModelToJson({
      covarianceType: 'tied',
      nFeatures: D,
      weights,
      means,
      covariances: [2, 0, 0, 1],
    });
    expect(tied.covariances).toEqual([
      [2, 0],
      [0, 1],
    ]);
    const diag = gmmModelToJson({
      covarianceType: 'diag',
      nFeatures: D,
      weights,
      means,
      covariances: [1, 2, 3, 4, 5, 6],
    });
    expect(diag.covariances).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const sph = gmmModelToJson({
      covarianceType: 'spherical',
      nFeatures: D,
      weights,
      means,
      covariances: [1, 2, 3],
    });
    expect(sph.covariances).toEqual([1, 2, 3]);
  });

  it('round-trips a k-means model', () => {
    const json = kmeansModelToJson({ nFeatures: D, means: Float64Array.from(means), extra: { inertia: 3 } });
    expect(json).toMatchObject({ format: 'webgpu-em/kmeans@1', nFeatures: 2, inertia: 3 });
    const spec = roundTrip(json);
    expect(spec).toMatchObject({
      format: 'webgpu-em/kmeans@1',
      nComponents: 3,
      nFeatures: 2,
      weights: null,
      covariances: null,
      covarianceType: null,
    });
    expect(Array.from(spec.means)).toEqual(means);
  });

  it('reads a model wrapped in a result object and names paths under model.', () => {
    const model = gmmModelToJson({
      covarianceType: 'diag',
      nFeatures: D,
      weights,
      means,
      covariances: [1, 2, 3, 4, 5, 6],
    });
    const spec = roundTrip({ model, converged: true, nIter: 12 });
    expect(spec.covarianceType).toBe('diag');
    expect(spec.nComponents).toBe(3);
    const bad = JSON.parse(JSON.stringify({ model, converged: true }));
    bad.model.covariances[1][0] = -1;
    expect(errorOf(() => parseModel(bad, 'r.json'))).toMatch(
      /^r\.json: model\.covariances\[1\]\[0\] is -1; .*> 0/,
    );
  });

  it('accepts means-only models', () => {
    const bare = parseModel(
      {
        means: [
          [1, 2],
          [3, 4],
        ],
      },
      'm.json',
    );
    expect(bare.format).toBe('webgpu-em/kmeans@1');
    expect(bare.nComponents).toBe(2);
    expect(bare.weights).toBeNull();
    const gmm = parseModel({ format: 'webgpu-em/gmm@1', nFeatures: 2, means: [[1, 2]] });
    expect(gmm).toMatchObject({
      format: 'webgpu-em/gmm@1',
      weights: null,
      covariances: null,
      covarianceType: null,
    });
    expect(Array.from(gmm.means)).toEqual([1, 2]);
  });

  it('renormalises weights that sum to 1 within 1e-6', () => {
    const spec = parseModel({
      format: 'webgpu-em/gmm@1',
      covarianceType: 'spherical',
      nFeatures: 1,
      weights: [0.5000004, 0.5],
      means: [[0], [1]],
      covariances: [1, 1],
    });
    expect(spec.weights![0] + spec.weights![1]).toBe(1);
    expect(spec.weights![0]).toBeGreaterThan(spec.weights![1]);
  });

  it('makes nearly symmetric matrices exactly symmetric', () => {
    const spec = parseModel({
      format: 'webgpu-em/gmm@1',
      covarianceType: 'tied',
      nFeatures: 2,
      weights: [1],
      means: [[0, 0]],
      covariances: [
        [1, 0.3],
        [0.3000001, 1],
      ],
    });
    expect(spec.covariances![1]).toBe(spec.covariances![2]);
  });

  describe('rejects invalid models with the source and JSON path', () => {
    const base = (): Record<string, unknown> =>
      JSON.parse(
        JSON.stringify(
          gmmModelToJson({ covarianceType: 'full', nFeatures: D, weights, means, covariances: fullCov }),
        ),
      );
    const check = (mutate: (m: Record<string, unknown>) => unknown, re: RegExp): void => {
      const m = base();
      mutate(m);
      const msg = errorOf(() => parseModel(m, 'bad.json'));
      expect(msg.startsWith('bad.json: ')).toBe(true);
      expect(msg).toMatch(re);
    };

    it('format', () => {
      check(
        (m) => (m.format = 'sklearn/gmm'),
        /unknown model format "sklearn\/gmm" at format; accepted formats/,
      );
      check((m) => (m.format = 3), /format must be a string/);
      check((m) => delete m.format, /format is missing; add "format": "webgpu-em\/gmm@1"/);
      expect(errorOf(() => parseModel({}, 'e.json'))).toMatch(/^e\.json: no model found/);
      expect(errorOf(() => parseModel([1, 2], 'e.json'))).toMatch(/expected a JSON object/);
      expect(errorOf(() => parseModel({ model: 3 }, 'e.json'))).toMatch(/model must be a JSON object/);
    });

    it('means and nFeatures', () => {
      check((m) => ((m.means as number[][])[1] = [1, 2, 3]), /means\[1\] has 3 values but nFeatures is 2/);
      check(
        (m) => ((m.means as number[][])[2][1] = null as unknown as number),
        /means\[2\]\[1\] is null .*NaN/,
      );
      check((m) => ((m.means as unknown[])[0] = 'x'), /means\[0\] must be an array/);
      check((m) => (m.means = []), /means is empty/);
      check((m) => (m.nFeatures = 0), /nFeatures is 0; it must be a positive integer/);
      check((m) => (m.nFeatures = 3), /means\[0\] has 2 values but nFeatures is 3/);
      check((m) => delete m.means, /means is missing/);
    });

    it('weights', () => {
      check((m) => (m.weights = [0.5, 0.5]), /weights has 2 values but means has 3 components/);
      check((m) => (m.weights = [0.2, 0.3, 0.6]), /weights sum to 1\.1/);
      check((m) => (m.weights = [-0.2, 0.7, 0.5]), /weights\[0\] is -0\.2; weights must be >= 0/);
      check((m) => (m.weights = ['0.2', 0.3, 0.5]), /weights\[0\] is "0\.2"; it must be a finite number/);
      check((m) => delete m.weights, /weights is missing; a gmm model needs both/);
      check((m) => delete m.covariances, /covariances is missing/);
    });

    it('covariance type and shapes', () => {
      check((m) => (m.covarianceType = 'banana'), /covarianceType is "banana"; it must be one of/);
      check((m) => delete m.covarianceType, /covarianceType is missing/);
      check(
        (m) => (m.covariances = (m.covariances as unknown[]).slice(0, 2)),
        /covariances has 2 matrices but K = 3/,
      );
      check((m) => ((m.covariances as number[][][])[1] = [[1, 0]]), /covariances\[1\] has 1 rows but D = 2/);
      check(
        (m) => ((m.covariances as number[][][])[1][1] = [0]),
        /covariances\[1\]\[1\] has 1 values but D = 2/,
      );
      check(
        (m) => ((m.covariances as number[][][])[2][0][1] = 0.1),
        /covariances\[2\]\[0\]\[1\] is 0\.1 but covariances\[2\]\[1\]\[0\] is 0; a covariance matrix must be symmetric/,
      );
      check(
        (m) => ((m.covariances as number[][][])[0][1][1] = -1),
        /covariances\[0\]\[1\]\[1\] is -1; diagonal/,
      );
      check(
        (m) =>
          ((m.covariances as number[][][])[1] = [
            [1, 2],
            [2, 1],
          ]),
        /covariances\[1\] is not positive definite/,
      );
      check((m) => {
        m.covarianceType = 'diag';
        m.covariances = [
          [1, 1],
          [1, 0],
          [1, 1],
        ];
      }, /covariances\[1\]\[1\] is 0; variances must be > 0/);
      check((m) => {
        m.covarianceType = 'diag';
        m.covariances = [1, 2, 3];
      }, /covariances\[0\] must be an array/);
      check((m) => {
        m.covarianceType = 'spherical';
        m.covariances = [1, -2, 3];
      }, /covariances\[1\] is -2; variances must be > 0/);
      check((m) => {
        m.covarianceType = 'spherical';
        m.covariances = [1, 2];
      }, /covariances has 2 entries but K = 3/);
      check((m) => {
        m.covarianceType = 'tied';
        m.covariances = [[1, 0]];
      }, /covariances has 1 rows but D = 2/);
    });
  });

  it('refuses to serialise non-finite values or wrong shapes', () => {
    const msg = errorOf(() =>
      gmmModelToJson({
        covarianceType: 'spherical',
        nFeatures: 1,
        weights: [1],
        means: [NaN],
        covariances: [1],
      }),
    );
    expect(msg).toContain('means[0]');
    expect(msg).toContain('NaN');
    errorOf(
      () =>
        gmmModelToJson({
          covarianceType: 'full',
          nFeatures: 2,
          weights: [1],
          means: [0, 0],
          covariances: [1, 0, 0],
        }),
      'usage',
    );
    errorOf(
      () =>
        gmmModelToJson({
          covarianceType: 'diag',
          nFeatures: 2,
          weights: [1],
          means: [0],
          covariances: [1, 1],
        }),
      'usage',
    );
    errorOf(
      () =>
        gmmModelToJson({
          covarianceType: 'weird' as CovarianceType,
          nFeatures: 1,
          weights: [1],
          means: [0],
          covariances: [1],
        }),
      'usage',
    );
    errorOf(() => kmeansModelToJson({ nFeatures: 2, means: [1, 2, 3] }), 'usage');
    errorOf(() => kmeansModelToJson({ nFeatures: 1, means: [1], extra: { means: [] } }), 'usage');
  });
});

describe('files', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'webgpu-em-io-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads CSV, TSV and .npy files', async () => {
    await writeFile(join(dir, 'a.csv'), 'x,y\n1,2\n3,4\n');
    const csv = await readDataFile(join(dir, 'a.csv'));
    expect(csv.columnNames).toEqual(['x', 'y']);
    expect(Array.from(csv.matrix.data)).toEqual([1, 2, 3, 4]);

    await writeFile(join(dir, 'b.tsv'), '1\t2\n3\t4\n');
    const tsv = await readDataFile(join(dir, 'b.tsv'), { header: false });
    expect(tsv.columnNames).toBeNull();
    expect(tsv.matrix.rows).toBe(2);

    await writeFile(join(dir, 'c.npy'), encodeNpy(Float64Array.from([1, 2, 3, 4, 5, 6]), 3, 2));
    const npy = await readDataFile(join(dir, 'c.npy'));
    expect(npy.columnNames).toBeNull();
    expect(npy.matrix.rows).toBe(3);
    expect(Array.from(npy.matrix.data)).toEqual([1, 2, 3, 4, 5, 6]);

    // .npy content is recognised whatever the extension.
    await writeFile(join(dir, 'd.bin'), encodeNpy(Float32Array.from([7, 8]), 1, 2));
    expect(Array.from((await readDataFile(join(dir, 'd.bin'))).matrix.data)).toEqual([7, 8]);
  });

  it('names the file in parse errors', async () => {
    const file = join(dir, 'bad.csv');
    await writeFile(file, 'x,y\n1,2\n3,oops\n');
    expect(await asyncErrorOf(readDataFile(file))).toContain(`${file}: line 3, column 2 ("y")`);
    const npz = join(dir, 'x.npz');
    await writeFile(npz, new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0, 0]));
    expect(await asyncErrorOf(readDataFile(npz))).toContain('ZIP');
    const bin = join(dir, 'x.dat');
    await writeFile(bin, new Uint8Array([1, 0, 2, 0]));
    expect(await asyncErrorOf(readDataFile(bin))).toContain('binary');
  });

  it('reports missing files and directories with the OS reason', async () => {
    const missing = join(dir, 'nope.csv');
    const msg = await asyncErrorOf(readDataFile(missing));
    expect(msg).toContain(missing);
    expect(msg).toContain('no such file or directory (ENOENT)');
    const isDir = await asyncErrorOf(readDataFile(dir));
    expect(isDir).toContain(dir);
    expect(isDir).toContain('is a directory');
    expect(await asyncErrorOf(readModelFile(missing))).toContain('ENOENT');
  });

  it('reads model files and reports invalid JSON', async () => {
    const file = join(dir, 'model.json');
    await writeFile(
      file,
      JSON.stringify({ model: kmeansModelToJson({ nFeatures: 2, means: [1, 2, 3, 4] }), inertia: 1 }),
    );
    const spec = await readModelFile(file);
    expect(spec.nComponents).toBe(2);
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{"format": "webgpu-em/kmeans@1",\n "means": [[1, 2]');
    const msg = await asyncErrorOf(readModelFile(broken));
    expect(msg).toContain(broken);
    expect(msg).toContain('invalid JSON');
    const invalid = join(dir, 'invalid.json');
    await writeFile(invalid, '{"format": "webgpu-em/kmeans@1", "means": [[1, "a"]]}');
    expect(await asyncErrorOf(readModelFile(invalid))).toContain(`${invalid}: means[0][1] is "a"`);
  });

  it('writes files atomically without leaving temporary files', async () => {
    const sub = join(dir, 'atomic');
    await mkdir(sub);
    const target = join(sub, 'out.json');
    await writeFileAtomic(target, '{"a": 1}\n');
    expect(await readFile(target, 'utf8')).toBe('{"a": 1}\n');
    await writeFileAtomic(target, 'second');
    expect(await readFile(target, 'utf8')).toBe('second');
    const bytes = encodeNpy(Float32Array.from([1, 2]), 1, 2);
    await writeFileAtomic(join(sub, 'x.npy'), bytes);
    expect(new Uint8Array(await readFile(join(sub, 'x.npy')))).toEqual(bytes);
    expect((await readdir(sub)).sort()).toEqual(['out.json', 'x.npy']);
  });

  it('keeps the permissions of a file it replaces', async () => {
    const target = join(dir, 'private.json');
    await writeFile(target, 'old');
    await chmod(target, 0o600);
    await writeFileAtomic(target, 'new');
    expect((await stat(target)).mode & 0o777).toBe(0o600);
    expect(await readFile(target, 'utf8')).toBe('new');
  });

  it('replaces the file a symbolic link points to', async () => {
    const real = join(dir, 'real.txt');
    const link = join(dir, 'link.txt');
    await writeFile(real, 'old');
    await symlink(real, link);
    await writeFileAtomic(link, 'new');
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readFile(real, 'utf8')).toBe('new');
  });

  it('fails cleanly when the directory does not exist', async () => {
    const sub = join(dir, 'missing-parent');
    const target = join(sub, 'deeper', 'out.json');
    const msg = await asyncErrorOf(writeFileAtomic(target, 'x'));
    expect(msg).toContain(target);
    expect(msg).toContain(join(sub, 'deeper'));
    expect(msg).toContain('does not exist');
    await expect(stat(sub)).rejects.toThrow();
  });

  it('leaves an existing target untouched and removes its temporary file when the rename fails', async () => {
    const sub = join(dir, 'rename-fails');
    await mkdir(sub);
    const target = join(sub, 'taken');
    await mkdir(target);
    await writeFile(join(target, 'keep.txt'), 'keep');
    const msg = await asyncErrorOf(writeFileAtomic(target, 'new content'));
    expect(msg).toContain(target);
    expect(msg).toMatch(/directory|EISDIR|ENOTEMPTY|EEXIST|EPERM/);
    expect((await stat(target)).isDirectory()).toBe(true);
    expect(await readFile(join(target, 'keep.txt'), 'utf8')).toBe('keep');
    expect(await readdir(sub)).toEqual(['taken']);
  });
});
