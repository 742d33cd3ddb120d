import type { Matrix } from '../data/matrix.js';
import { dataError, usageError } from '../errors.js';
import { parseQuotedRow, parseRow } from './csv-cells.js';
import { parseSelectedRow, resolveColumns, type ColumnSelection } from './csv-columns.js';
import { rowError, type RowContext } from './csv-errors.js';
import {
  commentError,
  detectDelimiter,
  isBlank,
  isComment,
  isFiniteF32,
  isPad,
  parseCellString,
  splitQuoted,
  WHITESPACE,
} from './csv-lines.js';

/** Options for {@link parseCsv}. */
export interface CsvOptions {
  /**
   * Whether the first non-blank line is a header row. `'auto'` (the default) treats it as a header
   * when none of its cells parses as a number.
   */
  header?: boolean | 'auto';
  /** Name used in error messages (usually the file name). Default `'<input>'`. */
  source?: string;
  /** Which columns are the features (default: all; every cell must then be a number). */
  select?: ColumnSelection;
  /**
   * The text continues a table read before (a file parsed a block at a time): that table's
   * delimiter, columns, header and selection apply, and lines are numbered from `lineOffset` + 1.
   */
  continuation?: CsvContinuation & { readonly lineOffset: number };
}

/** What a later block of the same table needs from its first: see {@link CsvOptions.continuation}. */
export interface CsvContinuation {
  readonly ctx: RowContext;
  readonly indices: number[] | null;
}

/** What {@link parseCsv} returns: the samples, and the header's column names when there is a header. */
export interface CsvResult {
  matrix: Matrix;
  columnNames: string[] | null;
  /** The names (or `column i`) of the columns a selection left out. */
  dropped?: string[];
  /** How to parse the next block of the same table. */
  continuation?: CsvContinuation;
}

/** Most values a matrix may hold (row-major offsets must fit in a signed 32-bit integer). */
const MAX_VALUES = 2 ** 31;

/**
 * Parses delimited text (CSV, TSV, semicolon- or whitespace-separated) into a float32 matrix.
 *
 * The delimiter is detected from the first non-blank line: tab, then semicolon, then comma (counted
 * outside quotes), else runs of spaces/tabs (also chosen when a line of numbers mixes spaces and
 * tabs). Blank lines are skipped, CRLF line ends and a UTF-8 byte order mark are accepted, cells may
 * be surrounded by spaces and may be double-quoted (`""` inside quotes is a literal quote; a quoted
 * cell cannot span lines). Every data cell must be a finite number that fits in float32; anything
 * else raises a data error naming the source, the 1-based line and column, and what to do.
 *
 * Values are rounded exactly as `Math.fround(Number(cell))` would round them.
 */
export function parseCsv(text: string, options: CsvOptions = {}): CsvResult {
  const source = options.source ?? '<input>';
  const headerOption = options.header ?? 'auto';
  if (headerOption !== 'auto' && headerOption !== true && headerOption !== false) {
    throw usageError(`header must be true, false or 'auto'; got ${JSON.stringify(headerOption)}`);
  }
  if (typeof text !== 'string') {
    throw usageError(`parseCsv expects the file contents as a string; got ${typeof text}`);
  }
  if (text.indexOf('\n') === -1 && text.indexOf('\r') !== -1) text = text.replace(/\r/g, '\n'); // old Mac line ends
  const len = text.length;

  // The first non-blank line decides the delimiter and whether there is a header.
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const cont = options.continuation;
  let lineNo = cont?.lineOffset ?? 0;
  let lineStart = 0;
  let lineEnd = 0;
  for (;;) {
    if (pos >= len) {
      throw dataError(`${source}: no data rows (the input is empty or blank); provide one sample per line`);
    }
    let nl = text.indexOf('\n', pos);
    if (nl === -1) nl = len;
    lineNo++;
    lineStart = pos;
    lineEnd = nl > pos && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
    pos = nl + 1;
    if (!isBlank(text, lineStart, lineEnd)) break;
  }
  // A comment above the data would otherwise be taken for the header and set the delimiter.
  if (isComment(text, lineStart, lineEnd)) throw commentError(source, lineNo);
  const delim = cont?.ctx.delim ?? detectDelimiter(text, lineStart, lineEnd);
  const firstCells = splitQuoted(text, lineStart, lineEnd, delim, source, lineNo);
  const cols = cont?.ctx.cols ?? firstCells.length;
  // A continued table has had its header: every line of this block is data.
  const isHeader = cont
    ? false
    : headerOption === 'auto'
      ? !firstCells.some((cell) => isFiniteF32(parseCellString(cell)))
      : headerOption;
  const ctx: RowContext = cont?.ctx ?? {
    source,
    delim,
    cols,
    firstLineNo: lineNo,
    isHeader,
    headerOption,
    columnNames: isHeader ? firstCells : null,
  };
  if (!isHeader) {
    // Parse the first line again as data in the loop below.
    pos = lineStart;
    lineNo--;
  }
  const chosen = cont
    ? cont.indices && { indices: cont.indices, dropped: [] }
    : options.select
      ? resolveColumns(options.select, ctx.columnNames, firstDataCells(), source)
      : null;
  const width = chosen ? chosen.indices.length : cols;

  /** The cells of the first data line (the line after the header, when there is one). */
  function firstDataCells(): string[] {
    if (!isHeader) return firstCells;
    let at = pos;
    for (let n = lineNo + 1; at < len; n++) {
      let nl = text.indexOf('\n', at);
      if (nl === -1) nl = len;
      const e = nl > at && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      if (!isBlank(text, at, e)) return splitQuoted(text, at, e, delim, source, n);
      at = nl + 1;
    }
    return firstCells;
  }

  // Output buffer, grown by doubling; the first estimate comes from the length of the first data line.
  let firstLen = lineEnd - lineStart + 1;
  if (isHeader) {
    const nl = text.indexOf('\n', pos);
    firstLen = (nl === -1 ? len : nl) - pos + 1;
  }
  firstLen = Math.max(firstLen, 2 * cols, 1);
  const estimate = Math.min(
    MAX_VALUES,
    Math.ceil(len / 2) + cols,
    (Math.ceil((len / firstLen) * 1.05) + 1) * cols,
  );
  let data = new Float32Array(Math.max(estimate, cols));
  let n = 0;
  let rows = 0;
  const ws = delim === WHITESPACE;
  let nextQuote = text.indexOf('"', pos);

  while (pos < len) {
    let nl = text.indexOf('\n', pos);
    if (nl === -1) nl = len;
    lineNo++;
    const s = pos;
    const e = nl > pos && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
    pos = nl + 1;
    if (s === e || (isPad(text.charCodeAt(s)) && isBlank(text, s, e))) continue;

    if (n + width > data.length) {
      if (n + width > MAX_VALUES) {
        throw dataError(
          `${source}: line ${lineNo}: too much data (more than 2^31 values: ${rows + 1} rows x ${cols} columns); split the file or subsample it`,
        );
      }
      const grown = new Float32Array(Math.min(MAX_VALUES, Math.max(data.length * 2, n + width)));
      grown.set(data.subarray(0, n));
      data = grown;
    }
    if (nextQuote !== -1 && nextQuote < s) nextQuote = text.indexOf('"', s);
    const got = chosen
      ? parseSelectedRow(text, s, e, delim, data, n, chosen.indices, cols, source, lineNo)
      : nextQuote !== -1 && nextQuote < e
        ? parseQuotedRow(text, s, e, delim, data, n, cols, source, lineNo)
        : parseRow(text, s, e, ws, delim, data, n, cols);
    if (got !== cols) throw rowError(ctx, text, s, e, lineNo, got);
    n += width;
    rows++;
  }

  if (rows === 0) {
    throw dataError(
      `${source}: no data rows (only the header on line ${ctx.firstLineNo}); add samples below the header, or set header to false if line ${ctx.firstLineNo} is data`,
    );
  }
  const out = n === data.length ? data : data.slice(0, n);
  const continuation = { ctx, indices: chosen?.indices ?? null };
  if (!chosen) return { matrix: { data: out, rows, cols }, columnNames: ctx.columnNames, continuation };
  const names = ctx.columnNames;
  return {
    matrix: { data: out, rows, cols: width },
    columnNames: names ? chosen.indices.map((i) => names[i]) : null,
    dropped: chosen.dropped,
    continuation,
  };
}
