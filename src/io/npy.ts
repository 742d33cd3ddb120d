import type { Matrix } from '../data/matrix.js';
import { usageError } from '../errors.js';
import { LITTLE_ENDIAN_HOST } from './npy-dtypes.js';
import { MAGIC, parseNpyHeader, truncated } from './npy-header.js';
import { npyColumnInto, npyValues } from './npy-values.js';

// Whole .npy files, read and written. The header, the dtypes and the values each have a module
// of their own (npy-header.ts, npy-dtypes.ts, npy-values.ts), which block-wise readers share.

/**
 * Reads a NumPy .npy file (format 1.0, 2.0 or 3.0) holding a 2-D little-endian float32
 * (`<f4`), float64 (`<f8`) or integer (int8 to int64, uint8 to uint64: their values, rounded to
 * float32, exact up to 2^24) array of samples x features, in C order or Fortran order (column-major,
 * transposed as it is read). float64 values are rounded to float32; a value that is NaN, infinite
 * or beyond the float32 range raises a data error with its (0-based) row and column. The result
 * never aliases `bytes`.
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
