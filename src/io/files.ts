import { constants as fsConstants, promises as fs, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Matrix } from '../data/matrix.js';
import { dataError, usageError, WebGpuEmError } from '../errors.js';
import { parseCsv } from './csv.js';
import { parseModel, type ModelSpec } from './model-file.js';
import { isNpy, parseNpy } from './npy.js';

const CHUNK = 1 << 30;
/** Bytes read at a time from a pipe, a FIFO, a device or standard input. */
const STREAM_CHUNK = 1 << 20;

/** Default of `maxInputBytes` (`--max-input-size`): what may be read from input that is not a regular file. */
export const DEFAULT_MAX_INPUT_BYTES = 1 << 30;
/** Largest model file read (a model of K = 1,000 full 64 x 64 covariances takes about 90 MB). */
export const MAX_MODEL_FILE_BYTES = 256 * 1024 * 1024;

/** Temporary files that exist right now, removed on failure, and by {@link removeTemporaryFiles} on a signal. */
const temporaryFiles = new Set<string>();

/**
 * Removes every temporary file webgpu-em has open (spooled input, outputs not yet renamed),
 * synchronously: for a signal handler that is about to exit.
 */
export function removeTemporaryFiles(): void {
  for (const file of temporaryFiles) {
    try {
      rmSync(file, { force: true, recursive: true });
    } catch {
      // best effort: the process is exiting
    }
  }
  temporaryFiles.clear();
}

/** Options of {@link readDataFile}. */
export interface ReadOptions {
  header?: boolean | 'auto';
  /**
   * Most bytes read from input that is not a regular file (`-` for standard input, a pipe, a
   * FIFO, a device), which is copied to a temporary file as it arrives; default
   * {@link DEFAULT_MAX_INPUT_BYTES}. Regular files are read to their size.
   */
  maxInputBytes?: number;
  /** Stops reading (and removes the temporary copy) when aborted. */
  signal?: AbortSignal;
}

/** Formats a byte count as the options take it: 1G, 512M, 1000. */
export function formatBytes(n: number): string {
  for (const [unit, size] of [
    ['T', 2 ** 40],
    ['G', 2 ** 30],
    ['M', 2 ** 20],
    ['K', 2 ** 10],
  ] as const) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return String(n);
}

/** Parses "1000", "64K", "512M", "2G" (powers of 1024) into bytes; null when it is not one. */
export function parseBytes(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(text);
  if (!m) return null;
  const scale = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2].toLowerCase()]!;
  const n = Math.floor(Number(m[1]) * scale);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

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
  options: ReadOptions = {},
): Promise<{ matrix: Matrix; columnNames: string[] | null }> {
  const limit = {
    bytes: options.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES,
    name: '--max-input-size (maxInputBytes)',
    advice: 'save it to a file first, or raise --max-input-size',
  };
  const bytes = await readBytes(file, 'data file', limit, options.signal);
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
export async function readModelFile(
  file: string,
  options: { signal?: AbortSignal } = {},
): Promise<ModelSpec> {
  const limit = {
    bytes: MAX_MODEL_FILE_BYTES,
    name: 'the model file limit',
    advice: 'this is not a webgpu-em model file (save the model again with --out)',
  };
  const bytes = await readBytes(file, 'model file', limit, options.signal, true);
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
 * failure the temporary file is removed and the previous content of `file` is left untouched. A
 * path that is not a regular file (a device, a FIFO, /dev/stdout) is written in place instead,
 * never renamed over.
 */
export async function writeFileAtomic(file: string, contents: string | Uint8Array): Promise<void> {
  const plan = await planOutput(file, 'output', []);
  if (plan.mode !== 'atomic') {
    try {
      await fs.writeFile(plan.target, contents, { flag: 'a' });
    } catch (e) {
      throw dataError(`cannot write ${file}: ${osReason(e)}; check the path and permissions`);
    }
    return;
  }
  const tmp = await stageFile(plan, contents);
  try {
    const now = await fs.lstat(plan.target).catch(() => null);
    if (now && !now.isFile()) throw dataError(`cannot write ${file}: it is not a regular file`);
    await fs.rename(tmp, plan.target);
    temporaryFiles.delete(tmp);
  } catch (e) {
    if (e instanceof WebGpuEmError) throw e;
    throw dataError(
      `cannot write ${file}: ${osReason(e)}; check that the path is a writable file location with free space (the previous file, if any, is unchanged)`,
    );
  } finally {
    await removeTemporary(tmp);
  }
  await syncDirectory(path.dirname(plan.target));
}

/**
 * Reads a whole file into a Uint8Array, with one-line errors naming the path and the OS reason.
 * `-` is standard input. Input that is not a regular file is copied to a temporary file as it
 * arrives, up to `limit` bytes, then read from there; with `limitAll` a regular file over
 * `limit` is refused too.
 */
async function readBytes(
  file: string,
  what: string,
  limit: ReadLimit,
  signal?: AbortSignal,
  limitAll = false,
): Promise<Uint8Array> {
  let handle: fs.FileHandle;
  const stdin = file === '-';
  const name = stdin ? 'standard input' : file;
  let spooled: string | null = null;
  try {
    // Standard input may be a socket (as node's own child processes get): read it as a stream.
    if (stdin) spooled = await spool(streamChunks(process.stdin, signal), name, what, limit, signal);
    handle = await fs.open(spooled ?? file, 'r');
  } catch (e) {
    if (spooled) await removeTemporary(path.dirname(spooled));
    if (e instanceof WebGpuEmError || isAbort(e)) throw e;
    throw readError(name, what, e);
  }
  try {
    let st = await handle.stat();
    if (st.isDirectory())
      throw readError(name, what, Object.assign(new Error('is a directory'), { code: 'EISDIR' }));
    if (!st.isFile()) {
      spooled = await spool(handleChunks(handle), name, what, limit, signal);
      await handle.close();
      handle = await fs.open(spooled, 'r');
      st = await handle.stat();
    } else if (limitAll && st.size > limit.bytes) {
      throw tooLarge(name, what, limit);
    }
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(st.size);
    } catch {
      throw dataError(
        `${name}: the ${what} is too large to load (${st.size} bytes); split or subsample it, or use a smaller dtype`,
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
    if (e instanceof WebGpuEmError || isAbort(e)) throw e;
    throw readError(name, what, e);
  } finally {
    await handle.close().catch(() => undefined);
    if (spooled) await removeTemporary(path.dirname(spooled));
  }
}

/** The chunks of a file read front to back (a pipe, a FIFO, a device). */
async function* handleChunks(handle: fs.FileHandle): AsyncGenerator<Uint8Array> {
  const buffer = new Uint8Array(STREAM_CHUNK);
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
    if (bytesRead === 0) return;
    yield buffer.subarray(0, bytesRead);
  }
}

/** The chunks of a stream; an abort ends the wait for the next one at once. */
async function* streamChunks(
  stream: NodeJS.ReadableStream,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const destroyable = stream as NodeJS.ReadableStream & { destroy?: (error?: unknown) => void };
  const onAbort = () => destroyable.destroy?.(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of stream) yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // Stop reading: the rest of an endless pipe stays unread.
    destroyable.destroy?.();
  }
}

/** Copies a stream to a private temporary file as it arrives, refusing more than `limit` bytes. */
async function spool(
  chunks: AsyncIterable<Uint8Array>,
  name: string,
  what: string,
  limit: ReadLimit,
  signal?: AbortSignal,
): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'webgpu-em-input-'));
  temporaryFiles.add(dir);
  const file = path.join(dir, 'input');
  let out: fs.FileHandle | null = null;
  try {
    out = await fs.open(file, 'wx', 0o600);
    let total = 0;
    for await (const chunk of chunks) {
      signal?.throwIfAborted();
      total += chunk.length;
      if (total > limit.bytes) throw tooLarge(name, what, limit);
      await out.write(chunk);
    }
    signal?.throwIfAborted();
  } catch (e) {
    await out?.close().catch(() => undefined);
    await removeTemporary(dir);
    if (e instanceof WebGpuEmError || isAbort(e)) throw e;
    throw dataError(
      `cannot copy ${name} to a temporary file in ${os.tmpdir()}: ${osReason(e)}; set TMPDIR to a writable folder with free space`,
    );
  }
  await out.close();
  return file;
}

/** A bound on a read: its size, the name of the option or limit, and what to do past it. */
interface ReadLimit {
  bytes: number;
  name: string;
  advice: string;
}

function tooLarge(name: string, what: string, limit: ReadLimit): WebGpuEmError {
  return dataError(
    `${name}: the ${what} is larger than ${limit.name}, ${formatBytes(limit.bytes)} bytes; ${limit.advice}`,
  );
}

function isAbort(e: unknown): boolean {
  return (e as { name?: unknown } | null)?.name === 'AbortError';
}

async function removeTemporary(file: string): Promise<void> {
  await fs.rm(file, { force: true, recursive: true }).catch(() => undefined);
  temporaryFiles.delete(file);
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

/** Where an output goes, decided before the work: see {@link planOutput}. */
export interface OutputPlan {
  /** The path as given (for messages). */
  readonly file: string;
  /**
   * 'stdout': `-`; 'direct': an existing file that is not a regular file (a device, a FIFO,
   * /dev/stdout), written to in place, never renamed over; 'atomic': a regular file or a new one,
   * replaced by rename.
   */
  readonly mode: 'stdout' | 'direct' | 'atomic';
  /** The file written: the target of symbolic links for 'atomic'. */
  readonly target: string;
}

/** Paths that name the process's own descriptors or devices: never renamed over. */
const SPECIAL_ROOTS = ['/dev/', '/proc/'];

/**
 * Checks an output path before any work: its folder exists and is writable, it is not a folder,
 * and it is none of `inputs` (the files the run reads). Errors name the option.
 */
export async function planOutput(
  file: string,
  option: string,
  inputs: readonly string[],
): Promise<OutputPlan> {
  if (file === '-') return { file, mode: 'stdout', target: file };
  const where = `${option} ${file}`;
  const absolute = path.resolve(file);
  let st: import('node:fs').Stats | null = null;
  try {
    st = await fs.stat(absolute);
  } catch (e) {
    if (errorCode(e) !== 'ENOENT') throw dataError(`cannot write ${where}: ${osReason(e)}; check the path`);
    if ((await fs.lstat(absolute).catch(() => null))?.isSymbolicLink()) {
      throw dataError(
        `cannot write ${where}: it is a symbolic link to a file that does not exist; remove the link or create its target`,
      );
    }
  }
  for (const input of inputs) {
    if (input === '-' || !st) continue;
    const other = await fs.stat(input).catch(() => null);
    if (other && other.dev === st.dev && other.ino === st.ino && st.isFile()) {
      throw usageError(
        `${where} is the input file ${input}; writing it would destroy the input: choose another output path`,
      );
    }
  }
  if (st?.isDirectory()) throw dataError(`cannot write ${where}: it is a directory; give a file name`);
  if (st?.isSocket()) throw dataError(`cannot write ${where}: it is a socket; give a file name`);
  const real = st ? await fs.realpath(absolute).catch(() => null) : null;
  const special = [absolute, real ?? ''].some((p) => SPECIAL_ROOTS.some((root) => p.startsWith(root)));
  if (st && (!st.isFile() || special || real === null)) {
    try {
      await fs.access(absolute, fsConstants.W_OK);
    } catch (e) {
      throw dataError(`cannot write ${where}: ${osReason(e)}; check the path and permissions`);
    }
    return { file, mode: 'direct', target: absolute };
  }
  const target = real ?? absolute;
  const dir = path.dirname(target);
  let dirStat: import('node:fs').Stats;
  try {
    dirStat = await fs.stat(dir);
  } catch (e) {
    if (errorCode(e) === 'ENOENT') {
      throw dataError(
        `cannot write ${where}: directory ${dir} does not exist; create it first or choose another output path`,
      );
    }
    throw dataError(
      `cannot write ${where}: cannot access directory ${dir} (${osReason(e)}); check the path and permissions`,
    );
  }
  if (!dirStat.isDirectory())
    throw dataError(`cannot write ${where}: ${dir} is not a directory; choose another output path`);
  try {
    await fs.access(dir, fsConstants.W_OK);
  } catch (e) {
    throw dataError(
      `cannot write ${where}: directory ${dir} is not writable (${osReason(e)}); choose another output path`,
    );
  }
  return { file, mode: 'atomic', target };
}

/**
 * Writes every output of a run together, once the run has succeeded: each regular file is first
 * written to a temporary file beside it and synced, devices and pipes are written in place, and
 * only when all of that worked are the temporary files renamed over their targets. A failure
 * before the renames leaves every earlier file as it was and no temporary file behind.
 */
export async function writeOutputs(
  outputs: ReadonlyArray<{ plan: OutputPlan; contents: string }>,
  stdout: (text: string) => void,
): Promise<void> {
  const staged: Array<{ plan: OutputPlan; tmp: string }> = [];
  try {
    for (const { plan, contents } of outputs) {
      if (plan.mode !== 'atomic') continue;
      staged.push({ plan, tmp: await stageFile(plan, contents) });
    }
    for (const { plan, contents } of outputs) {
      if (plan.mode !== 'direct') continue;
      try {
        // Appending, not truncating: /dev/stdout may be the shell's redirection of our own output.
        await fs.writeFile(plan.target, contents, { flag: 'a' });
      } catch (e) {
        throw dataError(`cannot write ${plan.file}: ${osReason(e)}; check the path and permissions`);
      }
    }
    for (const { plan, tmp } of staged) {
      // Checked again at the last moment: never rename over anything that is not a regular file.
      const now = await fs.lstat(plan.target).catch(() => null);
      if (now && !now.isFile()) {
        throw dataError(
          `cannot write ${plan.file}: it is no longer a regular file; the result was not written`,
        );
      }
      try {
        await fs.rename(tmp, plan.target);
      } catch (e) {
        throw dataError(
          `cannot write ${plan.file}: ${osReason(e)}; check that the path is a writable file location (the previous file, if any, is unchanged)`,
        );
      }
      temporaryFiles.delete(tmp);
      await syncDirectory(path.dirname(plan.target));
    }
  } finally {
    for (const { tmp } of staged) await removeTemporary(tmp);
  }
  for (const { plan, contents } of outputs) if (plan.mode === 'stdout') stdout(contents);
}

/** Writes `contents` to a synced temporary file beside `plan.target`, with the target's mode. */
async function stageFile(plan: OutputPlan, contents: string | Uint8Array): Promise<string> {
  const dir = path.dirname(plan.target);
  let mode: number | null = null;
  try {
    const st = await fs.stat(plan.target);
    if (st.isFile()) mode = st.mode & 0o7777;
  } catch {
    // a new file
  }
  const base = path.basename(plan.target).slice(0, 100);
  const random = Math.random().toString(36).slice(2, 10).padEnd(8, '0');
  const tmp = path.join(dir, `.${base}.${process.pid}.${random}.tmp`);
  let handle: fs.FileHandle | null = null;
  temporaryFiles.add(tmp);
  try {
    handle = await fs.open(tmp, 'wx', 0o666);
    if (mode !== null) await handle.chmod(mode);
    await handle.writeFile(contents);
    await handle.sync();
    await handle.close();
    handle = null;
    return tmp;
  } catch (e) {
    if (handle) await handle.close().catch(() => undefined);
    await removeTemporary(tmp);
    throw dataError(
      `cannot write ${plan.file}: ${osReason(e)}; check that the path is a writable file location with free space (the previous file, if any, is unchanged)`,
    );
  }
}

/** Makes a rename durable; not possible on every platform, so best effort. */
async function syncDirectory(dir: string): Promise<void> {
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
