import type { LazyBackend } from '../backends/select.js';
import type { DataUse } from '../backends/backend.js';
import { Random } from '../core/random.js';
import type { Matrix } from '../data/matrix.js';
import type { GpuRows } from '../data/row-source.js';
import { initSampleRows, type OpenedData, type SourceScan } from './streamed-data.js';

// Samples in a caller's GPU buffer: EM passes read them in place; only an initialisation sample
// (and a relocated k-means centre) comes back to the host.

/**
 * A caller's GPU buffer of samples bound in place; the initialisation sample is a seeded
 * uniform choice of its rows, read back (the only rows that leave the device).
 */
export async function openGpuRows(
  x: GpuRows,
  backend: LazyBackend,
  o: { k: number; purpose: DataUse; seed: number; signal?: AbortSignal },
): Promise<OpenedData> {
  const data = await backend.bindBuffer(x, { purpose: o.purpose, signal: o.signal });
  try {
    const take = Math.min(x.rows, initSampleRows(o.k, x.cols));
    const sample: Matrix = {
      data: await backend.readRows(x, chooseRows(x.rows, take, o.seed)),
      rows: take,
      cols: x.cols,
    };
    let variance = 0;
    for (let i = 0; i < x.cols; i++) {
      let s1 = 0;
      let s2 = 0;
      for (let r = 0; r < take; r++) {
        const v = sample.data[r * x.cols + i] - sample.data[i];
        s1 += v;
        s2 += v * v;
      }
      variance += Math.max(0, s2 / take - (s1 / take) ** 2);
    }
    const scan: SourceScan = {
      rows: x.rows,
      cols: x.cols,
      positiveRows: x.rows,
      weightSum: x.rows,
      meanVariance: variance / x.cols,
      sample,
      sampleWeights: null,
    };
    const farthest = async (centres: Float64Array, k: number, count: number) => {
      const { minDistances } = await data.assign(centres, k, { allDistances: false });
      const order = Array.from(minDistances.keys())
        .sort((a, b) => minDistances[b] - minDistances[a] || a - b)
        .slice(0, count);
      const rows = [...order].sort((a, b) => a - b);
      const values = await backend.readRows(x, rows);
      const out = new Float64Array(order.length * x.cols);
      order.forEach((row, i) => {
        const at = rows.indexOf(row) * x.cols;
        out.set(values.subarray(at, at + x.cols), i * x.cols);
      });
      return out;
    };
    return { scan, data, farthest };
  } catch (error) {
    data.dispose();
    throw error;
  }
}

/** `take` distinct rows of `n`, seeded and uniform (Floyd's algorithm), ascending. */
function chooseRows(n: number, take: number, seed: number): number[] {
  if (take >= n) return Array.from({ length: n }, (_, i) => i);
  const rng = new Random(seed);
  const chosen = new Set<number>();
  for (let j = n - take; j < n; j++) {
    const t = rng.integer(j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen].sort((a, b) => a - b);
}
