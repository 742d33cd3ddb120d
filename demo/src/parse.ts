/**
 * The user's own data: CSV (comma, tab, semicolon or space separated; an optional header) and
 * NumPy `.npy` (a 1-D or 2-D C-ordered array of floats or integers), read from a File in pieces
 * so that a file of hundreds of megabytes never sits in memory twice nor blocks a thread for long.
 * A file that does not parse is an error naming the line (or element) and the reason.
 */
import { MAX_ROWS, MAX_VALUES, type Dataset } from './data.js';

/** Bytes read at once. */
const PIECE = 8 * 1024 * 1024;

/** A growable float32 array. */
class Values {
  data = new Float32Array(1 << 16);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parses CSV text fed in pieces; `finish` returns the matrix. */
export class CsvParser {
  private rest = '';
  private line = 0;
  private cols = 0;
  private rows = 0;
  private delimiter: RegExp | string | null = null;
  private header: string[] | null = null;
  private readonly values = new Values();

  push(text: string): void {
    const lines = (this.rest + text).split('\n');
    this.rest = lines.pop()!;
    for (const l of lines) this.parseLine(l);
  }

  finish(name: string): Dataset {
    if (this.rest) this.parseLine(this.rest);
    this.rest = '';
    if (this.rows === 0) throw new Error(`${name}: no rows of numbers found`);
    return {
      name,
      data: this.values.data.slice(0, this.values.length),
      rows: this.rows,
      cols: this.cols,
      columns: this.header,
      truth: null,
    };
  }

  private parseLine(raw: string): void {
    this.line++;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.trim() === '' || text.startsWith('#')) return;
    this.delimiter ??= text.includes(',')
      ? ','
      : text.includes('\t')
        ? '\t'
        : text.includes(';')
          ? ';'
          : /\s+/;
    const cells = text
      .trim()
      .split(this.delimiter)
      .map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
    if (this.cols === 0) {
      this.cols = cells.length;
      if (
        this.header === null &&
        cells.some((c) => c !== '' && !NUMBER.test(c) && !/^[+-]?(nan|inf)/i.test(c))
      ) {
        this.header = cells;
        return;
      }
    }
    if (cells.length !== this.cols) {
      throw new Error(
        `line ${this.line}: ${cells.length} values, but ${this.header ? 'the header has' : 'the first row has'} ${this.cols}`,
      );
    }
    if (this.rows >= MAX_ROWS || (this.rows + 1) * this.cols > MAX_VALUES) {
      throw new Error(
        `line ${this.line}: the demo holds at most ${MAX_ROWS.toLocaleString('en')} rows and ${MAX_VALUES.toLocaleString('en')} values`,
      );
    }
    for (let c = 0; c < cells.length; c++) {
      const cell = cells[c];
      if (cell === '') throw new Error(`line ${this.line}, column ${c + 1}: empty value`);
      if (!NUMBER.test(cell))
        throw new Error(`line ${this.line}, column ${c + 1}: '${cell.slice(0, 40)}' is not a number`);
      const v = Number(cell);
      if (!Number.isFinite(Math.fround(v)))
        throw new Error(`line ${this.line}, column ${c + 1}: ${cell} is beyond float32's range`);
      this.values.push(v);
    }
    this.rows++;
  }
}

/** Reads a CSV file in pieces, reporting the fraction read. */
export async function readCsv(
  file: Blob & { name: string },
  progress: (f: number) => void,
): Promise<Dataset> {
  const parser = new CsvParser();
  const decoder = new TextDecoder();
  for (let at = 0; at < file.size; at += PIECE) {
    const bytes = await file.slice(at, at + PIECE).arrayBuffer();
    parser.push(decoder.decode(bytes, { stream: at + PIECE < file.size }));
    progress(Math.min(1, (at + PIECE) / file.size));
  }
  return parser.finish(file.name);
}

const NPY_TYPES: Record<string, { bytes: number; read: (v: DataView, at: number) => number }> = {
  f4: { bytes: 4, read: (v, at) => v.getFloat32(at, true) },
  f8: { bytes: 8, read: (v, at) => v.getFloat64(at, true) },
  i1: { bytes: 1, read: (v, at) => v.getInt8(at) },
  u1: { bytes: 1, read: (v, at) => v.getUint8(at) },
  i2: { bytes: 2, read: (v, at) => v.getInt16(at, true) },
  u2: { bytes: 2, read: (v, at) => v.getUint16(at, true) },
  i4: { bytes: 4, read: (v, at) => v.getInt32(at, true) },
  u4: { bytes: 4, read: (v, at) => v.getUint32(at, true) },
  i8: { bytes: 8, read: (v, at) => Number(v.getBigInt64(at, true)) },
  u8: { bytes: 8, read: (v, at) => Number(v.getBigUint64(at, true)) },
};

/** Reads a `.npy` file (format 1.0 to 3.0) in pieces. */
export async function readNpy(
  file: Blob & { name: string },
  progress: (f: number) => void,
): Promise<Dataset> {
  const head = new DataView(await file.slice(0, 12).arrayBuffer());
  const magic = String.fromCharCode(...new Uint8Array(head.buffer, 0, Math.min(6, head.byteLength)));
  if (magic !== '\x93NUMPY') throw new Error(`${file.name}: not a .npy file (no \\x93NUMPY magic)`);
  const major = head.getUint8(6);
  const headerLength = major === 1 ? head.getUint16(8, true) : head.getUint32(8, true);
  const offset = (major === 1 ? 10 : 12) + headerLength;
  const header = new TextDecoder().decode(await file.slice(major === 1 ? 10 : 12, offset).arrayBuffer());
  const descr = /'descr':\s*'([<>|=])([a-z]\d+)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape)
    throw new Error(`${file.name}: the .npy header is malformed: ${header.trim()}`);
  const type = NPY_TYPES[descr[2]];
  if (!type)
    throw new Error(`${file.name}: dtype '${descr[2]}' is not supported; save as float32 or float64`);
  if (descr[1] === '>' && type.bytes > 1)
    throw new Error(`${file.name}: big-endian data; save with arr.astype('<f4')`);
  if (fortran[1] === 'True')
    throw new Error(`${file.name}: Fortran-ordered array; save np.ascontiguousarray(arr)`);
  const dims = shape[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (dims.length < 1 || dims.length > 2)
    throw new Error(`${file.name}: shape (${dims.join(', ')}); need (N,) or (N, D)`);
  const [rows, cols = 1] = dims;
  if (rows < 1 || rows > MAX_ROWS || rows * cols > MAX_VALUES) {
    throw new Error(
      `${file.name}: ${rows} x ${cols}; the demo holds 1 to ${MAX_ROWS.toLocaleString('en')} rows and at most ${MAX_VALUES.toLocaleString('en')} values`,
    );
  }
  const count = rows * cols;
  if (file.size < offset + count * type.bytes) {
    throw new Error(
      `${file.name}: the header says ${rows} x ${cols} values but the file is ${file.size} bytes, too short`,
    );
  }
  const data = new Float32Array(count);
  const perPiece = Math.floor(PIECE / type.bytes);
  for (let first = 0; first < count; first += perPiece) {
    const n = Math.min(perPiece, count - first);
    const view = new DataView(
      await file.slice(offset + first * type.bytes, offset + (first + n) * type.bytes).arrayBuffer(),
    );
    for (let i = 0; i < n; i++) {
      const v = type.read(view, i * type.bytes);
      if (!Number.isFinite(Math.fround(v))) {
        const at = first + i;
        throw new Error(
          `${file.name}: row ${Math.floor(at / cols) + 1}, column ${(at % cols) + 1} is ${v}; every value must be finite`,
        );
      }
      data[first + i] = v;
    }
    progress((first + n) / count);
  }
  return { name: file.name, data, rows, cols, columns: null, truth: null };
}
