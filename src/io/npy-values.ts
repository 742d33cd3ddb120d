import { dataError } from '../errors.js';
import { integerType, LITTLE_ENDIAN_HOST } from './npy-dtypes.js';
import type { NpyHeader } from './npy-header.js';

// The values of a .npy file's data as float32, checked finite: whole rows (C order) or a run of
// one column (Fortran order), so that a file can be read a block at a time as well as at once.

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
  const integer = integerType(h.descr);
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
