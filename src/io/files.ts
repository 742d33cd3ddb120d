import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Matrix } from '../data/matrix.js';
import { dataError, printable, usageError, WebGpuEmError } from '../errors.js';
import { selectMatrixColumns, type ColumnSelection } from './csv-columns.js';
import { parseCsv } from './csv.js';
import { parseModel, type ModelSpec } from '../models/model-file.js';
import { isNpy, parseNpy } from './npy.js';
import {
  errorMessage,
  isAbort,
  oneLine,
  osReason,
  readError,
  removeTemporary,
  temporaryFiles,
} from './os-files.js';

// Reading data and model files (bounded; input that is not a regular file is spooled first).
export { removeTemporaryFiles } from './os-files.js';
export { planOutput, writeFileAtomic, writeOutputs, type OutputPlan } from './outputs.js';

const CHUNK = 1 << 30;

/** Bytes read at a time from a pipe, a FIFO, a device or standard input. */
const STREAM_CHUNK = 1 << 20;

/** Default of `maxInputBytes` (`--max-input-size`): what may be read from input that is not a regular file. */
export const DEFAULT_MAX_INPUT_BYTES = 1 << 30;

/** Largest model file read (a model of K = 1,000 full 64 x 64 covariances takes about 90 MB). */
export const MAX_MODEL_FILE_BYTES = 256 * 1024 * 1024;

/** Options of {@link readDataFile}. */
export interface ReadOptions {
  header?: boolean | 'auto';
  /**
   * Most bytes read from input that is not a regular file (`-` for standard input, a pipe, a
   * FIFO, a device), which is copied to a temporary file as it arrives; default
   * {@link DEFAULT_MAX_INPUT_BYTES}. Regular files are read to their size.
   */
  maxInputBytes?: number;
  /** Stops reading (and removes the temporary copy) when aborted. */
  signal?: AbortSignal;
  /** Which columns are the features (CSV: by name or 1-based index; .npy and raw: by index). */
  select?: ColumnSelection;
  /** Read the bytes as raw little-endian float32, this many values a row (`--dims`). */
  rawDims?: number;
}

/** Formats a byte count as the options take it: 1G, 512M, 1000. */
export function formatBytes(n: number): string {
  for (const [unit, size] of [
    ['T', 2 ** 40],
    ['G', 2 ** 30],
    ['M', 2 ** 20],
    ['K', 2 ** 10],
  ] as const) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return String(n);
}

/** Parses "1000", "64K", "512M", "2G" (powers of 1024) into bytes; null when it is not one. */
export function parseBytes(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(text);
  if (!m) return null;
  const scale = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2].toLowerCase()]!;
  const n = Math.floor(Number(m[1]) * scale);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/**
 * Reads a data file: `.npy` (or any file starting with the .npy magic string) with {@link parseNpy},
 * anything else as delimited text with {@link parseCsv}.
 */
export async function readDataFile(
  file: string,
  options: ReadOptions = {},
): Promise<{ matrix: Matrix; columnNames: string[] | null; dropped?: string[] }> {
  const limit = {
    bytes: options.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES,
    name: '--max-input-size (maxInputBytes)',
    advice: 'save it to a file first, or raise --max-input-size',
  };
  const bytes = await readBytes(file, 'data file', limit, options.signal);
  const ext = path.extname(file).toLowerCase();
  if (options.rawDims !== undefined) {
    checkRawFormat(file, bytes, options.rawDims);
    return pickColumns(parseRaw(bytes, options.rawDims, file), options, file);
  }
  if (isNpy(bytes) || ext === '.npy') return pickColumns(parseNpy(bytes, file), options, file);
  if (ext === '.npz' || (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04)) {
    throw dataError(
      `${file}: this is a ZIP archive (.npz, .xlsx, ...), which is not supported; save one array with np.save(path, x) or export the data as CSV`,
    );
  }
  if (bytes.subarray(0, 4096).includes(0)) {
    throw dataError(
      `${file}: looks like a binary file (or UTF-16 text), not delimited text; save the data as UTF-8 CSV/TSV or as .npy (np.save)`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8').decode(bytes);
  } catch (e) {
    throw dataError(
      `${file}: too large to read as text (${bytes.length} bytes; ${oneLine(errorMessage(e))}); convert it to .npy (np.save(path, x.astype(np.float32))), which has no such limit`,
    );
  }
  return parseCsv(text, { header: options.header ?? 'auto', source: file, select: options.select });
}

/** Extensions of text tables: never raw float32. */
const TEXT_EXTENSIONS = new Set(['.csv', '.tsv', '.tab', '.txt', '.json']);

/**
 * What a file is when it is not raw float32, by its name and its first bytes (`head`): a .npy
 * file, a ZIP archive, or text; null when it may be raw float32. Raw float32 bytes are text only
 * by a coincidence of every byte, so the text test reads up to 4 KiB and wants a line end and a digit.
 */
export function nonRawFormat(file: string, head: Uint8Array): string | null {
  const ext = file === '-' ? '' : path.extname(file).toLowerCase();
  if (isNpy(head)) return 'a .npy file (it starts with the .npy magic string)';
  if (ext === '.npy') return 'a .npy file (by its name)';
  if (ext === '.npz' || (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04))
    return 'a ZIP archive (.npz, .xlsx, ...)';
  if (TEXT_EXTENSIONS.has(ext)) return `a text file (by its name, ${ext})`;
  const sample = head.subarray(0, 4096);
  let lineEnd = false;
  let digit = false;
  for (const b of sample) {
    if (b === 0x0a || b === 0x0d) lineEnd = true;
    else if (b >= 0x30 && b <= 0x39) digit = true;
    else if ((b < 0x20 && b !== 0x09) || b === 0x7f) return null;
  }
  if (!lineEnd || !digit) return null;
  // Valid UTF-8, allowing for a character cut off at the end of the sample.
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const utf8 = [0, 1, 2, 3].some((cut) => {
    try {
      decoder.decode(sample.subarray(0, sample.length - cut));
      return true;
    } catch {
      return false;
    }
  });
  return utf8 ? 'delimited text (CSV)' : null;
}

/** `--dims` reads raw float32 only: any other format is refused before a byte is read as a value. */
export function checkRawFormat(file: string, head: Uint8Array, dims: number): void {
  const what = nonRawFormat(file, head);
  if (what !== null) {
    throw usageError(
      `${file === '-' ? 'standard input' : file}: --dims ${dims} reads raw little-endian float32, but this is ${what}; drop --dims (the file's own format gives its columns)`,
    );
  }
}

/** Raw little-endian float32 values, `dims` a row. */
function parseRaw(bytes: Uint8Array, dims: number, file: string): Matrix {
  const row = dims * 4;
  if (bytes.length === 0 || bytes.length % row !== 0) {
    throw dataError(
      `${file}: ${bytes.length} bytes is not a whole number of rows of ${dims} float32 values (${row} bytes each); check --dims or the file`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const data = new Float32Array(bytes.length / 4);
  for (let i = 0; i < data.length; i++) {
    const v = view.getFloat32(i * 4, true);
    if (!Number.isFinite(v)) {
      throw dataError(
        `${file}: non-finite value ${v} at row ${Math.floor(i / dims)}, column ${i % dims} (0-based); remove or impute it`,
      );
    }
    data[i] = v;
  }
  return { data, rows: data.length / dims, cols: dims };
}

/** Columns of binary data by index (binary data has no header to name them). */
function pickColumns(matrix: Matrix, options: ReadOptions, file: string) {
  const columns = options.select?.columns;
  if (!columns || columns.length === 0) return { matrix, columnNames: null };
  const indices = columns.map((c) => {
    const i = Number(c) - 1;
    if (!Number.isInteger(i) || i < 0 || i >= matrix.cols) {
      throw usageError(
        `${file}: --columns ${JSON.stringify(c)}: binary data has no header, so columns are 1-based indices from 1 to ${matrix.cols}`,
      );
    }
    return i;
  });
  const data = selectMatrixColumns(matrix.data, matrix.rows, matrix.cols, indices);
  return { matrix: { data, rows: matrix.rows, cols: indices.length }, columnNames: null };
}

/** Reads and validates a model JSON file (a model, or a result object with a `model` field). */
export async function readModelFile(
  file: string,
  options: { signal?: AbortSignal } = {},
): Promise<ModelSpec> {
  return parseModel(await readModelJson(file, options), file);
}

/** Reads a model file's JSON (bounded; `-` is standard input), not yet checked as a model. */
export async function readModelJson(file: string, options: { signal?: AbortSignal } = {}): Promise<unknown> {
  return readJson(
    file,
    'model file',
    'this is not a webgpu-em model file (save the model again with --out)',
    options,
  );
}

/** Reads a statistics file's JSON (bounded as model files are), not yet checked as statistics. */
export async function readStatisticsJson(
  file: string,
  options: { signal?: AbortSignal } = {},
): Promise<unknown> {
  return readJson(
    file,
    'statistics file',
    'this is not a webgpu-em statistics file (write it with webgpu-em stats --out)',
    options,
  );
}

async function readJson(
  file: string,
  what: string,
  advice: string,
  options: { signal?: AbortSignal },
): Promise<unknown> {
  const limit = { bytes: MAX_MODEL_FILE_BYTES, name: `the ${what} limit`, advice };
  const bytes = await readBytes(file, what, limit, options.signal, true);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8').decode(bytes));
  } catch (e) {
    throw dataError(`${file}: invalid JSON (${oneLine(errorMessage(e))}); fix the file or write it again`);
  }
  return json;
}

/**
 * Reads sample weights: a 1-D `.npy` (float32 or float64; or one column) or text with one
 * weight per line (blank lines ignored). Each weight must be a finite number >= 0; errors name
 * the file and the row. Bounded as data files are.
 */
export async function readWeightsFile(file: string, options: ReadOptions = {}): Promise<Float64Array> {
  const values = await readValueColumn(file, options, 'weight');
  for (let r = 0; r < values.length; r++) {
    if (values[r] < 0) {
      throw dataError(
        `${file}: the weight of row ${r} (0-based) is ${values[r]}; weights must be >= 0 (0 drops the row)`,
      );
    }
  }
  return values;
}

/**
 * Reads initial labels, one integer per data row: text with one label per line (blank lines
 * ignored) or a 1-D `.npy`. Each must be an integer >= 0 (the model checks them against K).
 */
export async function readLabelsFile(file: string, options: ReadOptions = {}): Promise<Int32Array> {
  const values = await readValueColumn(file, options, 'label');
  for (let r = 0; r < values.length; r++) {
    if (!Number.isInteger(values[r]) || values[r] < 0 || values[r] > 2 ** 31 - 1) {
      throw dataError(
        `${file}: the label of row ${r} (0-based) is ${values[r]}; labels must be integers from 0 to K - 1`,
      );
    }
  }
  return Int32Array.from(values);
}

/** One finite number per sample, from a 1-D `.npy` or text with one a line. */
async function readValueColumn(file: string, options: ReadOptions, noun: string): Promise<Float64Array> {
  const limit = {
    bytes: options.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES,
    name: '--max-input-size (maxInputBytes)',
    advice: 'save it to a file first, or raise --max-input-size',
  };
  const bytes = await readBytes(file, `${noun}s file`, limit, options.signal);
  if (isNpy(bytes) || path.extname(file).toLowerCase() === '.npy') {
    const m = parseNpy(bytes, file, { vector: true });
    if (m.cols !== 1) {
      throw dataError(
        `${file}: the ${noun}s array has ${m.cols} columns; save one ${noun} per sample as a 1-D array`,
      );
    }
    return Float64Array.from(m.data);
  }
  const out: number[] = [];
  const lines = new TextDecoder('utf-8').decode(bytes).split(/\r?\n/);
  lines.forEach((line, i) => {
    const cell = line.trim();
    if (cell === '') return;
    const v = Number(cell);
    if (!Number.isFinite(v) || !/^[-+]?[\d.]/.test(cell)) {
      throw dataError(
        `${file}: line ${i + 1} is '${printable(cell, 40)}', not a finite number; give one ${noun} per line`,
      );
    }
    out.push(v);
  });
  return Float64Array.from(out);
}

/**
 * Reads a whole file into a Uint8Array, with one-line errors naming the path and the OS reason.
 * `-` is standard input. Input that is not a regular file is copied to a temporary file as it
 * arrives, up to `limit` bytes, then read from there; with `limitAll` a regular file over
 * `limit` is refused too.
 */
async function readBytes(
  file: string,
  what: string,
  limit: ReadLimit,
  signal?: AbortSignal,
  limitAll = false,
): Promise<Uint8Array> {
  let handle: fs.FileHandle;
  const stdin = file === '-';
  const name = stdin ? 'standard input' : file;
  let spooled: string | null = null;
  try {
    // Standard input may be a socket (as node's own child processes get): read it as a stream.
    if (stdin) spooled = await spool(streamChunks(process.stdin, signal), name, what, limit, signal);
    handle = await fs.open(spooled ?? file, 'r');
  } catch (e) {
    if (spooled) await removeTemporary(path.dirname(spooled));
    if (e instanceof WebGpuEmError || isAbort(e)) throw e;
    throw readError(name, what, e);
  }
  try {
    let st = await handle.stat();
    if (st.isDirectory())
      throw readError(name, what, Object.assign(new Error('is a directory'), { code: 'EISDIR' }));
    if (!st.isFile()) {
      spooled = await spool(handleChunks(handle), name, what, limit, signal);
      await handle.close();
      handle = await fs.open(spooled, 'r');
      st = await handle.stat();
    } else if (limitAll && st.size > limit.bytes) {
      throw tooLarge(name, what, limit);
    }
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(st.size);
    } catch {
      throw dataError(
        `${name}: the ${what} is too large to load (${st.size} bytes); split or subsample it, or use a smaller dtype`,
      );
    }
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesRead } = await handle.read(bytes, offset, Math.min(CHUNK, bytes.length - offset), offset);
      if (bytesRead === 0) break; // the file shrank while reading
      offset += bytesRead;
    }
    return offset === bytes.length ? bytes : bytes.subarray(0, offset);
  } catch (e) {
    if (e instanceof WebGpuEmError || isAbort(e)) throw e;
    throw readError(name, what, e);
  } finally {
    await handle.close().catch(() => undefined);
    if (spooled) await removeTemporary(path.dirname(spooled));
  }
}

/**
 * A data input as a regular file that can be read many times: a regular file as it is; `-`,
 * a pipe, a FIFO or a device copied to a private temporary file first, up to
 * `--max-input-size` and refused past it. `release()` removes the copy.
 */
export async function regularInput(
  file: string,
  options: { maxInputBytes?: number; signal?: AbortSignal },
): Promise<{ path: string; size: number; release: () => Promise<void> }> {
  const what = 'data file';
  const limit = {
    bytes: options.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES,
    name: '--max-input-size (maxInputBytes)',
    advice: 'save it to a file first, or raise --max-input-size',
  };
  const stdin = file === '-';
  const name = stdin ? 'standard input' : file;
  let spooled: string | null = null;
  const release = async () => {
    if (spooled) await removeTemporary(path.dirname(spooled));
  };
  try {
    if (stdin) {
      spooled = await spool(streamChunks(process.stdin, options.signal), name, what, limit, options.signal);
    } else {
      const handle = await fs.open(file, 'r');
      try {
        const st = await handle.stat();
        if (st.isDirectory())
          throw readError(name, what, Object.assign(new Error('is a directory'), { code: 'EISDIR' }));
        if (st.isFile()) return { path: file, size: st.size, release };
        spooled = await spool(handleChunks(handle), name, what, limit, options.signal);
      } finally {
        await handle.close().catch(() => undefined);
      }
    }
    return { path: spooled, size: (await fs.stat(spooled)).size, release };
  } catch (e) {
    await release();
    if (e instanceof WebGpuEmError || isAbort(e)) throw e;
    throw readError(name, what, e);
  }
}

/** The chunks of a file read front to back (a pipe, a FIFO, a device). */
async function* handleChunks(handle: fs.FileHandle): AsyncGenerator<Uint8Array> {
  const buffer = new Uint8Array(STREAM_CHUNK);
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
    if (bytesRead === 0) return;
    yield buffer.subarray(0, bytesRead);
  }
}

/** The chunks of a stream; an abort ends the wait for the next one at once. */
async function* streamChunks(
  stream: NodeJS.ReadableStream,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const destroyable = stream as NodeJS.ReadableStream & { destroy?: (error?: unknown) => void };
  const onAbort = () => destroyable.destroy?.(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of stream) yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // Stop reading: the rest of an endless pipe stays unread.
    destroyable.destroy?.();
  }
}

/** Copies a stream to a private temporary file as it arrives, refusing more than `limit` bytes. */
async function spool(
  chunks: AsyncIterable<Uint8Array>,
  name: string,
  what: string,
  limit: ReadLimit,
  signal?: AbortSignal,
): Promise<string> {
  let dir: string;
  try {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'webgpu-em-input-'));
  } catch (e) {
    // Not the input's fault: say that it is the temporary folder, and which variable sets it.
    throw dataError(
      `cannot copy ${name} to a temporary file: the temporary folder ${os.tmpdir()} is unusable (${osReason(e)}); set TMPDIR to an existing writable folder`,
    );
  }
  temporaryFiles.add(dir);
  const file = path.join(dir, 'input');
  let out: fs.FileHandle | null = null;
  try {
    out = await fs.open(file, 'wx', 0o600);
    let total = 0;
    for await (const chunk of chunks) {
      signal?.throwIfAborted();
      total += chunk.length;
      if (total > limit.bytes) throw tooLarge(name, what, limit);
      await out.write(chunk);
    }
    signal?.throwIfAborted();
  } catch (e) {
    await out?.close().catch(() => undefined);
    await removeTemporary(dir);
    if (e instanceof WebGpuEmError || isAbort(e)) throw e;
    throw dataError(
      `cannot copy ${name} to a temporary file in ${os.tmpdir()}: ${osReason(e)}; set TMPDIR to a writable folder with free space`,
    );
  }
  await out.close();
  return file;
}

/** A bound on a read: its size, the name of the option or limit, and what to do past it. */
interface ReadLimit {
  bytes: number;
  name: string;
  advice: string;
}

function tooLarge(name: string, what: string, limit: ReadLimit): WebGpuEmError {
  return dataError(
    `${name}: the ${what} is larger than ${limit.name}, ${formatBytes(limit.bytes)} bytes; ${limit.advice}`,
  );
}
