import { isFiniteF32, isPad, parseCellString, SPACE, splitQuoted, TAB } from './csv-lines.js';

// Stage 2 of the CSV reader: the cells of a row into float32, rounded as Math.fround(Number(cell)).

/** Exact powers of ten representable in a double (10^0 .. 10^22). */
export const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/**
 * Parses one unquoted line into out[off..off+cols). Returns `cols` on success, the number of cells
 * when there are fewer, `cols + 1` when there are more, or `-1 - col` for an invalid cell.
 *
 * Plain decimals with at most 15 significant digits and a small exponent are converted exactly
 * (Clinger's fast path: an exact integer times or divided by an exact power of ten is correctly
 * rounded); anything else goes through Number().
 */
export function parseRow(
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
export function parseQuotedRow(
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
