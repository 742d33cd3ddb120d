import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { RowChunk, RowSource } from '../data/row-source.js';
import { dataError, usageError } from '../errors.js';
import { parseCsv, type CsvContinuation } from './csv.js';
import type { ReadOptions } from './files.js';
import { checkRawFormat } from './raw-float32.js';
import { regularInput } from './read-bytes.js';
import { isNpy, parseNpyHeader, type NpyHeader } from './npy-header.js';
import { npyColumnInto, npyValues } from './npy-values.js';
import { readError } from './os-files.js';

// Data files read a block at a time, as row sources: every pass reads the file again, so host
// memory holds a few blocks whatever the file's size.

/** Bytes read at a time by default (whole rows of binary data, whole lines of text). */
export const DEFAULT_BLOCK_BYTES = 4 * 2 ** 20;

/** Longest CSV line accepted (a line longer than a block makes the block grow up to it). */
const MAX_LINE_BYTES = 64 * 2 ** 20;

/** A data file opened as a {@link RowSource}. */
export interface DataFileSource {
  /** A fresh pass over the file's rows each call. */
  readonly source: RowSource;
  /** Features per row (after a column selection). */
  readonly cols: number;
  /** Rows, when the header or the size says (.npy, raw); null for text until a pass counted them. */
  readonly rows: number | null;
  readonly columnNames: string[] | null;
  readonly dropped?: string[];
  /** Size of the file (or of the copy of a pipe) in bytes. */
  readonly bytes: number;
  /** Removes the temporary copy of input that was not a regular file. */
  release(): Promise<void>;
}

/** Options of {@link openDataSource}. */
export interface SourceOptions extends ReadOptions {
  /** Bytes read at a time; default {@link DEFAULT_BLOCK_BYTES}. */
  blockBytes?: number;
}

/**
 * Opens a data file (.npy, raw float32 with `rawDims`, or delimited text) as a row source read a
 * block at a time. Its header and shape are checked now, against the file's size (a shape
 * larger than the file is refused before anything is allocated); the values are checked as
 * each block is read. Input that is not a regular file is copied to a temporary file first,
 * bounded by `maxInputBytes`.
 */
export async function openDataSource(file: string, options: SourceOptions = {}): Promise<DataFileSource> {
  const input = await regularInput(file, options);
  const name = file === '-' ? 'standard input' : file;
  const block = options.blockBytes ?? DEFAULT_BLOCK_BYTES;
  try {
    const head = await readAt(input.path, name, 0, Math.min(input.size, 1 << 20));
    const common = { bytes: input.size, release: input.release };
    if (options.rawDims !== undefined) {
      checkRawFormat(file, head, options.rawDims);
      const h = rawHeader(options.rawDims, input.size, name);
      return {
        ...common,
        ...selectBinary(h, options, name),
        source: binaryRows(input.path, name, h, block, options),
      };
    }
    if (isNpy(head) || path.extname(file).toLowerCase() === '.npy') {
      const h = parseNpyHeader(head, name);
      const need = h.rows * h.cols * h.valueBytes;
      if (input.size - h.dataStart < need) {
        throw dataError(
          `${name}: truncated .npy file (shape ${h.shapeText} ${h.dtype} needs ${need} bytes of data but only ${input.size - h.dataStart} follow the header); copy or save the file again`,
        );
      }
      return {
        ...common,
        ...selectBinary(h, options, name),
        source: binaryRows(input.path, name, h, block, options),
      };
    }
    if (head.subarray(0, 4096).includes(0)) {
      throw dataError(
        `${name}: looks like a binary file (or UTF-16 text), not delimited text; save the data as UTF-8 CSV/TSV or as .npy (np.save)`,
      );
    }
    return { ...common, ...(await csvSource(input.path, name, input.size, block, options)) };
  } catch (error) {
    await input.release();
    throw error;
  }
}

/** Raw float32 as a header of its own: `dims` values a row, the whole file. */
function rawHeader(dims: number, size: number, name: string): NpyHeader {
  const row = dims * 4;
  if (size === 0 || size % row !== 0) {
    throw dataError(
      `${name}: ${size} bytes is not a whole number of rows of ${dims} float32 values (${row} bytes each); check --dims or the file`,
    );
  }
  return {
    rows: size / row,
    cols: dims,
    dataStart: 0,
    valueBytes: 4,
    dtype: 'float32',
    descr: '<f4',
    shapeText: '',
    fortranOrder: false,
  };
}

/** The columns binary data keeps (1-based indices: it has no header). */
function selectBinary(h: NpyHeader, options: ReadOptions, name: string) {
  const indices = binaryColumns(h.cols, options, name);
  return { rows: h.rows, cols: indices?.length ?? h.cols, columnNames: null };
}

function binaryColumns(cols: number, options: ReadOptions, name: string): number[] | null {
  const columns = options.select?.columns;
  if (!columns || columns.length === 0) return null;
  return columns.map((c) => {
    const i = Number(c) - 1;
    if (!Number.isInteger(i) || i < 0 || i >= cols) {
      throw usageError(
        `${name}: --columns ${JSON.stringify(c)}: binary data has no header, so columns are 1-based indices from 1 to ${cols}`,
      );
    }
    return i;
  });
}

/** Whole rows of .npy or raw data, `block` bytes at a time. */
function binaryRows(
  file: string,
  name: string,
  h: NpyHeader,
  block: number,
  options: ReadOptions,
): RowSource {
  const rowBytes = h.cols * h.valueBytes;
  const blockRows = Math.max(1, Math.floor(block / rowBytes));
  const indices = binaryColumns(h.cols, options, name);
  if (h.fortranOrder) return fortranRows(file, name, h, blockRows, indices, options);
  return async function* (): AsyncGenerator<RowChunk> {
    const handle = await open(file, name);
    try {
      for (let r = 0; r < h.rows; r += blockRows) {
        options.signal?.throwIfAborted();
        const n = Math.min(blockRows, h.rows - r);
        const bytes = new Uint8Array(n * rowBytes);
        await readFully(handle, bytes, h.dataStart + r * rowBytes, name);
        const values = npyValues(bytes, h, name, r);
        yield indices ? pick(values, n, h.cols, indices) : { data: values, rows: n, cols: h.cols };
      }
    } finally {
      await handle.close().catch(() => undefined);
    }
  };
}

/**
 * Whole rows of Fortran-order .npy data (each column contiguous), `blockRows` at a time: a block
 * reads its rows' run of every kept column and transposes them into row-major rows.
 */
function fortranRows(
  file: string,
  name: string,
  h: NpyHeader,
  blockRows: number,
  indices: number[] | null,
  options: ReadOptions,
): RowSource {
  const columns = indices ?? Array.from({ length: h.cols }, (_, c) => c);
  // Each column's piece lands at its place in a full-width row; picked after, as C order is.
  return async function* (): AsyncGenerator<RowChunk> {
    const handle = await open(file, name);
    try {
      for (let r = 0; r < h.rows; r += blockRows) {
        options.signal?.throwIfAborted();
        const n = Math.min(blockRows, h.rows - r);
        const values = new Float32Array(n * h.cols);
        const bytes = new Uint8Array(n * h.valueBytes);
        for (const c of columns) {
          await readFully(handle, bytes, h.dataStart + (c * h.rows + r) * h.valueBytes, name);
          npyColumnInto(bytes, h, name, r, c, values);
        }
        yield indices ? pick(values, n, h.cols, indices) : { data: values, rows: n, cols: h.cols };
      }
    } finally {
      await handle.close().catch(() => undefined);
    }
  };
}

function pick(values: Float32Array, rows: number, cols: number, indices: number[]): RowChunk {
  const out = new Float32Array(rows * indices.length);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < indices.length; j++) out[r * indices.length + j] = values[r * cols + indices[j]];
  return { data: out, rows, cols: indices.length };
}

/**
 * Delimited text a block of whole lines at a time: the first block sets the delimiter, the
 * header and the columns (as {@link parseCsv} does for a whole file), every later block
 * continues that table, numbering lines across blocks.
 */
async function csvSource(file: string, name: string, size: number, block: number, options: ReadOptions) {
  const blocks = async function* (): AsyncGenerator<{ text: string; firstLine: number }> {
    const handle = await open(file, name);
    const decoder = new TextDecoder('utf-8');
    try {
      let at = 0;
      let carry = new Uint8Array(0);
      let line = 0;
      while (at < size || carry.length > 0) {
        options.signal?.throwIfAborted();
        const want = Math.min(block, size - at);
        const bytes = new Uint8Array(carry.length + want);
        bytes.set(carry);
        await readFully(handle, bytes.subarray(carry.length), at, name);
        at += want;
        // Cut after the last line end (a byte that is never inside a UTF-8 sequence).
        const cut = at >= size ? bytes.length : bytes.lastIndexOf(10) + 1;
        if (cut === 0) {
          if (bytes.length > MAX_LINE_BYTES) {
            throw dataError(
              `${name}: a line longer than ${MAX_LINE_BYTES} bytes near byte ${at}; is this a text table?`,
            );
          }
          carry = bytes;
          continue;
        }
        carry = bytes.slice(cut);
        const text = decoder.decode(bytes.subarray(0, cut));
        yield { text, firstLine: line };
        for (let i = bytes.indexOf(10); i !== -1 && i < cut; i = bytes.indexOf(10, i + 1)) line++;
      }
    } finally {
      await handle.close().catch(() => undefined);
    }
  };
  // The first block with data sets up the table (on every pass alike); later blocks continue it.
  let first: {
    cols: number;
    columnNames: string[] | null;
    dropped?: string[];
    continuation: CsvContinuation;
  } | null = null;
  const parse = (text: string, firstLine: number, opening: boolean) => {
    const result =
      opening || !first
        ? parseCsv(text, { header: options.header ?? 'auto', source: name, select: options.select })
        : parseCsv(text, { source: name, continuation: { ...first.continuation, lineOffset: firstLine } });
    first ??= {
      cols: result.matrix.cols,
      columnNames: result.columnNames,
      dropped: result.dropped,
      continuation: result.continuation!,
    };
    return result.matrix;
  };
  const source = async function* (): AsyncGenerator<RowChunk> {
    let pending = '';
    let pendingLine = 0;
    let rows = 0;
    for await (const b of blocks()) {
      if (/^[\s\uFEFF]*$/.test(b.text)) continue;
      const opening = rows === 0;
      if (opening && !hasDataLine(pending + b.text)) {
        // A header alone (tiny blocks): wait for a data line to set up the table with.
        if (pending === '') pendingLine = b.firstLine;
        pending += b.text;
        continue;
      }
      const m = parse(pending + b.text, pending === '' ? b.firstLine : pendingLine, opening);
      pending = '';
      rows += m.rows;
      yield m;
    }
    if (pending !== '') {
      // A header and no data: parseCsv says so.
      const m = parse(pending, pendingLine, true);
      rows += m.rows;
      yield m;
    }
    if (rows === 0)
      throw dataError(`${name}: no data rows (the input is empty or blank); provide one sample per line`);
  };
  // Set up the table from the first block now: the columns and their names are known up front.
  const it = source();
  try {
    await it.next();
  } finally {
    await it.return?.(undefined);
  }
  return { source, rows: null, cols: first!.cols, columnNames: first!.columnNames, dropped: first!.dropped };
}

/** Two non-blank lines: a header (or a first row) and at least one more. */
function hasDataLine(text: string): boolean {
  let lines = 0;
  for (const line of text.split('\n')) if (line.trim() !== '' && ++lines >= 2) return true;
  return false;
}

async function open(file: string, name: string): Promise<fs.FileHandle> {
  try {
    return await fs.open(file, 'r');
  } catch (e) {
    throw readError(name, 'data file', e);
  }
}

async function readAt(file: string, name: string, position: number, length: number): Promise<Uint8Array> {
  const handle = await open(file, name);
  try {
    const bytes = new Uint8Array(length);
    await readFully(handle, bytes, position, name);
    return bytes;
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Fills `bytes` from `position`; a file that shrank under the reader is an error. */
async function readFully(
  handle: fs.FileHandle,
  bytes: Uint8Array,
  position: number,
  name: string,
): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(bytes, offset, bytes.length - offset, position + offset));
    } catch (e) {
      throw readError(name, 'data file', e);
    }
    if (bytesRead === 0) {
      throw dataError(
        `${name}: the file ended at byte ${position + offset} while it was being read (did it change?); read it again`,
      );
    }
    offset += bytesRead;
  }
}
