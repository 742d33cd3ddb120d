import { CpuBackend } from '../../src/backends/cpu/cpu-backend.js';
import type { Matrix } from '../../src/data/matrix.js';
import { makeBlobs } from '../../src/data/synthetic.js';
import { kmeansPlusPlus } from '../../src/models/init.js';
import type { Random } from '../../src/core/random.js';

export { makeBlobs };

/** Largest |a - b| over two arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Largest |x| over an array. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** True when every value is finite. */
export function allFinite(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

/** k-means++ centres computed by the float64 reference backend. */
export async function kmeansPlusPlusCpu(x: Matrix, k: number, rng: Random): Promise<Float64Array> {
  const bound = await new CpuBackend().bindData(x);
  return kmeansPlusPlus(bound, x, k, rng);
}
