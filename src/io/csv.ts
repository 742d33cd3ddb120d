import type { Matrix } from '../data/matrix.js';
import { dataError, usageError } from '../errors.js';

/** Options for {@link parseCsv}. */
export interface CsvOptions {
  /**
   * Whether the first non-blank line is a header row. `'auto'` (the default) treats it as a header
   * when none of its cells parses as a number.
   */
  header?: boolean | 'auto';
  /** Name used in error messages (usually the file name). Default `'<input>'`. */
  source?: string;
}

/** What {@link parseCsv} returns: the samples, and the header's column names when there is a header. */
export interface CsvResult {
  matrix: Matrix;
  columnNames: string[] | null;
}

/** Most values a matrix may hold (row-major offsets must fit in a signed 32-bit integer). */
const MAX_VALUES = 2 ** 31;
/** Largest finite float32. */
const F32_MAX = 3.4028234663852886e38;
/** Exact powers of ten representable in a double (10^0 .. 10^22). */
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

const TAB = 9;
const SPACE = 32;
const QUOTE = 34;
const COMMA = 44;
const SEMICOLON = 59;
/** Delimiter code meaning "runs of whitespace". */
const WHITESPACE = -1;

const DELIMITER_NAMES: Record<number, string> = {
  [COMMA]: 'comma',
  [SEMICOLON]: 'semicolon',
  [TAB]: 'tab',
  [WHITESPACE]: 'whitespace',
};

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
  let lineNo = 0;
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
  const delim = detectDelimiter(text, lineStart, lineEnd);
  const firstCells = splitQuoted(text, lineStart, lineEnd, delim, source, lineNo);
  const cols = firstCells.length;
  const isHeader =
    headerOption === 'auto' ? !firstCells.some((cell) => isFiniteF32(parseCellString(cell))) : headerOption;
  const ctx: RowContext = {
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

    if (n + cols > data.length) {
      if (n + cols > MAX_VALUES) {
        throw dataError(
          `${source}: line ${lineNo}: too much data (more than 2^31 values: ${rows + 1} rows x ${cols} columns); split the file or subsample it`,
        );
      }
      const grown = new Float32Array(Math.min(MAX_VALUES, Math.max(data.length * 2, n + cols)));
      grown.set(data.subarray(0, n));
      data = grown;
    }
    if (nextQuote !== -1 && nextQuote < s) nextQuote = text.indexOf('"', s);
    const got =
      nextQuote !== -1 && nextQuote < e
        ? parseQuotedRow(text, s, e, delim, data, n, cols, source, lineNo)
        : parseRow(text, s, e, ws, delim, data, n, cols);
    if (got !== cols) throw rowError(ctx, text, s, e, lineNo, got);
    n += cols;
    rows++;
  }

  if (rows === 0) {
    throw dataError(
      `${source}: no data rows (only the header on line ${ctx.firstLineNo}); add samples below the header, or set header to false if line ${ctx.firstLineNo} is data`,
    );
  }
  const out = n === data.length ? data : data.slice(0, n);
  return { matrix: { data: out, rows, cols }, columnNames: ctx.columnNames };
}

/** What error messages need to know about the table. */
interface RowContext {
  source: string;
  delim: number;
  cols: number;
  firstLineNo: number;
  isHeader: boolean;
  headerOption: boolean | 'auto';
  columnNames: string[] | null;
}

/**
 * Parses one unquoted line into out[off..off+cols). Returns `cols` on success, the number of cells
 * when there are fewer, `cols + 1` when there are more, or `-1 - col` for an invalid cell.
 *
 * Plain decimals with at most 15 significant digits and a small exponent are converted exactly
 * (Clinger's fast path: an exact integer times or divided by an exact power of ten is correctly
 * rounded); anything else goes through Number().
 */
function parseRow(
  text: string,
  start: number,
  end: number,
  ws: boolean,
  delim: number,
  out: Float32Array,
  off: number,
  cols: number,
): number {
  const padTab = delim !== TAB;
  let i = start;
  for (let col = 0; ; col++) {
    let c = i < end ? text.charCodeAt(i) : -1;
    if (ws) {
      while (c === SPACE || c === TAB || c === 11 || c === 12 || c === 13)
        c = ++i < end ? text.charCodeAt(i) : -1;
      if (c === -1) return col;
    } else {
      while (c === SPACE || (c === TAB && padTab)) c = ++i < end ? text.charCodeAt(i) : -1;
    }
    if (col >= cols) return cols + 1;
    const cellStart = i;
    let neg = false;
    if (c === 45 || c === 43) {
      neg = c === 45;
      c = ++i < end ? text.charCodeAt(i) : -1;
    }
    // value = mant * 10^exp; digits beyond the 15th significant one are dropped (noted in `dropped`).
    let mant = 0;
    let sig = 0;
    let exp = 0;
    let any = false;
    let dot = false;
    let dropped = false;
    for (;;) {
      if (c >= 48 && c <= 57) {
        any = true;
        if (sig < 15) {
          if (mant !== 0 || c !== 48) {
            mant = mant * 10 + (c - 48);
            sig++;
          }
          if (dot) exp--;
        } else {
          if (!dot) exp++;
          if (c !== 48) dropped = true;
        }
      } else if (c === 46 && !dot) {
        dot = true;
      } else break;
      c = ++i < end ? text.charCodeAt(i) : -1;
    }
    let ok = any;
    if (ok && (c === 101 || c === 69)) {
      // exponent
      c = ++i < end ? text.charCodeAt(i) : -1;
      let eneg = false;
      if (c === 45 || c === 43) {
        eneg = c === 45;
        c = ++i < end ? text.charCodeAt(i) : -1;
      }
      let e = 0;
      let edigits = 0;
      while (c >= 48 && c <= 57) {
        if (e < 10000) e = e * 10 + (c - 48);
        edigits++;
        c = ++i < end ? text.charCodeAt(i) : -1;
      }
      if (edigits === 0) ok = false;
      exp += eneg ? -e : e;
    }
    const numEnd = i;
    while (c === SPACE || (c === TAB && padTab) || (ws && isPad(c))) c = ++i < end ? text.charCodeAt(i) : -1;
    let v = 0;
    if (ok && (ws ? c === -1 || numEnd < i : c === delim || c === -1) && exp >= -22 && exp <= 22) {
      // mant < 10^15 and 10^|exp| are exact doubles, so one multiplication or division rounds correctly.
      v = mant === 0 ? 0 : exp >= 0 ? mant * POW10[exp] : mant / POW10[-exp];
      if (dropped) {
        // The exact value lies within 1e-14 relative of v: use v only if float32 rounding cannot differ.
        const lo = Math.fround(v * (1 - 2e-14));
        if (lo !== Math.fround(v * (1 + 2e-14))) ok = false;
      }
      if (neg) v = -v;
    } else ok = false;
    if (ok) {
      out[off + col] = v;
    } else {
      // Long mantissa, large exponent or invalid: find the end of the cell and use Number().
      let cellEnd: number;
      if (ws) {
        i = numEnd;
        c = i < end ? text.charCodeAt(i) : -1;
        while (c !== -1 && !isPad(c)) c = ++i < end ? text.charCodeAt(i) : -1;
        cellEnd = i;
      } else {
        while (c !== delim && c !== -1) c = ++i < end ? text.charCodeAt(i) : -1;
        cellEnd = i;
        while (cellEnd > cellStart && isPad(text.charCodeAt(cellEnd - 1))) cellEnd--;
      }
      const slow = parseCellString(text.slice(cellStart, cellEnd));
      if (!isFiniteF32(slow)) return -1 - col;
      out[off + col] = slow;
    }
    if (!ws) {
      if (c === -1) return col + 1;
      i++; // past the delimiter
    }
  }
}

/** Parses one line that contains a double quote: split first, then convert each cell. */
function parseQuotedRow(
  text: string,
  start: number,
  end: number,
  delim: number,
  out: Float32Array,
  off: number,
  cols: number,
  source: string,
  line: number,
): number {
  const cells = splitQuoted(text, start, end, delim, source, line);
  if (cells.length !== cols) return cells.length > cols ? cols + 1 : cells.length;
  for (let col = 0; col < cols; col++) {
    const v = parseCellString(cells[col]);
    if (!isFiniteF32(v)) return -1 - col;
    out[off + col] = v;
  }
  return cols;
}

/** The error for a line that {@link parseRow} or {@link parseQuotedRow} rejected. */
function rowError(
  ctx: RowContext,
  text: string,
  start: number,
  end: number,
  line: number,
  got: number,
): Error {
  const { source, cols, firstLineNo, isHeader, columnNames } = ctx;
  if (isComment(text, start, end)) return commentError(source, line);
  if (got >= 0) {
    const count = got > cols ? countCells(text, start, end, ctx.delim) : got;
    const ref = isHeader ? `the header (line ${firstLineNo})` : `line ${firstLineNo} (the first row)`;
    return dataError(
      `${source}: line ${line} has ${count} column${count === 1 ? '' : 's'} but ${ref} has ${cols} (delimiter: ${DELIMITER_NAMES[ctx.delim]}); every row needs the same number of columns: check that line for missing or extra delimiters`,
    );
  }
  const col = -1 - got;
  const raw = splitQuoted(text, start, end, ctx.delim, source, line)[col] ?? '';
  const name = columnNames?.[col];
  const label = name ? ` (${JSON.stringify(clip(name))})` : '';
  let hint = '';
  if (line === firstLineNo && !isHeader) {
    hint =
      ctx.headerOption === 'auto'
        ? ` (line ${line} was read as data because some of its cells are numbers; if it is a header row, read the file with header set to true)`
        : ` (header is off; if line ${line} is a header row, read the file with header enabled)`;
  }
  return dataError(
    `${source}: line ${line}, column ${col + 1}${label}: ${describeBadCell(raw, ctx.delim)}${hint}`,
  );
}

function isBlank(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!isPad(text.charCodeAt(i))) return false;
  return true;
}

function isPad(c: number): boolean {
  return c === SPACE || c === TAB || c === 11 || c === 12 || c === 13;
}

function isFiniteF32(v: number): boolean {
  // v - v is NaN for NaN and +-Infinity.
  if (v - v !== 0) return false;
  return (v <= F32_MAX && v >= -F32_MAX) || Number.isFinite(Math.fround(v));
}

/**
 * Converts one (already unquoted) cell to a number, or NaN when it is not a plain decimal number:
 * empty cells, hex/binary/octal literals and everything Number() rejects are NaN. Infinity passes
 * through (callers reject it with isFiniteF32).
 */
function parseCellString(cell: string): number {
  const s = cell.trim();
  if (s.length === 0) return NaN;
  if (s.charCodeAt(0) === 48 && s.length > 1) {
    const c1 = s.charCodeAt(1) | 0x20;
    if (c1 === 120 || c1 === 98 || c1 === 111) return NaN; // 0x.., 0b.., 0o..
  }
  return Number(s);
}

/** Tab, then semicolon, then comma (outside quotes), else runs of whitespace. */
function detectDelimiter(text: string, start: number, end: number): number {
  let tabs = 0;
  let semis = 0;
  let commas = 0;
  let inQuote = false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) inQuote = !inQuote;
    else if (inQuote) continue;
    else if (c === TAB) tabs++;
    else if (c === SEMICOLON) semis++;
    else if (c === COMMA) commas++;
  }
  if (tabs > 0) {
    // Spaces and tabs mixed between numbers ("1  2\t3") mean whitespace-separated columns; a tab-separated
    // header may have spaces inside names ("petal length\tpetal width").
    if (semis === 0 && commas === 0 && !inQuote) {
      const cells = text.slice(start, end).split('\t');
      const tokens = text.slice(start, end).trim().split(/\s+/);
      if (cells.some((c) => /\S\s+\S/.test(c)) && tokens.every((t) => isFiniteF32(parseCellString(t)))) {
        return WHITESPACE;
      }
    }
    return TAB;
  }
  if (semis > 0) return SEMICOLON;
  if (commas > 0) return COMMA;
  return WHITESPACE;
}

/** Number of cells on a line (for ragged-row messages); tolerant of quoting errors. */
function countCells(text: string, start: number, end: number, delim: number): number {
  try {
    return splitQuoted(text, start, end, delim, '', 0).length;
  } catch {
    return delim === WHITESPACE
      ? text.slice(start, end).trim().split(/\s+/).length
      : text.slice(start, end).split(String.fromCharCode(delim)).length;
  }
}

/**
 * Splits one line into cells, honouring double quotes. Unquoted cells are trimmed; quoted cells keep
 * their inner text (with `""` turned into `"`).
 */
function splitQuoted(
  text: string,
  start: number,
  end: number,
  delim: number,
  source: string,
  line: number,
): string[] {
  const cells: string[] = [];
  const isSep = delim === WHITESPACE ? isPad : (c: number) => c === delim;
  const isSpace = delim === TAB ? (c: number) => c === SPACE : isPad;
  let i = start;
  for (;;) {
    while (i < end && isSpace(text.charCodeAt(i))) i++;
    if (delim === WHITESPACE && i >= end) break;
    const col = cells.length + 1;
    if (i < end && text.charCodeAt(i) === QUOTE) {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q === -1 || q >= end) {
          throw dataError(
            `${source}: line ${line}, column ${col}: unterminated quoted cell; close the double quote on the same line (quoted cells cannot span lines)`,
          );
        }
        value += text.slice(j, q);
        if (q + 1 < end && text.charCodeAt(q + 1) === QUOTE) {
          value += '"';
          j = q + 2;
        } else {
          j = q + 1;
          break;
        }
      }
      const afterQuote = j;
      while (j < end && isSpace(text.charCodeAt(j))) j++;
      // Whitespace-separated: the spaces just skipped are the separator. Otherwise a delimiter must follow.
      if (j < end && (delim === WHITESPACE ? j === afterQuote : !isSep(text.charCodeAt(j)))) {
        throw dataError(
          `${source}: line ${line}, column ${col}: unexpected text after a closing double quote; quote the whole cell or escape inner quotes as ""`,
        );
      }
      cells.push(value);
      i = j;
      if (delim === WHITESPACE) continue;
    } else {
      let j = i;
      while (j < end && !isSep(text.charCodeAt(j))) j++;
      cells.push(text.slice(i, j).trim());
      i = j;
    }
    if (i >= end) break;
    i++; // past the separator
    if (delim !== WHITESPACE && i >= end) {
      cells.push(''); // trailing delimiter: an empty last cell
      break;
    }
  }
  return cells;
}

/** True when the line's first non-blank character is '#'. */
function isComment(text: string, start: number, end: number): boolean {
  let i = start;
  while (i < end && isPad(text.charCodeAt(i))) i++;
  return text.charCodeAt(i) === 35;
}

function commentError(source: string, line: number): Error {
  return dataError(
    `${source}: line ${line} is a comment ('#'), which the reader does not support; remove comment lines (e.g. grep -v '^#' ${source === '<input>' ? 'FILE' : source} > clean.csv)`,
  );
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** What is wrong with a cell that is not a finite float32, and what to do about it. */
function describeBadCell(raw: string, delim: number): string {
  const s = raw.trim();
  if (s === '') {
    return 'empty cell; every data cell needs a finite number: fill in or drop missing values (a trailing delimiter also makes an empty last column)';
  }
  const quoted = JSON.stringify(clip(s));
  const lower = s.toLowerCase();
  if (['nan', '-nan', '+nan', 'na', 'n/a', 'null', 'none', 'missing', '?'].includes(lower)) {
    return `missing value ${quoted}; impute it or drop the row (every data cell must be a finite number)`;
  }
  if (/^[+-]?(inf|infinity)$/.test(lower)) {
    return `infinite value ${quoted}; replace or drop it (every data cell must be a finite number)`;
  }
  const v = Number(s);
  if (!Number.isNaN(v) && /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) {
    return `value ${quoted} is outside the float32 range (about +-3.4e38); rescale that column`;
  }
  if (delim !== COMMA && /^[+-]?\d+,\d+$/.test(s)) {
    return `${quoted} is not a number: decimal commas are not supported, use '.' as the decimal separator`;
  }
  return `${quoted} is not a number; every data cell must be a finite decimal number (e.g. 1, -2.5e-3, +.5)`;
}
