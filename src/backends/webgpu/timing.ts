import { BufferUsage, MapMode } from '../../gpu/constants.js';
import type { GpuContext } from '../../gpu/context.js';

/** A pair of timestamp queries around one compute pass. */
export interface PassTiming {
  readonly writes: GPUComputePassTimestampWrites;
  resolve(encoder: GPUCommandEncoder): void;
  read(): Promise<number>;
}

/** Times one compute pass with a pair of timestamp queries. */
export class PassTimer implements PassTiming {
  private readonly querySet: GPUQuerySet;
  private readonly resolved: GPUBuffer;
  private readonly staging: GPUBuffer;
  readonly writes: GPUComputePassTimestampWrites;

  /** A timer when the device can time passes (the 'timestamp-query' feature), else null. */
  static forContext(ctx: GpuContext): PassTimer | null {
    return ctx.hasTimestamps ? new PassTimer(ctx) : null;
  }

  private constructor(private readonly ctx: GpuContext) {
    this.querySet = ctx.device.createQuerySet({ label: 'pass timer', type: 'timestamp', count: 2 });
    this.resolved = ctx.createBuffer('timestamps', 16, BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC);
    this.staging = ctx.createBuffer('timestamps read-back', 16, BufferUsage.MAP_READ | BufferUsage.COPY_DST);
    this.writes = { querySet: this.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 };
  }

  resolve(encoder: GPUCommandEncoder): void {
    encoder.resolveQuerySet(this.querySet, 0, 2, this.resolved, 0);
    encoder.copyBufferToBuffer(this.resolved, 0, this.staging, 0, 16);
  }

  /** Seconds between the pass's two timestamps (after the encoder that resolved them ran). */
  async read(): Promise<number> {
    await this.staging.mapAsync(MapMode.READ);
    const [begin, end] = new BigUint64Array(this.staging.getMappedRange().slice(0));
    this.staging.unmap();
    return Number(end - begin) / 1e9;
  }

  dispose(): void {
    this.querySet.destroy();
    this.ctx.destroyBuffer(this.resolved);
    this.ctx.destroyBuffer(this.staging);
  }
}
