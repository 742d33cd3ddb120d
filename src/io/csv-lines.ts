import { dataError } from '../errors.js';

// Stage 1 of the CSV reader: lines, delimiters, quoted cells and what a single cell holds.

export const TAB = 9;

export const SPACE = 32;

export const QUOTE = 34;

export const COMMA = 44;

export const SEMICOLON = 59;

/** Delimiter code meaning "runs of whitespace". */
export const WHITESPACE = -1;

export function isBlank(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!isPad(text.charCodeAt(i))) return false;
  return true;
}

export function isPad(c: number): boolean {
  return c === SPACE || c === TAB || c === 11 || c === 12 || c === 13;
}

/** Tab, then semicolon, then comma (outside quotes), else runs of whitespace. */
export function detectDelimiter(text: string, start: number, end: number): number {
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
export function countCells(text: string, start: number, end: number, delim: number): number {
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
export function splitQuoted(
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
export function isComment(text: string, start: number, end: number): boolean {
  let i = start;
  while (i < end && isPad(text.charCodeAt(i))) i++;
  return text.charCodeAt(i) === 35;
}

export function commentError(source: string, line: number): Error {
  return dataError(
    `${source}: line ${line} is a comment ('#'), which the reader does not support; remove comment lines (e.g. grep -v '^#' ${source === '<input>' ? 'FILE' : source} > clean.csv)`,
  );
}

/** Largest finite float32. */
export const F32_MAX = 3.4028234663852886e38;

export function isFiniteF32(v: number): boolean {
  // v - v is NaN for NaN and +-Infinity.
  if (v - v !== 0) return false;
  return (v <= F32_MAX && v >= -F32_MAX) || Number.isFinite(Math.fround(v));
}

/**
 * Converts one (already unquoted) cell to a number, or NaN when it is not a plain decimal number:
 * empty cells, hex/binary/octal literals and everything Number() rejects are NaN. Infinity passes
 * through (callers reject it with isFiniteF32).
 */
export function parseCellString(cell: string): number {
  const s = cell.trim();
  if (s.length === 0) return NaN;
  if (s.charCodeAt(0) === 48 && s.length > 1) {
    const c1 = s.charCodeAt(1) | 0x20;
    if (c1 === 120 || c1 === 98 || c1 === 111) return NaN; // 0x.., 0b.., 0o..
  }
  return Number(s);
}
