import { dataError, usageError } from '../errors.js';
import { isFiniteF32, parseCellString, splitQuoted } from './csv-lines.js';

// Reading some columns of a table: by header name or index, or the numeric ones.

/** Which columns of a table are the features. */
export interface ColumnSelection {
  /** Columns by header name or 1-based index, as error messages count them (a name is looked up first), in this order. */
  readonly columns?: readonly (string | number)[];
  /** Only the columns whose first data cell is a number (a label or name column is left out). */
  readonly numericOnly?: boolean;
  /**
   * Names to pick when the table has a header holding them all (a model's training columns):
   * extra columns are then left out; without a header every column is read.
   */
  readonly byHeader?: readonly string[] | null;
}

/** The columns a selection keeps (0-based, in order) and the names of those it leaves out. */
export function resolveColumns(
  selection: ColumnSelection,
  header: readonly string[] | null,
  firstData: readonly string[],
  source: string,
): { indices: number[]; dropped: string[] } | null {
  const total = firstData.length;
  const name = (i: number) => header?.[i] ?? `column ${i + 1}`;
  const keepAll = () => Array.from({ length: total }, (_, i) => i);
  let indices: number[];
  if (selection.columns && selection.columns.length > 0) {
    indices = selection.columns.map((c) => columnIndex(c, header, total, source));
  } else if (selection.numericOnly) {
    indices = keepAll().filter((i) => isFiniteF32(parseCellString(firstData[i])));
    if (indices.length === 0) {
      throw dataError(
        `${source}: no column of the first data row is a number; check the delimiter or pick columns`,
      );
    }
  } else if (selection.byHeader && header) {
    const missing = selection.byHeader.filter((n) => !header.includes(n));
    if (missing.length > 0) {
      throw dataError(
        `${source}: the model's column${missing.length > 1 ? 's' : ''} ${missing.map((m) => JSON.stringify(m)).join(', ')} ${missing.length > 1 ? 'are' : 'is'} not in the header (${header.map((h) => JSON.stringify(h)).join(', ')}); pass data with the columns the model was fitted on, or --no-header to match columns by position`,
      );
    }
    indices = selection.byHeader.map((n) => header.indexOf(n));
  } else return null;
  if (new Set(indices).size !== indices.length) {
    throw usageError(`--columns names a column twice (${indices.map(name).join(', ')}); give each once`);
  }
  const kept = new Set(indices);
  return {
    indices,
    dropped: keepAll()
      .filter((i) => !kept.has(i))
      .map(name),
  };
}

function columnIndex(
  c: string | number,
  header: readonly string[] | null,
  total: number,
  source: string,
): number {
  if (typeof c === 'string' && header?.includes(c)) return header.indexOf(c);
  const i = (typeof c === 'number' ? c : /^\d+$/.test(c.trim()) ? Number(c) : NaN) - 1;
  if (Number.isInteger(i) && i >= 0 && i < total) return i;
  const names = header
    ? `; the header has ${header.map((h) => JSON.stringify(h)).join(', ')}`
    : ' (the table has no header)';
  throw usageError(
    `${source}: --columns: no column ${JSON.stringify(c)}${names}; give header names or 1-based indices from 1 to ${total}`,
  );
}

/**
 * Parses the selected cells of one line into out[off..]: `total` on success (as parseRow), the
 * line's number of cells when it is not `total`, or `-1 - col` (col in the line) for a bad cell.
 */
export function parseSelectedRow(
  text: string,
  start: number,
  end: number,
  delim: number,
  out: Float32Array,
  off: number,
  indices: readonly number[],
  total: number,
  source: string,
  line: number,
): number {
  const cells = splitQuoted(text, start, end, delim, source, line);
  if (cells.length !== total) return cells.length;
  for (let j = 0; j < indices.length; j++) {
    const v = parseCellString(cells[indices[j]]);
    if (!isFiniteF32(v)) return -1 - indices[j];
    out[off + j] = v;
  }
  return total;
}

/** Picks columns of a row-major matrix (for .npy and raw data). */
export function selectMatrixColumns(
  data: Float32Array,
  rows: number,
  cols: number,
  indices: readonly number[],
): Float32Array {
  const out = new Float32Array(rows * indices.length);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < indices.length; j++) out[r * indices.length + j] = data[r * cols + indices[j]];
  return out;
}
