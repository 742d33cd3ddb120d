import { constants as fsConstants, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { dataError, usageError, WebGpuEmError } from '../errors.js';
import { errorCode, isAbort, osReason, removeTemporary, temporaryFiles } from './os-files.js';
import { BoundedWriter, WRITE_BUFFER_BYTES, type ByteSink } from './bounded-writer.js';

// Writing results: every output path checked before the work, written only after it succeeded.

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
    await writeInPlace(plan, contents);
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

/** Other names of standard output: written as `-` is, through the process's own stream. */
const STDOUT_PATHS = ['/dev/stdout', '/dev/fd/1', '/proc/self/fd/1'];

/** True when `file` is `-` or another name of standard output. */
export function isStdout(file: string): boolean {
  return file === '-' || STDOUT_PATHS.includes(path.resolve(file));
}

/**
 * Checks an output path before any work: its folder exists and is writable, it is not a folder,
 * and it is none of `inputs` (the files the run reads). Errors name the option.
 */
export async function planOutput(
  file: string,
  option: string,
  inputs: readonly string[],
): Promise<OutputPlan> {
  if (isStdout(file)) return { file, mode: 'stdout', target: '-' };
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
 * What an output holds: its whole contents, or a producer that writes them through a
 * {@link BoundedWriter} (a result too large to hold, computed as it is written: it runs once per
 * output it is given to).
 */
export type OutputContents = string | Uint8Array | ((out: BoundedWriter) => Promise<void>);

/** Sizes the pieces outputs are written in (tests make it small). */
export const writeOptions = { bufferBytes: WRITE_BUFFER_BYTES };

/** Writes `contents` through a bounded writer into `sink`: a piece at a time, whatever its size. */
export async function produce(contents: OutputContents, sink: ByteSink, binary = true): Promise<void> {
  const out = new BoundedWriter(sink, writeOptions.bufferBytes, binary);
  if (typeof contents === 'function') await contents(out);
  else if (typeof contents === 'string') await out.text(contents);
  else await out.bytes(contents);
  await out.flush();
}

/**
 * Writes every output of a run together, once the run has succeeded: each regular file is first
 * written to a temporary file beside it and synced, devices and pipes are written in place, and
 * only when all of that worked are the temporary files renamed over their targets. A failure
 * before the renames leaves every earlier file as it was and no temporary file behind.
 */
export async function writeOutputs(
  outputs: ReadonlyArray<{ plan: OutputPlan; contents: OutputContents }>,
  stdout: ByteSink,
): Promise<void> {
  const staged: Array<{ plan: OutputPlan; tmp: string }> = [];
  try {
    for (const { plan, contents } of outputs) {
      if (plan.mode !== 'atomic') continue;
      staged.push({ plan, tmp: await stageFile(plan, contents) });
    }
    for (const { plan, contents } of outputs) if (plan.mode === 'direct') await writeInPlace(plan, contents);
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
  // Binary outputs are chosen by a file's extension, which standard output does not have.
  for (const { plan, contents } of outputs) {
    if (plan.mode !== 'stdout') continue;
    try {
      await produce(contents, stdout, false);
    } catch (e) {
      if (e instanceof WebGpuEmError || isAbort(e)) throw e;
      throw dataError(
        `cannot write standard output: ${errorCode(e) === 'EPIPE' ? 'its reader closed the pipe (EPIPE)' : osReason(e)}; the output is incomplete`,
      );
    }
  }
}

/**
 * Writes an output that is not a regular file (a device, a FIFO, /dev/stdout) in place, a piece
 * at a time: appended, not truncated, as /dev/stdout may be the shell's redirection of our own
 * output.
 */
async function writeInPlace(plan: OutputPlan, contents: OutputContents): Promise<void> {
  try {
    const handle = await fs.open(plan.target, 'a');
    try {
      await produce(contents, async (piece) => await handle.writeFile(piece));
    } finally {
      await handle.close();
    }
  } catch (e) {
    if (e instanceof WebGpuEmError || isAbort(e)) throw e;
    throw dataError(`cannot write ${plan.file}: ${osReason(e)}; check the path and permissions`);
  }
}

/** Writes `contents` to a synced temporary file beside `plan.target`, with the target's mode. */
async function stageFile(plan: OutputPlan, contents: OutputContents): Promise<string> {
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
    const h = handle;
    await produce(contents, async (piece) => await h.writeFile(piece));
    await handle.sync();
    await handle.close();
    handle = null;
    return tmp;
  } catch (e) {
    if (handle) await handle.close().catch(() => undefined);
    await removeTemporary(tmp);
    // A producer's own error (the data, an abort) is not the file's.
    if (e instanceof WebGpuEmError || isAbort(e)) throw e;
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
