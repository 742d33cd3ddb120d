import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { dataError, WebGpuEmError } from '../errors.js';
import { formatBytes } from './byte-sizes.js';
import { isAbort, osReason, readError, removeTemporary, temporaryFiles } from './os-files.js';

// Reading a whole input, bounded. A regular file is read to its size; `-` (standard input), a
// pipe, a FIFO or a device is copied to a private temporary file as it arrives, up to a limit,
// since it can be read only once and its size is unknown until it ends.

/** Bytes read at a time from a regular file. */
const CHUNK = 1 << 30;

/** Bytes read at a time from a pipe, a FIFO, a device or standard input. */
const STREAM_CHUNK = 1 << 20;

/** Default of `maxInputBytes` (`--max-input-size`): what may be read from input that is not a regular file. */
export const DEFAULT_MAX_INPUT_BYTES = 1 << 30;

/** The bound of a data input: `maxInputBytes` (default {@link DEFAULT_MAX_INPUT_BYTES}), named as the CLI's option. */
export function inputLimit(maxInputBytes: number | undefined): ReadLimit {
  return {
    bytes: maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES,
    name: '--max-input-size (maxInputBytes)',
    advice: 'save it to a file first, or raise --max-input-size',
  };
}

/**
 * Reads a whole file into a Uint8Array, with one-line errors naming the path and the OS reason.
 * `-` is standard input. Input that is not a regular file is copied to a temporary file as it
 * arrives, up to `limit` bytes, then read from there; with `limitAll` a regular file over
 * `limit` is refused too.
 */
export async function readBytes(
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

/**
 * A data input as a regular file that can be read many times: a regular file as it is; `-`,
 * a pipe, a FIFO or a device copied to a private temporary file first, up to
 * `--max-input-size` and refused past it. `release()` removes the copy.
 */
export async function regularInput(
  file: string,
  options: { maxInputBytes?: number; signal?: AbortSignal },
): Promise<{ path: string; size: number; release: () => Promise<void> }> {
  const what = 'data file';
  const limit = inputLimit(options.maxInputBytes);
  const stdin = file === '-';
  const name = stdin ? 'standard input' : file;
  let spooled: string | null = null;
  const release = async () => {
    if (spooled) await removeTemporary(path.dirname(spooled));
  };
  try {
    if (stdin) {
      spooled = await spool(streamChunks(process.stdin, options.signal), name, what, limit, options.signal);
    } else {
      const handle = await fs.open(file, 'r');
      try {
        const st = await handle.stat();
        if (st.isDirectory())
          throw readError(name, what, Object.assign(new Error('is a directory'), { code: 'EISDIR' }));
        if (st.isFile()) return { path: file, size: st.size, release };
        spooled = await spool(handleChunks(handle), name, what, limit, options.signal);
      } finally {
        await handle.close().catch(() => undefined);
      }
    }
    return { path: spooled, size: (await fs.stat(spooled)).size, release };
  } catch (e) {
    await release();
    if (e instanceof WebGpuEmError || isAbort(e)) throw e;
    throw readError(name, what, e);
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
  let dir: string;
  try {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'webgpu-em-input-'));
  } catch (e) {
    // Not the input's fault: say that it is the temporary folder, and which variable sets it.
    throw dataError(
      `cannot copy ${name} to a temporary file: the temporary folder ${os.tmpdir()} is unusable (${osReason(e)}); set TMPDIR to an existing writable folder`,
    );
  }
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
export interface ReadLimit {
  bytes: number;
  name: string;
  advice: string;
}

function tooLarge(name: string, what: string, limit: ReadLimit): WebGpuEmError {
  return dataError(
    `${name}: the ${what} is larger than ${limit.name}, ${formatBytes(limit.bytes)} bytes; ${limit.advice}`,
  );
}
