import { dataError, quoted } from '../errors.js';
import {
  COMMA,
  commentError,
  countCells,
  isComment,
  SEMICOLON,
  splitQuoted,
  TAB,
  WHITESPACE,
} from './csv-lines.js';

// Stage 3 of the CSV reader: what went wrong in a row, said with its line, column and a fix.

export const DELIMITER_NAMES: Record<number, string> = {
  [COMMA]: 'comma',
  [SEMICOLON]: 'semicolon',
  [TAB]: 'tab',
  [WHITESPACE]: 'whitespace',
};

/** What error messages need to know about the table. */
export interface RowContext {
  source: string;
  delim: number;
  cols: number;
  firstLineNo: number;
  isHeader: boolean;
  headerOption: boolean | 'auto';
  columnNames: string[] | null;
}

/** The error for a line that {@link parseRow} or {@link parseQuotedRow} rejected. */
export function rowError(
  ctx: RowContext,
  text: string,
  start: number,
  end: number,
  line: number,
  got: number,
): Error {
  const { source, cols, firstLineNo, isHeader, columnNames } = ctx;
  if (isComment(text, start, end)) return commentError(source, line);
  // A bad cell on a line of the wrong width is a delimiter problem first (say, a header with
  // commas above rows with spaces): name the count, not the cell.
  const count = got >= 0 && got <= cols ? got : countCells(text, start, end, ctx.delim);
  if (got >= 0 || count !== cols) {
    const ref = isHeader ? `the header (line ${firstLineNo})` : `line ${firstLineNo} (the first row)`;
    return dataError(
      `${source}: line ${line} has ${count} column${count === 1 ? '' : 's'} but ${ref} has ${cols} (delimiter: ${DELIMITER_NAMES[ctx.delim]}); every row needs the same number of columns: check that line for missing or extra delimiters`,
    );
  }
  const col = -1 - got;
  const raw = splitQuoted(text, start, end, ctx.delim, source, line)[col] ?? '';
  const name = columnNames?.[col];
  const label = name ? ` (${quoted(name)})` : '';
  let hint = '';
  if (line === firstLineNo && !isHeader) {
    hint =
      ctx.headerOption === 'auto'
        ? ` (line ${line} was read as data because some of its cells are numbers; if it is a header row, read the file with header set to true)`
        : ` (header is off; if line ${line} is a header row, read the file with header enabled)`;
  }
  const what = describeBadCell(raw, ctx.delim);
  if (!hint && what.endsWith('(e.g. 1, -2.5e-3, +.5)') && /[a-z]/i.test(raw)) {
    hint = `; if that column is a label or a name, not a feature, leave it out (command line: --numeric-only, or --columns with the feature columns)`;
  }
  return dataError(`${source}: line ${line}, column ${col + 1}${label}: ${what}${hint}`);
}

export function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** What is wrong with a cell that is not a finite float32, and what to do about it. */
export function describeBadCell(raw: string, delim: number): string {
  const s = raw.trim();
  if (s === '') {
    return 'empty cell; every data cell needs a finite number: fill in or drop missing values (a trailing delimiter also makes an empty last column)';
  }
  const shown = quoted(s);
  const lower = s.toLowerCase();
  if (['nan', '-nan', '+nan', 'na', 'n/a', 'null', 'none', 'missing', '?'].includes(lower)) {
    return `missing value ${shown}; impute it or drop the row (every data cell must be a finite number)`;
  }
  if (/^[+-]?(inf|infinity)$/.test(lower)) {
    return `infinite value ${shown}; replace or drop it (every data cell must be a finite number)`;
  }
  const v = Number(s);
  if (!Number.isNaN(v) && /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) {
    return `value ${shown} is outside the float32 range (about +-3.4e38); rescale that column`;
  }
  if (delim !== COMMA && /^[+-]?\d+,\d+$/.test(s)) {
    return `${shown} is not a number: decimal commas are not supported, use '.' as the decimal separator`;
  }
  return `${shown} is not a number; every data cell must be a finite decimal number (e.g. 1, -2.5e-3, +.5)`;
}
