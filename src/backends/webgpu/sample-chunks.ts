import type { Matrix } from '../../data/matrix.js';
import { WebGpuEmError } from '../../errors.js';
import { BufferUsage } from '../../gpu/constants.js';
import type { GpuContext } from '../../gpu/context.js';

/** Samples of one storage binding: rows [firstRow, firstRow + rows) of the data, row-major float32. */
export interface SampleChunk {
  readonly firstRow: number;
  readonly rows: number;
  readonly data: GPUBuffer;
}

/** Sample buffers can be copied from when they are re-chunked. */
const SAMPLE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;

/** Uploads X in chunks that fit one storage binding each; on failure none is left behind. */
export function uploadSamples(ctx: GpuContext, x: Matrix): Promise<SampleChunk[]> {
  const maxRows = Math.max(1, Math.floor(ctx.limits.maxStorageBufferBindingSize / (x.cols * 4)));
  return ctx.createGuarded('uploading the samples', (make) => {
    const chunks: SampleChunk[] = [];
    for (let first = 0; first < x.rows; first += maxRows) {
      const rows = Math.min(maxRows, x.rows - first);
      const data = make(`samples[${first}..${first + rows})`, rows * x.cols * 4, SAMPLE_USAGE);
      ctx.write(data, x.data.subarray(first * x.cols, (first + rows) * x.cols));
      chunks.push({ firstRow: first, rows, data });
    }
    return chunks;
  });
}

/**
 * Copies the samples of `chunks` (N rows of D features) into new chunks of at most `maxRows`
 * rows, on the GPU: when K is large the N x K responsibility scratch limits a chunk's rows. The
 * old chunks are left to the caller, who frees them once the copy succeeded.
 */
export function rechunkSamples(
  ctx: GpuContext,
  chunks: readonly SampleChunk[],
  n: number,
  d: number,
  maxRows: number,
): Promise<SampleChunk[]> {
  if (maxRows < 1) {
    throw new WebGpuEmError(
      'gpu',
      'too many components: one row of responsibilities exceeds the storage binding limit; use fewer components',
    );
  }
  return ctx.createGuarded('re-chunking the samples', (make) => {
    const next: SampleChunk[] = [];
    const encoder = ctx.device.createCommandEncoder({ label: 're-chunk samples' });
    for (let first = 0; first < n; first += maxRows) {
      const rows = Math.min(maxRows, n - first);
      const data = make(`samples[${first}..${first + rows})`, rows * d * 4, SAMPLE_USAGE);
      next.push({ firstRow: first, rows, data });
      for (const o of chunks) {
        const from = Math.max(first, o.firstRow);
        const to = Math.min(first + rows, o.firstRow + o.rows);
        if (from >= to) continue;
        encoder.copyBufferToBuffer(
          o.data,
          (from - o.firstRow) * d * 4,
          data,
          (from - first) * d * 4,
          (to - from) * d * 4,
        );
      }
    }
    ctx.device.queue.submit([encoder.finish()]);
    return next;
  });
}

/** Rows of the largest chunk: the size of per-chunk scratch and read-back buffers. */
export const largestChunk = (chunks: readonly SampleChunk[]): number =>
  Math.max(...chunks.map((c) => c.rows));
