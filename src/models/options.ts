import { BACKEND_CHOICES, checkChoice } from '../core/names.js';
import { usageError } from '../errors.js';

/** The options every iterative model shares, as resolved (defaults filled in). */
export interface LoopOptions {
  readonly maxIter: number;
  readonly tol: number;
  readonly nInit: number;
  readonly seed: number;
  readonly backend: string;
}

/** Checks the shared options; each mistake is a usage error naming the option. */
export function checkLoopOptions(r: LoopOptions): void {
  if (!Number.isInteger(r.maxIter) || r.maxIter < 1) {
    throw usageError(`maxIter must be an integer >= 1, got ${r.maxIter}`);
  }
  if (!(r.tol >= 0)) throw usageError(`tol must be >= 0, got ${r.tol}`);
  if (!Number.isInteger(r.nInit) || r.nInit < 1)
    throw usageError(`nInit must be an integer >= 1, got ${r.nInit}`);
  if (!Number.isInteger(r.seed)) throw usageError(`seed must be an integer, got ${r.seed}`);
  checkChoice('backend', r.backend, BACKEND_CHOICES);
}

/** Smallest `maxGpuBytes`: one chunk of a few rows must fit twice. */
const MIN_GPU_BYTES = 1 << 16;

/** Checks `maxGpuBytes` (undefined: the default). */
export function checkGpuBytes(bytes: number | undefined): number | undefined {
  if (bytes === undefined) return undefined;
  if (!Number.isSafeInteger(bytes) || bytes < MIN_GPU_BYTES) {
    throw usageError(`maxGpuBytes must be an integer number of bytes >= ${MIN_GPU_BYTES}, got ${bytes}`);
  }
  return bytes;
}
