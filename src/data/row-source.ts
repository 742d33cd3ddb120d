import { dataError, usageError } from '../errors.js';
import { toMatrix, type Matrix, type MatrixInput } from './matrix.js';
import { toSampleWeights } from './weights.js';

/**
 * One piece of a streamed data set: `rows` samples of `cols` features, row-major, and
 * optionally one weight per row (finite, >= 0).
 */
export interface RowChunk {
  readonly data: Float32Array | Float64Array;
  readonly rows: number;
  readonly cols: number;
  readonly weights?: ArrayLike<number> | null;
}

/**
 * Data too large to hold at once: a function that returns a fresh iterable of row chunks for
 * each pass over the data (a file read piece by piece, rows from a database, ...). Every pass
 * must give the same rows in the same order; chunks may have any number of rows.
 */
export type RowSource = () => AsyncIterable<RowChunk> | Iterable<RowChunk>;

/**
 * Samples already on the GPU: `rows` x `cols` float32 values, row-major from byte 0, in a buffer
 * of the device the model was given (`device` option), with STORAGE usage (and COPY_SRC, so that
 * an initialisation sample can be read; and to split data larger than one storage binding).
 */
export interface GpuRows {
  readonly buffer: GPUBuffer;
  readonly rows: number;
  readonly cols: number;
}

/** Data in memory, a {@link RowSource} read chunk by chunk on every pass, or {@link GpuRows}. */
export type DataInput = MatrixInput | RowSource | GpuRows;

/** True when the input is a caller's GPU buffer of samples. */
export function isGpuRows(x: unknown): x is GpuRows {
  // A typed array has a `buffer` too (its ArrayBuffer): it is flat data, not a GPU buffer.
  return typeof x === 'object' && x !== null && 'buffer' in x && !('data' in x) && !ArrayBuffer.isView(x);
}

/** True when the input is a {@link RowSource} rather than data in memory. */
export function isRowSource(x: unknown): x is RowSource {
  return typeof x === 'function';
}

/** A chunk checked and as float32, with its checked weights (null: each row counts once). */
export interface CheckedChunk {
  readonly matrix: Matrix;
  readonly weights: Float64Array | null;
}

/**
 * The chunks of one pass, checked (finite values, the same width throughout, weights), in
 * pieces of at most `maxRows` rows (views, not copies). Rows are counted from 0 over the pass
 * in error messages.
 */
export async function* sourceChunks(
  source: RowSource,
  maxRows: number,
  cols: number | null,
  signal?: AbortSignal,
): AsyncGenerator<CheckedChunk> {
  const iterable = source();
  if (!iterable || (!(Symbol.asyncIterator in iterable) && !(Symbol.iterator in iterable))) {
    throw usageError('a row source must be a function that returns an (async) iterable of { data, rows, cols } chunks');
  }
  let first = 0;
  let index = 0;
  for await (const chunk of iterable) {
    signal?.throwIfAborted();
    const matrix = toMatrix(chunk as RowChunk, `chunk ${index} (rows ${first}..)`);
    if (cols !== null && matrix.cols !== cols) {
      throw dataError(
        `chunk ${index} of the row source has ${matrix.cols} columns but the first had ${cols}; every chunk needs the same features`,
      );
    }
    cols = matrix.cols;
    const weights = chunk.weights == null ? null : checkChunkWeights(chunk.weights, matrix.rows, index);
    for (let r = 0; r < matrix.rows; r += maxRows) {
      const end = Math.min(matrix.rows, r + maxRows);
      yield {
        matrix: { data: matrix.data.subarray(r * cols, end * cols), rows: end - r, cols },
        weights: weights ? weights.subarray(r, end) : null,
      };
    }
    first += matrix.rows;
    index++;
  }
}

/** Weights of one chunk: finite, >= 0 (a chunk may weigh 0 in all; the whole may not). */
function checkChunkWeights(w: ArrayLike<number>, rows: number, index: number): Float64Array {
  if (w.length !== rows) {
    throw dataError(`chunk ${index} has ${rows} rows but ${w.length} weights; give one weight per row`);
  }
  const out = Float64Array.from(w);
  for (let r = 0; r < rows; r++) {
    if (!(out[r] >= 0) || !Number.isFinite(out[r])) {
      throw dataError(`chunk ${index}: weight ${r} is ${out[r]}; weights must be finite and >= 0`);
    }
  }
  // A chunk of positive total goes through the same check as in-memory weights.
  return out.some((v) => v > 0) ? toSampleWeights(out, rows, `chunk ${index}'s weights`) : out;
}

/**
 * Consecutive chunks joined into pieces of at least `minRows` rows (the last may be shorter), so
 * that a reader's small blocks do not each cost a device binding; a chunk already that long
 * passes through uncopied (after the pieces before it), so a joined piece is under 2 minRows.
 */
export async function* joinedChunks(
  chunks: AsyncIterable<CheckedChunk>,
  minRows: number,
): AsyncGenerator<CheckedChunk> {
  let parts: CheckedChunk[] = [];
  let rows = 0;
  for await (const chunk of chunks) {
    if (chunk.matrix.rows >= minRows) {
      if (parts.length > 0) yield joinChunks(parts, rows);
      parts = [];
      rows = 0;
      yield chunk;
      continue;
    }
    parts.push(chunk);
    rows += chunk.matrix.rows;
    if (rows >= minRows) {
      yield joinChunks(parts, rows);
      parts = [];
      rows = 0;
    }
  }
  if (parts.length > 0) yield joinChunks(parts, rows);
}

function joinChunks(parts: CheckedChunk[], rows: number): CheckedChunk {
  if (parts.length === 1) return parts[0];
  const cols = parts[0].matrix.cols;
  const data = new Float32Array(rows * cols);
  const weighted = parts.some((p) => p.weights !== null);
  const weights = weighted ? new Float64Array(rows) : null;
  let at = 0;
  for (const p of parts) {
    data.set(p.matrix.data, at * cols);
    // A chunk without weights counts each row once.
    if (weights) weights.set(p.weights ?? new Float64Array(p.matrix.rows).fill(1), at);
    at += p.matrix.rows;
  }
  return { matrix: { data, rows, cols }, weights };
}
