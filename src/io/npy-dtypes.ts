// The dtypes of a .npy file: which ones are read (little-endian float32, float64 and integers)
// and how, and the names of the others, for the message that refuses them.

/** True on a little-endian host, where .npy's little-endian values can be viewed in place. */
export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** How a refused dtype can be converted, in every message that refuses one. */
export const CONVERT_HINT = 'convert with np.save(path, x.astype(np.float32))';

/** NumPy's names of the type codes of a `descr` (without its byte-order mark), for messages. */
export const DTYPE_NAMES: Record<string, string> = {
  f2: 'float16',
  f4: 'float32',
  f8: 'float64',
  f16: 'float128',
  i1: 'int8',
  i2: 'int16',
  i4: 'int32',
  i8: 'int64',
  u1: 'uint8',
  u2: 'uint16',
  u4: 'uint32',
  u8: 'uint64',
  b1: 'bool',
  c8: 'complex64',
  c16: 'complex128',
  O: 'object',
};

/** A readable integer dtype: its size in bytes and how to read one value. */
export interface IntegerType {
  readonly size: number;
  readonly read: (v: DataView, at: number) => number;
}

/** Integer dtypes, read as their values rounded to float32 (exact up to 2^24). */
const INTEGER_TYPES: Record<string, IntegerType> = {
  '<i1': { size: 1, read: (v, at) => v.getInt8(at) },
  '<u1': { size: 1, read: (v, at) => v.getUint8(at) },
  '<i2': { size: 2, read: (v, at) => v.getInt16(at, true) },
  '<u2': { size: 2, read: (v, at) => v.getUint16(at, true) },
  '<i4': { size: 4, read: (v, at) => v.getInt32(at, true) },
  '<u4': { size: 4, read: (v, at) => v.getUint32(at, true) },
  '<i8': { size: 8, read: (v, at) => Number(v.getBigInt64(at, true)) },
  '<u8': { size: 8, read: (v, at) => Number(v.getBigUint64(at, true)) },
};

/** The integer dtype a `descr` names (`|` marks a one-byte type, as `<` does), or undefined. */
export function integerType(descr: string): IntegerType | undefined {
  const key = descr.replace(/^\|/, '<');
  return Object.hasOwn(INTEGER_TYPES, key) ? INTEGER_TYPES[key] : undefined;
}
