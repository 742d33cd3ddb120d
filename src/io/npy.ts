import type { Matrix } from '../data/matrix.js';
import { dataError, usageError } from '../errors.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const MAX_VALUES = 2 ** 31;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const CONVERT_HINT = 'convert with np.save(path, x.astype(np.float32))';

const DTYPE_NAMES: Record<string, string> = {
  f2: 'float16',
  f4: 'float32',
  f8: 'float64',
  f16: 'float128',
  i1: 'int8',
  i2: 'int16',
  i4: 'int32',
  i8: 'int64',
  u1: 'uint8',
  u2: 'uint16',
  u4: 'uint32',
  u8: 'uint64',
  b1: 'bool',
  c8: 'complex64',
  c16: 'complex128',
  O: 'object',
};

/** True when the bytes start with the .npy magic string. */
export function isNpy(bytes: Uint8Array): boolean {
  return bytes.length >= MAGIC.length && MAGIC.every((b, i) => bytes[i] === b);
}

/**
 * Reads a NumPy .npy file (format 1.0, 2.0 or 3.0) holding a 2-D little-endian float32
 * (`<f4`), float64 (`<f8`) or integer (int8 to int64, uint8 to uint64: their values, rounded to
 * float32, exact up to 2^24) array of samples x features, in C order or Fortran order (column-major,
transposed as it is read). float64 values are rounded to float32; a
 * value that is NaN, infinite or beyond the float32 range raises a data error with its (0-based) row
 * and column. The result never aliases `bytes`.
 */
export function parseNpy(
  bytes: Uint8Array,
  source = '<input>',
  /** Also read a 1-D array, as one column (sample weights). */
  options: { vector?: boolean } = {},
): Matrix {
  const h = parseNpyHeader(bytes, source, options);
  const need = h.rows * h.cols * h.valueBytes;
  if (bytes.length - h.dataStart < need) {
    throw truncated(
      source,
      `shape ${h.shapeText} ${h.dtype} needs ${need} bytes of data but only ${bytes.length - h.dataStart} follow the header`,
    );
  }
  const values = bytes.subarray(h.dataStart, h.dataStart + need);
  if (!h.fortranOrder) return { data: npyValues(values, h, source, 0), rows: h.rows, cols: h.cols };
  const data = new Float32Array(h.rows * h.cols);
  const column = h.rows * h.valueBytes;
  for (let c = 0; c < h.cols; c++)
    npyColumnInto(values.subarray(c * column, (c + 1) * column), h, source, 0, c, data);
  return { data, rows: h.rows, cols: h.cols };
}

/** What a .npy header says: the shape, where the data starts, and how to read a value. */
export interface NpyHeader {
  readonly rows: number;
  readonly cols: number;
  /** Byte offset of the first value. */
  readonly dataStart: number;
  /** Bytes of one value. */
  readonly valueBytes: number;
  /** The dtype as messages name it: 'float32', 'float64', 'of 2-byte integers'. */
  readonly dtype: string;
  readonly descr: string;
  readonly shapeText: string;
  /** Column-major data (`fortran_order: True`): column c's values are contiguous. */
  readonly fortranOrder: boolean;
}

/**
 * Reads and checks a .npy header (the bytes must hold at least the whole header; the data may
 * follow or not): the checks and errors of {@link parseNpy}, without reading any value.
 */
export function parseNpyHeader(
  bytes: Uint8Array,
  source = '<input>',
  options: { vector?: boolean } = {},
): NpyHeader {
  if (!(bytes instanceof Uint8Array)) {
    throw usageError(`parseNpy expects the file contents as a Uint8Array; got ${typeof bytes}`);
  }
  if (!isNpy(bytes)) {
    throw dataError(
      `${source}: not a .npy file (it does not start with the \\x93NUMPY magic string); save the array with np.save(path, x)`,
    );
  }
  if (bytes.length < 10) throw truncated(source, 'the header is cut short');
  const major = bytes[6];
  const minor = bytes[7];
  if (![1, 2, 3].includes(major) || minor !== 0) {
    throw dataError(
      `${source}: unsupported .npy format version ${major}.${minor} (supported: 1.0, 2.0, 3.0); re-save the array with np.save from a current NumPy`,
    );
  }
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = bytes[8] | (bytes[9] << 8);
    headerStart = 10;
  } else {
    if (bytes.length < 12) throw truncated(source, 'the header is cut short');
    headerLen = (bytes[8] | (bytes[9] << 8) | (bytes[10] << 16)) + bytes[11] * 2 ** 24;
    headerStart = 12;
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) {
    throw truncated(
      source,
      `the header says it is ${headerLen} bytes long but only ${bytes.length - headerStart} follow`,
    );
  }
  const headerBytes = bytes.subarray(headerStart, dataStart);
  let headerText = '';
  if (major === 3) headerText = new TextDecoder('utf-8').decode(headerBytes);
  else for (let i = 0; i < headerBytes.length; i++) headerText += String.fromCharCode(headerBytes[i]);

  let header: unknown;
  try {
    header = new PyLiteralParser(headerText).parseTop();
  } catch (e) {
    throw dataError(
      `${source}: malformed .npy header (${(e as Error).message}); re-save the array with np.save(path, x)`,
    );
  }
  if (!isRecord(header)) {
    throw dataError(
      `${source}: malformed .npy header (not a dictionary); re-save the array with np.save(path, x)`,
    );
  }
  for (const key of ['descr', 'fortran_order', 'shape']) {
    if (!(key in header)) {
      throw dataError(
        `${source}: malformed .npy header (no '${key}' field); re-save the array with np.save(path, x)`,
      );
    }
  }

  const descr = header.descr;
  if (typeof descr !== 'string') {
    throw dataError(
      `${source}: header field 'descr' describes a structured dtype; only plain float32 ('<f4') or float64 ('<f8') arrays are accepted: ${CONVERT_HINT}`,
    );
  }
  let itemSize: 4 | 8;
  const integer = INTEGER_TYPES[descr.replace(/^\|/, '<')];
  if (descr === '<f4') itemSize = 4;
  else if (descr === '<f8' || integer) itemSize = 8;
  else {
    const code = /^[<>=|]/.test(descr) ? descr.slice(1) : descr;
    const name = DTYPE_NAMES[code] ?? (/^[US]\d/.test(code) ? 'string' : 'unknown');
    const what = descr.startsWith('>') ? `big-endian ${name}` : name;
    const shown = JSON.stringify(descr.slice(0, 40)).slice(1, -1);
    throw dataError(
      `${source}: header field 'descr' is '${shown}' (${what}); only little-endian float32 ('<f4'), float64 ('<f8') and integers are accepted: ${CONVERT_HINT}`,
    );
  }

  if (typeof header.fortran_order !== 'boolean') {
    throw dataError(
      `${source}: malformed .npy header (field 'fortran_order' is not True or False); re-save the array with np.save(path, x)`,
    );
  }

  const shape = header.shape;
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) {
    throw dataError(
      `${source}: malformed .npy header (field 'shape' is not a tuple of non-negative integers); re-save the array with np.save(path, x)`,
    );
  }
  const shapeText = `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
  if (shape.length === 1 && options.vector) shape.push(1);
  if (shape.length === 1) {
    throw dataError(
      `${source}: header field 'shape' is ${shapeText}, a 1-D array; save a 2-D array of samples x features, e.g. np.save(path, x.reshape(-1, 1)) for one feature`,
    );
  }
  if (shape.length !== 2) {
    throw dataError(
      `${source}: header field 'shape' is ${shapeText}, a ${shape.length}-D array; save a 2-D array of samples x features, e.g. np.save(path, x.reshape(len(x), -1))`,
    );
  }
  const [rows, cols] = shape as number[];
  if (rows === 0 || cols === 0) {
    throw dataError(
      `${source}: header field 'shape' is ${shapeText}: no data; save an array with at least one row (sample) and one column (feature)`,
    );
  }
  if (rows * cols > MAX_VALUES) {
    throw dataError(
      `${source}: header field 'shape' is ${shapeText}: more than 2^31 values; split or subsample the data`,
    );
  }
  return {
    rows,
    cols,
    dataStart,
    valueBytes: integer ? integer.size : itemSize,
    dtype: integer ? `of ${integer.size}-byte integers` : itemSize === 4 ? 'float32' : 'float64',
    descr,
    shapeText,
    fortranOrder: header.fortran_order,
  };
}

/**
 * The values of whole rows of a .npy file's data (`data` holds exactly those rows) as float32,
 * checked finite; `firstRow` numbers the rows in errors.
 */
export function npyValues(data: Uint8Array, h: NpyHeader, source: string, firstRow: number): Float32Array {
  return convertValues(data, h, source, (i) => [firstRow + Math.floor(i / h.cols), i % h.cols]);
}

/**
 * Rows firstRow.. of one column of a Fortran-order file's data (`data` holds exactly those
 * values), checked finite, written into `out` (row-major, `out.length / h.cols` rows from 0).
 */
export function npyColumnInto(
  data: Uint8Array,
  h: NpyHeader,
  source: string,
  firstRow: number,
  column: number,
  out: Float32Array,
): void {
  const values = convertValues(data, h, source, (i) => [firstRow + i, column]);
  for (let i = 0; i < values.length; i++) out[i * h.cols + column] = values[i];
}

/** Values as float32, checked finite; `at(i)` says which (row, column) value i is, for errors. */
function convertValues(
  data: Uint8Array,
  h: NpyHeader,
  source: string,
  at: (i: number) => [number, number],
): Float32Array {
  const count = data.length / h.valueBytes;
  const offset = data.byteOffset;
  const out = new Float32Array(count);
  const integer = INTEGER_TYPES[h.descr.replace(/^\|/, '<')];
  if (integer) {
    const view = new DataView(data.buffer, offset, data.length);
    for (let i = 0; i < count; i++) out[i] = integer.read(view, i * integer.size);
  } else if (h.valueBytes === 4) {
    if (LITTLE_ENDIAN_HOST) {
      out.set(
        offset % 4 === 0
          ? new Float32Array(data.buffer, offset, count)
          : new Float32Array(data.slice().buffer),
      );
    } else {
      const view = new DataView(data.buffer, offset, data.length);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
    }
    checkFinite(out, source, null, at);
  } else {
    let src: Float64Array;
    if (LITTLE_ENDIAN_HOST) {
      src =
        offset % 8 === 0
          ? new Float64Array(data.buffer, offset, count)
          : new Float64Array(data.slice().buffer);
    } else {
      const view = new DataView(data.buffer, offset, data.length);
      src = new Float64Array(count);
      for (let i = 0; i < count; i++) src[i] = view.getFloat64(i * 8, true);
    }
    out.set(src);
    checkFinite(out, source, src, at);
  }
  return out;
}

/** Integer dtypes, read as their values rounded to float32 (exact up to 2^24). */
const INTEGER_TYPES: Record<string, { size: number; read: (v: DataView, at: number) => number }> = {
  '<i1': { size: 1, read: (v, at) => v.getInt8(at) },
  '<u1': { size: 1, read: (v, at) => v.getUint8(at) },
  '<i2': { size: 2, read: (v, at) => v.getInt16(at, true) },
  '<u2': { size: 2, read: (v, at) => v.getUint16(at, true) },
  '<i4': { size: 4, read: (v, at) => v.getInt32(at, true) },
  '<u4': { size: 4, read: (v, at) => v.getUint32(at, true) },
  '<i8': { size: 8, read: (v, at) => Number(v.getBigInt64(at, true)) },
  '<u8': { size: 8, read: (v, at) => Number(v.getBigUint64(at, true)) },
};

function checkFinite(
  out: Float32Array,
  source: string,
  original: Float64Array | null,
  at: (i: number) => [number, number],
): void {
  for (let i = 0; i < out.length; i++) {
    const x = out[i];
    if (x - x !== 0) {
      const v = original ? original[i] : x;
      const [row, column] = at(i);
      const where = `row ${row} (0-based), column ${column} (0-based)`;
      if (Number.isFinite(v)) {
        throw dataError(
          `${source}: value ${v} at ${where} is outside the float32 range (about +-3.4e38); rescale the data before saving`,
        );
      }
      throw dataError(
        `${source}: non-finite value ${v} at ${where}; remove or impute it, e.g. x = x[np.isfinite(x).all(axis=1)]`,
      );
    }
  }
}

function truncated(source: string, detail: string): Error {
  return dataError(`${source}: truncated .npy file (${detail}); copy or save the file again`);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * The magic string and header of a version 1.0 .npy file of rows x cols values of `descr`,
 * padded so the data starts at a multiple of 64 bytes, as NumPy does.
 */
export function npyHeaderBytes(descr: '<i4' | '<f4' | '<f8', rows: number, cols: number): Uint8Array {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const pad = (64 - ((10 + dict.length + 1) % 64)) % 64;
  const header = dict + ' '.repeat(pad) + '\n';
  const out = new Uint8Array(10 + header.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  return out;
}

/**
 * Writes a 2-D C-ordered array as a version 1.0 .npy file: dtype `<f4` for a Float32Array, `<f8` for
 * a Float64Array, `<i4` for an Int32Array. The header is padded so the data starts at a multiple of 64 bytes, as NumPy does.
 */
export function encodeNpy(
  data: Float32Array | Float64Array | Int32Array,
  rows: number,
  cols: number,
): Uint8Array {
  if (!(data instanceof Float32Array) && !(data instanceof Float64Array) && !(data instanceof Int32Array)) {
    throw usageError('encodeNpy expects a Float32Array, Float64Array or Int32Array');
  }
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
    throw usageError(`encodeNpy: rows and cols must be non-negative integers; got ${rows} x ${cols}`);
  }
  if (data.length !== rows * cols) {
    throw usageError(
      `encodeNpy: data has ${data.length} values but rows x cols = ${rows} x ${cols} = ${rows * cols}; fix rows/cols or the data length`,
    );
  }
  const itemSize = data instanceof Float64Array ? 8 : 4;
  const head = npyHeaderBytes(data instanceof Int32Array ? '<i4' : `<f${itemSize}`, rows, cols);
  const dataStart = head.length;
  const out = new Uint8Array(dataStart + data.length * itemSize);
  out.set(head);
  if (LITTLE_ENDIAN_HOST) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), dataStart);
  } else {
    const view = new DataView(out.buffer, dataStart);
    for (let i = 0; i < data.length; i++) {
      if (data instanceof Int32Array) view.setInt32(i * 4, data[i], true);
      else if (itemSize === 4) view.setFloat32(i * 4, data[i], true);
      else view.setFloat64(i * 8, data[i], true);
    }
  }
  return out;
}

/**
 * A parser for the Python literal in a .npy header: dicts, tuples, lists, strings, integers,
 * True/False/None.
 */
class PyLiteralParser {
  private i = 0;

  constructor(private readonly s: string) {}

  parseTop(): unknown {
    const v = this.value();
    this.ws();
    if (this.i < this.s.length)
      throw new Error(`unexpected ${JSON.stringify(this.s[this.i])} after the dictionary`);
    return v;
  }

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
  }

  private value(): unknown {
    this.ws();
    const c = this.s[this.i];
    if (c === undefined) throw new Error('unexpected end of header');
    if (c === '{') return this.dict();
    if (c === '(') return this.sequence(')');
    if (c === '[') return this.sequence(']');
    if (c === "'" || c === '"') return this.string();
    const m = /^(True|False|None|[+-]?\d+L?)/.exec(this.s.slice(this.i, this.i + 40));
    if (!m) throw new Error(`unexpected ${JSON.stringify(c)} at character ${this.i}`);
    this.i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    return Number.parseInt(m[0], 10);
  }

  private string(): string {
    const quote = this.s[this.i++];
    let out = '';
    while (this.i < this.s.length && this.s[this.i] !== quote) {
      if (this.s[this.i] === '\\') this.i++;
      out += this.s[this.i++] ?? '';
    }
    if (this.i >= this.s.length) throw new Error('unterminated string');
    this.i++;
    return out;
  }

  private sequence(close: string): unknown[] {
    this.i++;
    const out: unknown[] = [];
    for (;;) {
      this.ws();
      if (this.s[this.i] === close) {
        this.i++;
        return out;
      }
      out.push(this.value());
      this.ws();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== close) throw new Error(`expected ',' or '${close}' at character ${this.i}`);
    }
  }

  private dict(): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = {};
    for (;;) {
      this.ws();
      if (this.s[this.i] === '}') {
        this.i++;
        return out;
      }
      const key = this.value();
      if (typeof key !== 'string') throw new Error('a dictionary key is not a string');
      this.ws();
      if (this.s[this.i] !== ':') throw new Error(`expected ':' at character ${this.i}`);
      this.i++;
      out[key] = this.value();
      this.ws();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== '}') throw new Error(`expected ',' or '}' at character ${this.i}`);
    }
  }
}
