import type { Matrix } from '../data/matrix.js';
import { usageError } from '../errors.js';
import { parseNpyHeader, truncated } from './npy-header.js';
import { npyColumnInto, npyValues } from './npy-values.js';

// A .npy file read from a Blob a piece at a time: a browser cannot map a file, and one of
// hundreds of megabytes should not sit in memory twice (bytes and values). The header, the
// dtypes, both orders and every check are those of the command line's .npy reading.

/** Bytes read for the header (NumPy writes a few hundred; row-files.ts reads as many). */
const HEADER_BYTES = 1 << 20;

/** Default of {@link NpyBlobOptions.pieceBytes}. */
const PIECE_BYTES = 8 << 20;

/** Options of {@link readNpyBlob}. */
export interface NpyBlobOptions {
  /** Names the file in messages; default the Blob's `name` (a `File` has one), else `<input>`. */
  source?: string;
  /** Also read a 1-D array, as one column. */
  vector?: boolean;
  /**
   * Called with the shape once the header is read, before any value is: throw to refuse the
   * file (too large to hold, say) before its values are allocated.
   */
  onShape?: (rows: number, cols: number) => void;
  /** Called after each piece with the fraction of the values read (1 at the end). */
  onProgress?: (fraction: number) => void;
  /** Stops reading between pieces when aborted (the promise rejects with its reason). */
  signal?: AbortSignal;
  /** Bytes read at once; default 8 MiB. */
  pieceBytes?: number;
}

/**
 * Reads a NumPy `.npy` file from a Blob (a browser `File`, or Node's `fs.openAsBlob(path)`) a
 * piece at a time: a 2-D array of samples x features (a 1-D one too with `vector`) of
 * little-endian float32, float64 or integers, in C order or Fortran order (transposed as it is
 * read), as float32 rows. A file that is not such an array, is cut short, or holds a value that
 * is not finite in float32 is a data error naming the field, or the (0-based) row and column.
 */
export async function readNpyBlob(blob: Blob, options: NpyBlobOptions = {}): Promise<Matrix> {
  if (typeof Blob === 'undefined' || !(blob instanceof Blob)) {
    throw usageError(
      `readNpyBlob expects a Blob (a File, or fs.openAsBlob(path) in Node); got ${typeof blob}`,
    );
  }
  const named = (blob as Blob & { name?: unknown }).name;
  const source = options.source ?? (typeof named === 'string' && named !== '' ? named : '<input>');
  const piece = options.pieceBytes ?? PIECE_BYTES;
  if (!Number.isInteger(piece) || piece < 1)
    throw usageError(`pieceBytes must be a positive integer; got ${piece}`);
  const read = async (from: number, to: number) => new Uint8Array(await blob.slice(from, to).arrayBuffer());

  const h = parseNpyHeader(await read(0, HEADER_BYTES), source, { vector: options.vector });
  options.onShape?.(h.rows, h.cols);
  const need = h.rows * h.cols * h.valueBytes;
  if (blob.size - h.dataStart < need) {
    throw truncated(
      source,
      `shape ${h.shapeText} ${h.dtype} needs ${need} bytes of data but only ${blob.size - h.dataStart} follow the header`,
    );
  }
  const data = new Float32Array(h.rows * h.cols);
  const total = data.length;
  let done = 0;
  const step = (values: number) => {
    done += values;
    options.onProgress?.(done / total);
  };
  if (!h.fortranOrder) {
    // Whole rows a piece.
    const rowBytes = h.cols * h.valueBytes;
    const pieceRows = Math.max(1, Math.floor(piece / rowBytes));
    for (let r = 0; r < h.rows; r += pieceRows) {
      options.signal?.throwIfAborted();
      const n = Math.min(pieceRows, h.rows - r);
      const at = h.dataStart + r * rowBytes;
      data.set(npyValues(await read(at, at + n * rowBytes), h, source, r), r * h.cols);
      step(n * h.cols);
    }
  } else {
    // Column-major: a piece is a run of one column, written to its place in the rows.
    const pieceRows = Math.max(1, Math.floor(piece / h.valueBytes));
    for (let c = 0; c < h.cols; c++) {
      for (let r = 0; r < h.rows; r += pieceRows) {
        options.signal?.throwIfAborted();
        const n = Math.min(pieceRows, h.rows - r);
        const at = h.dataStart + (c * h.rows + r) * h.valueBytes;
        const rows = data.subarray(r * h.cols, (r + n) * h.cols);
        npyColumnInto(await read(at, at + n * h.valueBytes), h, source, r, c, rows);
        step(n);
      }
    }
  }
  return { data, rows: h.rows, cols: h.cols };
}
