import { dataError, usageError } from '../errors.js';
import { CONVERT_HINT, DTYPE_NAMES, integerType } from './npy-dtypes.js';
import { PyLiteralParser } from './npy-literal.js';

// The header of a .npy file (format 1.0, 2.0 or 3.0): what it must say for the data to be read,
// checked before any value is, so that a wrong file is refused in one line naming its field.

/** The magic string `\x93NUMPY` that every .npy file starts with. */
export const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/** The most values a file may hold (their float32 copy must fit one typed array). */
const MAX_VALUES = 2 ** 31;

/** True when the bytes start with the .npy magic string. */
export function isNpy(bytes: Uint8Array): boolean {
  return bytes.length >= MAGIC.length && MAGIC.every((b, i) => bytes[i] === b);
}

/** What a .npy header says: the shape, where the data starts, and how to read a value. */
export interface NpyHeader {
  readonly rows: number;
  readonly cols: number;
  /** Byte offset of the first value. */
  readonly dataStart: number;
  /** Bytes of one value. */
  readonly valueBytes: number;
  /** The dtype as messages name it: 'float32', 'float64', 'of 2-byte integers'. */
  readonly dtype: string;
  readonly descr: string;
  readonly shapeText: string;
  /** Column-major data (`fortran_order: True`): column c's values are contiguous. */
  readonly fortranOrder: boolean;
}

/**
 * Reads and checks a .npy header (the bytes must hold at least the whole header; the data may
 * follow or not): the checks and errors of {@link parseNpy}, without reading any value.
 */
export function parseNpyHeader(
  bytes: Uint8Array,
  source = '<input>',
  options: { vector?: boolean } = {},
): NpyHeader {
  if (!(bytes instanceof Uint8Array)) {
    throw usageError(`parseNpy expects the file contents as a Uint8Array; got ${typeof bytes}`);
  }
  if (!isNpy(bytes)) {
    throw dataError(
      `${source}: not a .npy file (it does not start with the \\x93NUMPY magic string); save the array with np.save(path, x)`,
    );
  }
  if (bytes.length < 10) throw truncated(source, 'the header is cut short');
  const major = bytes[6];
  const minor = bytes[7];
  if (![1, 2, 3].includes(major) || minor !== 0) {
    throw dataError(
      `${source}: unsupported .npy format version ${major}.${minor} (supported: 1.0, 2.0, 3.0); re-save the array with np.save from a current NumPy`,
    );
  }
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = bytes[8] | (bytes[9] << 8);
    headerStart = 10;
  } else {
    if (bytes.length < 12) throw truncated(source, 'the header is cut short');
    headerLen = (bytes[8] | (bytes[9] << 8) | (bytes[10] << 16)) + bytes[11] * 2 ** 24;
    headerStart = 12;
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) {
    throw truncated(
      source,
      `the header says it is ${headerLen} bytes long but only ${bytes.length - headerStart} follow`,
    );
  }
  const headerBytes = bytes.subarray(headerStart, dataStart);
  let headerText = '';
  if (major === 3) headerText = new TextDecoder('utf-8').decode(headerBytes);
  else for (let i = 0; i < headerBytes.length; i++) headerText += String.fromCharCode(headerBytes[i]);

  let header: unknown;
  try {
    header = new PyLiteralParser(headerText).parseTop();
  } catch (e) {
    throw dataError(
      `${source}: malformed .npy header (${(e as Error).message}); re-save the array with np.save(path, x)`,
    );
  }
  if (!isRecord(header)) {
    throw dataError(
      `${source}: malformed .npy header (not a dictionary); re-save the array with np.save(path, x)`,
    );
  }
  for (const key of ['descr', 'fortran_order', 'shape']) {
    if (!(key in header)) {
      throw dataError(
        `${source}: malformed .npy header (no '${key}' field); re-save the array with np.save(path, x)`,
      );
    }
  }

  const descr = header.descr;
  if (typeof descr !== 'string') {
    throw dataError(
      `${source}: header field 'descr' describes a structured dtype; only plain float32 ('<f4') or float64 ('<f8') arrays are accepted: ${CONVERT_HINT}`,
    );
  }
  let itemSize: 4 | 8;
  const integer = integerType(descr);
  if (descr === '<f4') itemSize = 4;
  else if (descr === '<f8' || integer) itemSize = 8;
  else {
    const code = /^[<>=|]/.test(descr) ? descr.slice(1) : descr;
    const name = DTYPE_NAMES[code] ?? (/^[US]\d/.test(code) ? 'string' : 'unknown');
    const what = descr.startsWith('>') ? `big-endian ${name}` : name;
    const shown = JSON.stringify(descr.slice(0, 40)).slice(1, -1);
    throw dataError(
      `${source}: header field 'descr' is '${shown}' (${what}); only little-endian float32 ('<f4'), float64 ('<f8') and integers are accepted: ${CONVERT_HINT}`,
    );
  }

  if (typeof header.fortran_order !== 'boolean') {
    throw dataError(
      `${source}: malformed .npy header (field 'fortran_order' is not True or False); re-save the array with np.save(path, x)`,
    );
  }

  const shape = header.shape;
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) {
    throw dataError(
      `${source}: malformed .npy header (field 'shape' is not a tuple of non-negative integers); re-save the array with np.save(path, x)`,
    );
  }
  const shapeText = `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
  if (shape.length === 1 && options.vector) shape.push(1);
  if (shape.length === 1) {
    throw dataError(
      `${source}: header field 'shape' is ${shapeText}, a 1-D array; save a 2-D array of samples x features, e.g. np.save(path, x.reshape(-1, 1)) for one feature`,
    );
  }
  if (shape.length !== 2) {
    throw dataError(
      `${source}: header field 'shape' is ${shapeText}, a ${shape.length}-D array; save a 2-D array of samples x features, e.g. np.save(path, x.reshape(len(x), -1))`,
    );
  }
  const [rows, cols] = shape as number[];
  if (rows === 0 || cols === 0) {
    throw dataError(
      `${source}: header field 'shape' is ${shapeText}: no data; save an array with at least one row (sample) and one column (feature)`,
    );
  }
  if (rows * cols > MAX_VALUES) {
    throw dataError(
      `${source}: header field 'shape' is ${shapeText}: more than 2^31 values; split or subsample the data`,
    );
  }
  return {
    rows,
    cols,
    dataStart,
    valueBytes: integer ? integer.size : itemSize,
    dtype: integer ? `of ${integer.size}-byte integers` : itemSize === 4 ? 'float32' : 'float64',
    descr,
    shapeText,
    fortranOrder: header.fortran_order,
  };
}

/** The error of a file cut short (`detail` says where). */
export function truncated(source: string, detail: string): Error {
  return dataError(`${source}: truncated .npy file (${detail}); copy or save the file again`);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
