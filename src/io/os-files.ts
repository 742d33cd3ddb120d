import { promises as fs, rmSync } from 'node:fs';
import { dataError, WebGpuEmError } from '../errors.js';

// Temporary files and the operating system's errors, shared by reading and writing.

/**
 * The set of temporary files, told as it changes to the `webgpu-em` launcher (bin/webgpu-em.js)
 * when it runs us as its child: on a second Ctrl-C it kills us at once, blocked or not, and
 * removes them itself.
 */
class ReportedFiles extends Set<string> {
  override add(file: string): this {
    if (!this.has(file)) report('add', file);
    return super.add(file);
  }

  override delete(file: string): boolean {
    if (this.has(file)) report('delete', file);
    return super.delete(file);
  }

  override clear(): void {
    for (const file of this) report('delete', file);
    super.clear();
  }
}

function report(op: 'add' | 'delete', path: string): void {
  if (process.env.WEBGPU_EM_LAUNCHER !== '1' || !process.send || !process.connected) return;
  try {
    // Sent before the file is made (outputs) or right after (a spooled input's folder).
    process.send({ webgpuEmTemporary: op, path });
  } catch {
    // the launcher is gone: nothing to tell
  }
}

/** Temporary files that exist right now, removed on failure, and by {@link removeTemporaryFiles} on a signal. */
export const temporaryFiles: Set<string> = new ReportedFiles();

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

export async function removeTemporary(file: string): Promise<void> {
  await fs.rm(file, { force: true, recursive: true }).catch(() => undefined);
  temporaryFiles.delete(file);
}

export const OS_REASONS: Record<string, string> = {
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

export function isAbort(e: unknown): boolean {
  return (e as { name?: unknown } | null)?.name === 'AbortError';
}

export function readError(file: string, what: string, e: unknown): Error {
  return dataError(`cannot read ${what} ${file}: ${osReason(e)}; check the path and permissions`);
}

export function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A short OS reason: "no such file or directory (ENOENT)". */
export function osReason(e: unknown): string {
  if (e instanceof WebGpuEmError) return e.message;
  const code = errorCode(e);
  if (code && OS_REASONS[code]) return `${OS_REASONS[code]} (${code})`;
  return oneLine(errorMessage(e));
}

export function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
