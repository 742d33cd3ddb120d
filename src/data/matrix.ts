import { dataError } from '../errors.js';

/** A dense row-major matrix of float32 samples: `rows` samples with `cols` features each. */
export interface Matrix {
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

/** What the public API accepts as data: a row-major matrix, or an array of equally long rows. */
export type MatrixInput = Matrix | { data: Float32Array | Float64Array; rows: number; cols: number } | number[][];

/**
 * Checks and converts user data into a float32 {@link Matrix}. Rejects empty data, ragged rows and
 * non-finite values with an error that names the row and column (0-based).
 */
export function toMatrix(input: MatrixInput, what = 'X'): Matrix {
  const flat = flatValues(input);
  if (flat !== null) {
    throw dataError(
      `${what} is ${flat}, with no shape; pass { data: Float32Array, rows, cols } (row-major, rows x cols values) or number[][] (one array per sample)`,
    );
  }
  if (Array.isArray(input)) return fromRows(input, what);
  if (!input || typeof input !== 'object' || !('data' in input)) {
    throw dataError(`${what} must be { data: Float32Array, rows, cols } or number[][]; got ${describe(input)}`);
  }
  const { rows, cols } = input;
  if (!Number.isInteger(rows) || rows < 1) throw dataError(`${what} has ${rows} rows; at least 1 is needed`);
  if (!Number.isInteger(cols) || cols < 1)
    throw dataError(`${what} has ${cols} columns (features); at least 1 is needed`);
  if (input.data.length !== rows * cols) {
    throw dataError(
      `${what}.data has ${input.data.length} values but rows x cols = ${rows} x ${cols} = ${rows * cols}; fix rows/cols or the data length`,
    );
  }
  const data = input.data instanceof Float32Array ? input.data : Float32Array.from(input.data);
  checkFinite(data, cols, what, input.data);
  return { data, rows, cols };
}

function fromRows(rowsIn: number[][], what: string): Matrix {
  const rows = rowsIn.length;
  if (rows === 0) throw dataError(`${what} has no rows; at least 1 is needed`);
  const first = rowsIn[0];
  if (!Array.isArray(first)) throw dataError(`${what}[0] is not an array; pass number[][] (one array per sample)`);
  const cols = first.length;
  if (cols === 0) throw dataError(`${what} has 0 columns (features); at least 1 is needed`);
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const row = rowsIn[r];
    if (!Array.isArray(row) || row.length !== cols) {
      throw dataError(
        `${what} is ragged: row ${r} has ${Array.isArray(row) ? row.length : 'no'} values, row 0 has ${cols}; every row needs the same number of features`,
      );
    }
    for (let c = 0; c < cols; c++) {
      const v = row[c];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw dataError(`${what} has a non-finite value (${String(v)}) at row ${r}, column ${c}; remove or impute it`);
      }
      data[r * cols + c] = v;
    }
  }
  checkFinite(data, cols, what);
  return { data, rows, cols };
}

/** float64 values beyond float32's range become Infinity on conversion: check after it. */
function checkFinite(data: Float32Array, cols: number, what: string, original?: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      const v = original ? original[i] : data[i];
      const why = Number.isFinite(v) ? ` (${v} does not fit in float32)` : ` (${v})`;
      throw dataError(
        `${what} has a non-finite value${why} at row ${Math.floor(i / cols)}, column ${i % cols}; remove or impute it`,
      );
    }
  }
}

/** What flat values without rows and cols are, for the message ('a Float32Array of 10 values'), or null. */
function flatValues(x: unknown): string | null {
  if (ArrayBuffer.isView(x) && !(x instanceof DataView)) {
    const values = (x as unknown as ArrayLike<number>).length;
    return `a ${x.constructor.name} of ${values} values`;
  }
  if (Array.isArray(x) && typeof x[0] === 'number') return `a flat array of ${x.length} numbers`;
  return null;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x;
}
