import * as path from 'node:path';
import type { Matrix } from '../data/matrix.js';
import { dataError, printable, usageError } from '../errors.js';
import { parseModel, type ModelSpec } from '../models/model-file.js';
import { selectMatrixColumns, type ColumnSelection } from './csv-columns.js';
import { parseCsv } from './csv.js';
import { isNpy } from './npy-header.js';
import { parseNpy } from './npy.js';
import { errorMessage, oneLine } from './os-files.js';
import { checkRawFormat, parseRaw } from './raw-float32.js';
import { inputLimit, readBytes } from './read-bytes.js';

// Reading whole data, model, statistics, weights and labels files into what they hold (bounded;
// read-bytes.ts reads the bytes). The command line imports its file helpers from here, the
// outputs' and the byte counts' included, hence the re-exports.
export { removeTemporaryFiles } from './os-files.js';
export { planOutput, writeFileAtomic, writeOutputs, type OutputPlan } from './outputs.js';
export { formatBytes, parseBytes } from './byte-sizes.js';
export { DEFAULT_MAX_INPUT_BYTES } from './read-bytes.js';

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

/**
 * Reads a data file: `.npy` (or any file starting with the .npy magic string) with {@link parseNpy},
 * anything else as delimited text with {@link parseCsv}.
 */
export async function readDataFile(
  file: string,
  options: ReadOptions = {},
): Promise<{ matrix: Matrix; columnNames: string[] | null; dropped?: string[] }> {
  const limit = inputLimit(options.maxInputBytes);
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
  const limit = inputLimit(options.maxInputBytes);
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
