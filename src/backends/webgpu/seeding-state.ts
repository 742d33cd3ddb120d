import { BufferUsage } from '../../gpu/constants.js';
import type { GpuContext } from '../../gpu/context.js';
import type { SeedingState } from '../backend.js';
import { lastPositive } from '../sampling.js';

/** Ranges [first float, floats] of a buffer, read back together (one mapping): readDistanceBlocks. */
export type ReadBlocks = (
  buffer: GPUBuffer,
  ranges: ReadonlyArray<readonly [number, number]>,
) => Promise<Float32Array[]>;

/** Buffers that a step's states share: destroyed when the step and every state let go. */
export class SharedBuffers {
  private refs = 1;
  private readonly buffers: GPUBuffer[] = [];
  constructor(private readonly ctx: GpuContext) {}
  add(buffer: GPUBuffer): GPUBuffer {
    this.buffers.push(buffer);
    return buffer;
  }
  share(): SharedBuffers {
    this.refs++;
    return this;
  }
  release(): void {
    if (--this.refs === 0) this.ctx.destroyBuffers(this.buffers);
  }
}

/** Reads ranges [first float, floats] of a buffer with one copy each and one mapping. */
export async function readDistanceBlocks(
  ctx: GpuContext,
  buffer: GPUBuffer,
  ranges: ReadonlyArray<readonly [number, number]>,
): Promise<Float32Array[]> {
  const total = ranges.reduce((s, [, count]) => s + count, 0);
  const staging = ctx.createBuffer(
    'k-means++ block read-back',
    Math.max(4, total * 4),
    BufferUsage.MAP_READ | BufferUsage.COPY_DST,
  );
  try {
    await ctx.guard('reading k-means++ blocks', () => {
      const encoder = ctx.device.createCommandEncoder({ label: 'k-means++ block read-back' });
      let at = 0;
      for (const [first, count] of ranges) {
        encoder.copyBufferToBuffer(buffer, first * 4, staging, at * 4, count * 4);
        at += count;
      }
      ctx.device.queue.submit([encoder.finish()]);
    });
    const all = await ctx.guard('reading k-means++ blocks', () => ctx.readFloats(staging, total));
    const out: Float32Array[] = [];
    let at = 0;
    for (const [, count] of ranges) {
      out.push(all.slice(at, at + count));
      at += count;
    }
    return out;
  } finally {
    ctx.destroyBuffer(staging);
  }
}

/** Where a state's distances are: `rows` floats from float `offset` of `buffer`. */
interface DistanceRange {
  readonly buffer: GPUBuffer;
  readonly offset: number;
  readonly rows: number;
}

/** Distances of one k-means++ candidate, on the GPU, with its potential and (once read) block sums. */
export class GpuSeedingState implements SeedingState {
  private released = false;
  private sums: Float64Array | null;

  constructor(
    private readonly shared: SharedBuffers,
    private readonly distances: DistanceRange,
    readonly potential: number,
    /** The block sums, or where on the GPU they wait (float offset of a buffer of float64s). */
    blockSums: Float64Array | { readonly buffer: GPUBuffer; readonly offset: number },
    /** Per block: its first global row and its number of rows (the layout the sums came from). */
    private readonly blockRows: ReadonlyArray<readonly [number, number]>,
    private readonly read: ReadBlocks,
    /** Per-row weights: the draw is proportional to weight x distance. */
    private readonly weights: Float32Array | null,
  ) {
    this.sums = blockSums instanceof Float64Array ? blockSums : null;
    this.pending = blockSums instanceof Float64Array ? null : blockSums;
  }

  private readonly pending: { readonly buffer: GPUBuffer; readonly offset: number } | null;

  /** The distances as a binding: the previous distances of the next step. */
  binding(): GPUBufferBinding {
    const { buffer, offset, rows } = this.distances;
    return { buffer, offset: offset * 4, size: rows * 4 };
  }

  private async blockSums(): Promise<Float64Array> {
    if (!this.sums) {
      const [floats] = await this.read(this.pending!.buffer, [
        [this.pending!.offset, 2 * this.blockRows.length],
      ]);
      this.sums = new Float64Array(floats.buffer, floats.byteOffset, this.blockRows.length);
    }
    return this.sums;
  }

  /** Walks the block sums to the block holding u * potential, then that block's distances. */
  async sample(u: number): Promise<number> {
    return (await this.samples([u]))[0];
  }

  /** {@link sample} for each u, the drawn blocks read back together. */
  async samples(us: readonly number[]): Promise<number[]> {
    const sums = await this.blockSums();
    const draws = us.map((u) => {
      let target = u * this.potential;
      let block = -1;
      for (let b = 0; b < sums.length; b++) {
        if (target < sums[b]) {
          block = b;
          break;
        }
        target -= sums[b];
      }
      // Rounding carried the target past the total: the last sample with a distance, as on the CPU.
      const fellThrough = block < 0;
      if (fellThrough) block = sums.length - 1;
      while (block > 0 && !(sums[block] > 0)) block--;
      return { block, target, fellThrough };
    });
    const ranges = draws.map(({ block }) => {
      const [first, count] = this.blockRows[block];
      return [this.distances.offset + first, count] as const;
    });
    const blocks = await this.read(this.distances.buffer, ranges);
    return draws.map(({ block, fellThrough }, i) => {
      let { target } = draws[i];
      const [first, count] = this.blockRows[block];
      const values = blocks[i];
      if (this.weights) for (let r = 0; r < count; r++) values[r] *= this.weights[first + r];
      if (!fellThrough) {
        for (let r = 0; r < count; r++) {
          target -= values[r];
          if (target < 0) return first + r;
        }
      }
      return first + lastPositive(values);
    });
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.shared.release();
  }
}
