import { dataError, quoted, usageError } from '../errors.js';
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
    const wanted = selection.byHeader;
    const missing = wanted.filter((n) => !header.includes(n));
    if (missing.length > 0) {
      throw dataError(
        `${source}: the model's column${missing.length > 1 ? 's' : ''} ${nameList(missing)} ${missing.length > 1 ? 'are' : 'is'} not in the header (${nameList(header)}); pass data with the columns the model was fitted on, or --no-header to match columns by position`,
      );
    }
    if (wanted.length === header.length && wanted.every((n, i) => header[i] === n)) {
      // The training header itself (repeated names included): every column, in place.
      indices = keepAll();
    } else {
      const twice = wanted.find(
        (n) => header.indexOf(n) !== header.lastIndexOf(n) || wanted.indexOf(n) !== wanted.lastIndexOf(n),
      );
      if (twice !== undefined) {
        throw dataError(
          `${source}: the column name ${quoted(twice)} is not unique (in the header or the model), so the model's columns cannot be picked by name; rename the columns, or pass --no-header to match columns by position`,
        );
      }
      indices = wanted.map((n) => header.indexOf(n));
    }
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
  if (typeof c === 'string' && header?.includes(c)) {
    if (header.indexOf(c) !== header.lastIndexOf(c)) {
      const at = header.flatMap((h, i) => (h === c ? [i + 1] : []));
      throw usageError(
        `${source}: --columns: ${quoted(c)} names ${at.length} columns of the header (${at.join(', ')}); give the 1-based index of the one you mean`,
      );
    }
    return header.indexOf(c);
  }
  const i = (typeof c === 'number' ? c : /^\d+$/.test(c.trim()) ? Number(c) : NaN) - 1;
  if (Number.isInteger(i) && i >= 0 && i < total) return i;
  const names = header ? `; the header has ${nameList(header)}` : ' (the table has no header)';
  throw usageError(
    `${source}: --columns: no column ${quoted(String(c))}${names}; give header names or 1-based indices from 1 to ${total}`,
  );
}

/** Names from a file for a message: quoted, escaped, clipped, and at most 12 of them. */
function nameList(names: readonly string[]): string {
  const shown = names.slice(0, 12).map((n) => quoted(n));
  return names.length > 12 ? `${shown.join(', ')}, ... (${names.length} in all)` : shown.join(', ');
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
