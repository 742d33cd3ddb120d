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

/**
 * Sample weights on the GPU: one float32 per row of the whole data set in one binding (the
 * kernels index it by global row, so re-chunking the samples leaves it as it is).
 */
export interface RowWeights {
  readonly buffer: GPUBuffer;
  /** The weights as the GPU sees them (rounded to float32), for the host's part of a draw. */
  readonly values: Float32Array;
  /** Their sum in float64. */
  readonly sum: number;
}

const GPU_WEIGHT_MIN = 2 ** -100;
const GPU_WEIGHT_MAX = 2 ** 40;

/** Uploads N sample weights (finite, >= 0, checked by the caller) into one binding. */
export function uploadWeights(ctx: GpuContext, weights: Float64Array): Promise<RowWeights> {
  const bytes = Math.max(4, weights.length * 4);
  if (bytes > ctx.limits.maxStorageBufferBindingSize) {
    throw new WebGpuEmError(
      'gpu',
      `sample weights on the GPU are held in one binding: ${weights.length} samples exceed the adapter's ` +
        `${ctx.limits.maxStorageBufferBindingSize} bytes; fit on fewer samples or use backend: 'cpu'`,
    );
  }
  // float32 sums of weight x squared distance (data brought within 2^32) stay finite, and no
  // positive weight may vanish on conversion, for weights within [2^-100, 2^40].
  for (let r = 0; r < weights.length; r++) {
    const w = weights[r];
    if (w > 0 && (w < GPU_WEIGHT_MIN || w > GPU_WEIGHT_MAX)) {
      throw new WebGpuEmError(
        'gpu',
        `sampleWeight[${r}] = ${w} is outside what float32 GPU sums hold (positive weights from 2^-100 ` +
          `to 2^40); multiply or divide all weights by one constant (the fit does not change) or use backend: 'cpu'`,
      );
    }
  }
  const values = Float32Array.from(weights);
  let sum = 0;
  for (const v of values) sum += v;
  return ctx.createGuarded('uploading the sample weights', (make) => {
    const buffer = make('row weights', bytes, BufferUsage.STORAGE | BufferUsage.COPY_DST);
    ctx.write(buffer, values);
    return { buffer, values, sum };
  });
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

/**
 * Samples already on the device in a caller's buffer (rows x cols float32, row-major, from byte
 * 0): used in place as one chunk when they fit one storage binding; otherwise copied on the
 * device into chunks that do (the buffer needs COPY_SRC then). The caller keeps the buffer.
 */
export function chunksOfBuffer(
  ctx: GpuContext,
  buffer: GPUBuffer,
  rows: number,
  cols: number,
): Promise<{ chunks: SampleChunk[]; borrowed: boolean }> {
  const bytes = rows * cols * 4;
  if (buffer.size < bytes) {
    throw new WebGpuEmError(
      'data',
      `the GPUBuffer holds ${buffer.size} bytes but ${rows} rows x ${cols} float32 features need ${bytes}; give its real rows and cols`,
    );
  }
  if (!(buffer.usage & BufferUsage.STORAGE)) {
    throw new WebGpuEmError(
      'usage',
      'the GPUBuffer of samples needs GPUBufferUsage.STORAGE; create it with that usage',
    );
  }
  if (bytes <= ctx.limits.maxStorageBufferBindingSize) {
    return Promise.resolve({ chunks: [{ firstRow: 0, rows, data: buffer }], borrowed: true });
  }
  if (!(buffer.usage & BufferUsage.COPY_SRC)) {
    throw new WebGpuEmError(
      'usage',
      `the GPUBuffer's ${bytes} bytes of samples exceed one storage binding (${ctx.limits.maxStorageBufferBindingSize}); ` +
        'give it GPUBufferUsage.COPY_SRC too, so that it can be split on the device',
    );
  }
  const whole: SampleChunk = { firstRow: 0, rows, data: buffer };
  const maxRows = Math.max(1, Math.floor(ctx.limits.maxStorageBufferBindingSize / (cols * 4)));
  return rechunkSamples(ctx, [whole], rows, cols, maxRows).then((chunks) => ({ chunks, borrowed: false }));
}

/**
 * Reads the given rows (ascending) of a caller's buffer back to the host: runs of adjacent rows
 * copied on the device into one staging buffer, mapped once. For initialisation samples.
 */
export async function readRows(
  ctx: GpuContext,
  buffer: GPUBuffer,
  cols: number,
  rowIndices: readonly number[],
): Promise<Float32Array> {
  const rowBytes = cols * 4;
  const staging = ctx.createBuffer(
    'sample read-back',
    Math.max(4, rowIndices.length * rowBytes),
    BufferUsage.MAP_READ | BufferUsage.COPY_DST,
  );
  try {
    await ctx.guard('reading sample rows', () => {
      const encoder = ctx.device.createCommandEncoder({ label: 'sample read-back' });
      for (let i = 0; i < rowIndices.length;) {
        let j = i + 1;
        while (j < rowIndices.length && rowIndices[j] === rowIndices[j - 1] + 1) j++;
        encoder.copyBufferToBuffer(
          buffer,
          rowIndices[i] * rowBytes,
          staging,
          i * rowBytes,
          (j - i) * rowBytes,
        );
        i = j;
      }
      ctx.device.queue.submit([encoder.finish()]);
    });
    return await ctx.readFloats(staging, rowIndices.length * cols);
  } finally {
    ctx.destroyBuffer(staging);
  }
}
