import { BACKEND_CHOICES, checkChoice } from '../core/names.js';
import { usageError } from '../errors.js';

/** Largest seed: the generator is seeded with 32 bits. */
export const MAX_SEED = 2 ** 32 - 1;

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
  // tol = Infinity would stop every fit after its first iteration, as if it had converged.
  if (!(r.tol >= 0) || r.tol === Infinity) throw usageError(`tol must be a finite number >= 0, got ${r.tol}`);
  if (!Number.isInteger(r.nInit) || r.nInit < 1)
    throw usageError(`nInit must be an integer >= 1, got ${r.nInit}`);
  // The generator takes 32 bits: any other seed would silently equal one of these.
  if (!Number.isInteger(r.seed) || r.seed < 0 || r.seed > MAX_SEED)
    throw usageError(`seed must be an integer from 0 to ${MAX_SEED}, got ${r.seed}`);
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
