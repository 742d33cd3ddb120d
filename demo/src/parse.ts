/**
 * The user's own data: CSV (comma, tab, semicolon or space separated; an optional header) and
 * NumPy `.npy` (a 1-D or 2-D array of floats or integers, C or Fortran order), read from a File in pieces
 * so that a file of hundreds of megabytes never sits in memory twice nor blocks a thread for long.
 * A file that does not parse is an error naming the line (or element) and the reason.
 */
import { readNpyBlob } from 'webgpu-em';
import { MAX_ROWS, MAX_VALUES, type Dataset } from './data.js';

/** Bytes read at once. */
const PIECE = 8 * 1024 * 1024;

/** A growable float32 array. */
class Values {
  data = new Float32Array(1 << 16);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parses CSV text fed in pieces; `finish` returns the matrix. */
export class CsvParser {
  private rest = '';
  private line = 0;
  private cols = 0;
  private rows = 0;
  private delimiter: RegExp | string | null = null;
  private header: string[] | null = null;
  private readonly values = new Values();

  push(text: string): void {
    const lines = (this.rest + text).split('\n');
    this.rest = lines.pop()!;
    for (const l of lines) this.parseLine(l);
  }

  finish(name: string): Dataset {
    if (this.rest) this.parseLine(this.rest);
    this.rest = '';
    if (this.rows === 0) throw new Error(`${name}: no rows of numbers found`);
    return {
      name,
      data: this.values.data.slice(0, this.values.length),
      rows: this.rows,
      cols: this.cols,
      columns: this.header,
      truth: null,
    };
  }

  private parseLine(raw: string): void {
    this.line++;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.trim() === '' || text.startsWith('#')) return;
    this.delimiter ??= text.includes(',')
      ? ','
      : text.includes('\t')
        ? '\t'
        : text.includes(';')
          ? ';'
          : /\s+/;
    const cells = text
      .trim()
      .split(this.delimiter)
      .map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
    if (this.cols === 0) {
      this.cols = cells.length;
      if (
        this.header === null &&
        cells.some((c) => c !== '' && !NUMBER.test(c) && !/^[+-]?(nan|inf)/i.test(c))
      ) {
        this.header = cells;
        return;
      }
    }
    if (cells.length !== this.cols) {
      throw new Error(
        `line ${this.line}: ${cells.length} values, but ${this.header ? 'the header has' : 'the first row has'} ${this.cols}`,
      );
    }
    if (this.rows >= MAX_ROWS || (this.rows + 1) * this.cols > MAX_VALUES) {
      throw new Error(
        `line ${this.line}: the demo holds at most ${MAX_ROWS.toLocaleString('en')} rows and ${MAX_VALUES.toLocaleString('en')} values`,
      );
    }
    for (let c = 0; c < cells.length; c++) {
      const cell = cells[c];
      if (cell === '') throw new Error(`line ${this.line}, column ${c + 1}: empty value`);
      if (!NUMBER.test(cell))
        throw new Error(`line ${this.line}, column ${c + 1}: '${cell.slice(0, 40)}' is not a number`);
      const v = Number(cell);
      if (!Number.isFinite(Math.fround(v)))
        throw new Error(`line ${this.line}, column ${c + 1}: ${cell} is beyond float32's range`);
      this.values.push(v);
    }
    this.rows++;
  }
}

/** Reads a CSV file in pieces, reporting the fraction read. */
export async function readCsv(
  file: Blob & { name: string },
  progress: (f: number) => void,
): Promise<Dataset> {
  const parser = new CsvParser();
  const decoder = new TextDecoder();
  for (let at = 0; at < file.size; at += PIECE) {
    const bytes = await file.slice(at, at + PIECE).arrayBuffer();
    parser.push(decoder.decode(bytes, { stream: at + PIECE < file.size }));
    progress(Math.min(1, (at + PIECE) / file.size));
  }
  return parser.finish(file.name);
}

/**
 * Reads a `.npy` file (a 1-D array as one column) in pieces with the library's own reader, so
 * that the demo reads what the command line reads: float32, float64 or integers, C or Fortran
 * order. The demo's size limits are checked from the header, before any value is allocated.
 */
export async function readNpy(
  file: Blob & { name: string },
  progress: (f: number) => void,
): Promise<Dataset> {
  const { data, rows, cols } = await readNpyBlob(file, {
    source: file.name,
    vector: true,
    onShape: (rows, cols) => {
      if (rows > MAX_ROWS || rows * cols > MAX_VALUES) {
        throw new Error(
          `${file.name}: ${rows} x ${cols}; the demo holds 1 to ${MAX_ROWS.toLocaleString('en')} rows and at most ${MAX_VALUES.toLocaleString('en')} values`,
        );
      }
    },
    onProgress: progress,
  });
  return { name: file.name, data, rows, cols, columns: null, truth: null };
}
