import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Matrix } from '../data/matrix.js';
import { dataError, WebGpuEmError } from '../errors.js';
import { parseCsv } from './csv.js';
import { parseModel, type ModelSpec } from './model-file.js';
import { isNpy, parseNpy } from './npy.js';

const CHUNK = 1 << 30;

const OS_REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a component of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'file name too long',
  EEXIST: 'it already exists',
  EBUSY: 'resource busy',
  ELOOP: 'too many symbolic links',
};

/**
 * Reads a data file: `.npy` (or any file starting with the .npy magic string) with {@link parseNpy},
 * anything else as delimited text with {@link parseCsv}.
 */
export async function readDataFile(
  file: string,
  options: { header?: boolean | 'auto' } = {},
): Promise<{ matrix: Matrix; columnNames: string[] | null }> {
  const bytes = await readBytes(file, 'data file');
  const ext = path.extname(file).toLowerCase();
  if (isNpy(bytes) || ext === '.npy') return { matrix: parseNpy(bytes, file), columnNames: null };
  if (ext === '.npz' || (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04)) {
    throw dataError(
      `${file}: this is a ZIP archive (.npz, .xlsx, ...), which is not supported; save one array with np.save(path, x) or export the data as CSV`,
    );
  }
  if (bytes.subarray(0, 4096).includes(0)) {
    throw dataError(
      `${file}: looks like a binary file (or UTF-16 text), not delimited text; save the data as UTF-8 CSV/TSV or as .npy (np.save)`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8').decode(bytes);
  } catch (e) {
    throw dataError(
      `${file}: too large to read as text (${bytes.length} bytes; ${oneLine(errorMessage(e))}); convert it to .npy (np.save(path, x.astype(np.float32))), which has no such limit`,
    );
  }
  return parseCsv(text, { header: options.header ?? 'auto', source: file });
}

/** Reads and validates a model JSON file (a model, or a result object with a `model` field). */
export async function readModelFile(file: string): Promise<ModelSpec> {
  const bytes = await readBytes(file, 'model file');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8').decode(bytes));
  } catch (e) {
    throw dataError(
      `${file}: invalid JSON (${oneLine(errorMessage(e))}); fix the file or save the model again`,
    );
  }
  return parseModel(json, file);
}

/**
 * Writes `contents` to `file` atomically: a temporary file in the same directory is written, fsynced
 * and renamed over the target, so readers see the old or the new content, never a partial file. On
 * failure the temporary file is removed and the previous content of `file` is left untouched.
 */
export async function writeFileAtomic(file: string, contents: string | Uint8Array): Promise<void> {
  let target = path.resolve(file);
  try {
    target = await fs.realpath(target); // replace the file a symbolic link points to, not the link
  } catch {
    // does not exist yet
  }
  const dir = path.dirname(target);
  try {
    const st = await fs.stat(dir);
    if (!st.isDirectory())
      throw dataError(`cannot write ${file}: ${dir} is not a directory; choose another output path`);
  } catch (e) {
    if (e instanceof WebGpuEmError) throw e;
    if (errorCode(e) === 'ENOENT') {
      throw dataError(
        `cannot write ${file}: directory ${dir} does not exist; create it first or choose another output path`,
      );
    }
    throw dataError(
      `cannot write ${file}: cannot access directory ${dir} (${osReason(e)}); check the path and permissions`,
    );
  }

  let mode: number | null = null;
  try {
    const st = await fs.stat(target);
    if (st.isFile()) mode = st.mode & 0o7777;
  } catch {
    // a new file
  }

  const base = path.basename(target).slice(0, 100);
  const random = Math.random().toString(36).slice(2, 10).padEnd(8, '0');
  const tmp = path.join(dir, `.${base}.${process.pid}.${random}.tmp`);
  let handle: fs.FileHandle | null = null;
  try {
    handle = await fs.open(tmp, 'wx', 0o666);
    if (mode !== null) await handle.chmod(mode);
    await handle.writeFile(contents);
    await handle.sync();
    await handle.close();
    handle = null;
    await fs.rename(tmp, target);
  } catch (e) {
    if (handle) await handle.close().catch(() => undefined);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw dataError(
      `cannot write ${file}: ${osReason(e)}; check that the path is a writable file location with free space (the previous file, if any, is unchanged)`,
    );
  }
  // Make the rename durable; not possible on every platform, so best effort.
  try {
    const d = await fs.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // ignore
  }
}

/** Reads a whole file into a Uint8Array, with one-line errors naming the path and the OS reason. */
async function readBytes(file: string, what: string): Promise<Uint8Array> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (e) {
    throw readError(file, what, e);
  }
  try {
    const st = await handle.stat();
    if (st.isDirectory())
      throw readError(file, what, Object.assign(new Error('is a directory'), { code: 'EISDIR' }));
    if (!st.isFile()) {
      const buf = await handle.readFile();
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(st.size);
    } catch {
      throw dataError(
        `${file}: the ${what} is too large to load (${st.size} bytes); split or subsample it, or use a smaller dtype`,
      );
    }
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesRead } = await handle.read(bytes, offset, Math.min(CHUNK, bytes.length - offset), offset);
      if (bytesRead === 0) break; // the file shrank while reading
      offset += bytesRead;
    }
    return offset === bytes.length ? bytes : bytes.subarray(0, offset);
  } catch (e) {
    if (e instanceof WebGpuEmError) throw e;
    throw readError(file, what, e);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function readError(file: string, what: string, e: unknown): Error {
  return dataError(`cannot read ${what} ${file}: ${osReason(e)}; check the path and permissions`);
}

function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A short OS reason: "no such file or directory (ENOENT)". */
function osReason(e: unknown): string {
  if (e instanceof WebGpuEmError) return e.message;
  const code = errorCode(e);
  if (code && OS_REASONS[code]) return `${OS_REASONS[code]} (${code})`;
  return oneLine(errorMessage(e));
}

function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
