import * as path from 'node:path';
import type { Matrix } from '../data/matrix.js';
import { dataError, usageError } from '../errors.js';
import { isNpy } from './npy-header.js';

// Raw little-endian float32 (`--dims D`): bytes with no header, D values a row. Nothing in the
// bytes says they are raw, so a file that shows another format is refused before a byte is read
// as a value.

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
export function parseRaw(bytes: Uint8Array, dims: number, file: string): Matrix {
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
