import { BufferUsage } from '../../gpu/constants.js';
import type { GpuContext } from '../../gpu/context.js';
import type { RenderChunk } from '../backend.js';
import { kernelBindGroup, kernelPipeline, ROW_LABELS_KERNEL } from './kernels.js';
import { dispatchGrid, ROW_LABELS_WORKGROUP } from './layout.js';
import type { SampleChunk } from './sample-chunks.js';

/** Where one chunk's labels come from: responsibilities (K per row) or k-means tags. */
export interface LabelSource {
  readonly buffer: GPUBuffer;
  /** Records what must run before the labels pass reads `buffer` (the E-step of the chunk). */
  readonly before?: (pass: GPUComputePassEncoder) => void;
}

/**
 * One u32 label per row of the bound samples, kept for a renderer: row_labels.wgsl writes them
 * from each chunk's responsibilities (argmax) or k-means tags, on the GPU. Made for one set of
 * chunks; a re-chunking replaces it.
 */
export class RowLabels {
  private constructor(
    private readonly ctx: GpuContext,
    readonly chunks: readonly SampleChunk[],
    private readonly buffers: GPUBuffer[],
  ) {}

  static async create(ctx: GpuContext, chunks: readonly SampleChunk[]): Promise<RowLabels> {
    const buffers = await ctx.createGuarded('creating the render labels', (make) =>
      chunks.map((c, i) =>
        make(`render labels, chunk ${i}`, c.rows * 4, BufferUsage.STORAGE | BufferUsage.COPY_SRC),
      ),
    );
    return new RowLabels(ctx, chunks, buffers);
  }

  /**
   * Writes every chunk's labels from `source(i)`: with `fromTags` a k-means tag per row, else
   * `k` float32 responsibilities per row. One submission; nothing is read back.
   */
  async write(source: (chunk: number) => LabelSource, k: number, fromTags: boolean): Promise<RenderChunk[]> {
    const ctx = this.ctx;
    const pipeline = await kernelPipeline(ctx, ROW_LABELS_KERNEL, { K: k, FROM_TAGS: fromTags ? 1 : 0 });
    await ctx.guard('labelling the rows for rendering', () => {
      const encoder = ctx.device.createCommandEncoder({ label: 'render labels' });
      const pass = encoder.beginComputePass({ label: 'render labels' });
      this.chunks.forEach((c, i) => {
        const from = source(i);
        from.before?.(pass);
        pass.setPipeline(pipeline);
        pass.setBindGroup(
          0,
          kernelBindGroup(ctx, ROW_LABELS_KERNEL, pipeline, `render labels, chunk ${i}`, {
            source: from.buffer,
            labels: this.buffers[i],
          }),
        );
        const workgroups = Math.ceil(c.rows / ROW_LABELS_WORKGROUP);
        pass.dispatchWorkgroups(...dispatchGrid(workgroups, ctx.limits.maxComputeWorkgroupsPerDimension));
      });
      pass.end();
      ctx.device.queue.submit([encoder.finish()]);
    });
    return this.chunks.map((c, i) => ({
      firstRow: c.firstRow,
      rows: c.rows,
      samples: c.data,
      labels: this.buffers[i],
    }));
  }

  dispose(): void {
    this.ctx.destroyBuffers(this.buffers);
  }
}
