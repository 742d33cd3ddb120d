import { BufferUsage } from '../../gpu/constants.js';
import type { GpuContext } from '../../gpu/context.js';
import type { RenderChunk } from '../backend.js';
import { kernelBindGroup, kernelPipeline, ROW_LABELS_KERNEL } from './kernels.js';
import { dispatchGrid, ROW_LABELS_WORKGROUP } from './layout.js';
import type { SampleChunk } from './sample-chunks.js';

/**
 * One u32 label per row of the bound samples, kept for a renderer, written on the GPU: a
 * mixture's by the E-step itself (mixture-passes.ts `writeLabels`: the argmax of each row's
 * responsibilities, no N x K buffer), k-means' from its label tags by row_labels.wgsl. Made for
 * one set of chunks; a re-chunking replaces it.
 */
export class RowLabels {
  private constructor(
    private readonly ctx: GpuContext,
    readonly chunks: readonly SampleChunk[],
    /** One u32 per row of each chunk. */
    readonly buffers: readonly GPUBuffer[],
  ) {}

  static async create(ctx: GpuContext, chunks: readonly SampleChunk[]): Promise<RowLabels> {
    const buffers = await ctx.createGuarded('creating the render labels', (make) =>
      chunks.map((c, i) =>
        make(`render labels, chunk ${i}`, c.rows * 4, BufferUsage.STORAGE | BufferUsage.COPY_SRC),
      ),
    );
    return new RowLabels(ctx, chunks, buffers);
  }

  /** Writes every chunk's labels from its k-means label tags (one per row). One submission; nothing is read back. */
  async writeFromTags(tags: readonly GPUBuffer[]): Promise<void> {
    const ctx = this.ctx;
    const pipeline = await kernelPipeline(ctx, ROW_LABELS_KERNEL, {});
    await ctx.guard('labelling the rows for rendering', () => {
      const encoder = ctx.device.createCommandEncoder({ label: 'render labels' });
      const pass = encoder.beginComputePass({ label: 'render labels' });
      pass.setPipeline(pipeline);
      this.chunks.forEach((c, i) => {
        pass.setBindGroup(
          0,
          kernelBindGroup(ctx, ROW_LABELS_KERNEL, pipeline, `render labels, chunk ${i}`, {
            source: tags[i],
            labels: this.buffers[i],
          }),
        );
        const workgroups = Math.ceil(c.rows / ROW_LABELS_WORKGROUP);
        pass.dispatchWorkgroups(...dispatchGrid(workgroups, ctx.limits.maxComputeWorkgroupsPerDimension));
      });
      pass.end();
      ctx.device.queue.submit([encoder.finish()]);
    });
  }

  /** The chunks with their samples and labels, for the view. */
  renderChunks(): RenderChunk[] {
    return this.chunks.map((c, i) => ({
      firstRow: c.firstRow,
      rows: c.rows,
      samples: c.data,
      labels: this.buffers[i],
    }));
  }

  dispose(): void {
    this.ctx.destroyBuffers([...this.buffers]);
  }
}
