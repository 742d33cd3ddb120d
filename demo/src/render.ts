/**
 * Draws the scatter plot with a WebGPU render pipeline on the fit's own device: each sample read
 * by the vertex shader from the fit's sample and label buffers (the library's render view), so
 * nothing is read back and millions of points pan and zoom at the GPU's pace. The components'
 * outlines are a small line list on top.
 */
import type { RenderView } from 'webgpu-em';
import overlaySource from '../shaders/overlay.wgsl?raw';
import pointsSource from '../shaders/points.wgsl?raw';
import { PALETTE, UNLABELLED, rgba } from './colors.js';
import type { Projection, Window } from './geometry.js';

/** What the points come from: the model's render view, or the Worker's own preview buffers. */
export type PointSource = Pick<RenderView, 'chunks' | 'cols' | 'scale'>;

const BACKGROUND = { r: 0.07, g: 0.075, b: 0.09, a: 1 };
/** Below this many samples each is a small square; above, a pixel. */
const QUADS_BELOW = 400_000;
const UNIFORM_BYTES = 48;

export class Renderer {
  private readonly uniforms: GPUBuffer;
  private readonly palette: GPUBuffer;
  private projection: GPUBuffer | null = null;
  private shared: GPUBindGroup | null = null;
  private chunks: { group: GPUBindGroup; rows: number }[] = [];
  private source: PointSource | null = null;
  private overlay: { buffer: GPUBuffer; vertices: number } | null = null;
  private readonly sharedLayout: GPUBindGroupLayout;
  private readonly chunkLayout: GPUBindGroupLayout;
  private readonly pixels: GPURenderPipeline;
  private readonly quads: GPURenderPipeline;
  private readonly lines: GPURenderPipeline;

  constructor(
    readonly device: GPUDevice,
    private readonly context: GPUCanvasContext,
    private readonly format: GPUTextureFormat,
  ) {
    context.configure({ device, format, alphaMode: 'opaque' });
    const vertexStorage = (binding: number): GPUBindGroupLayoutEntry => ({
      binding,
      visibility: GPUShaderStage.VERTEX,
      buffer: { type: 'read-only-storage' },
    });
    this.sharedLayout = device.createBindGroupLayout({
      label: 'plot: view, projection, palette',
      entries: [
        { binding: 0, visibility: GPUShaderStage.VERTEX, buffer: { type: 'uniform' } },
        vertexStorage(1),
        vertexStorage(2),
      ],
    });
    this.chunkLayout = device.createBindGroupLayout({
      label: 'plot: samples and labels',
      entries: [vertexStorage(0), vertexStorage(1)],
    });
    const points = device.createShaderModule({ label: 'points.wgsl', code: pointsSource });
    const layout = device.createPipelineLayout({ bindGroupLayouts: [this.sharedLayout, this.chunkLayout] });
    const target = [{ format }];
    const pointPipeline = (entryPoint: string, topology: GPUPrimitiveTopology) =>
      device.createRenderPipeline({
        label: `points (${entryPoint})`,
        layout,
        vertex: { module: points, entryPoint },
        fragment: { module: points, entryPoint: 'colour', targets: target },
        primitive: { topology },
      });
    this.pixels = pointPipeline('pixel', 'point-list');
    this.quads = pointPipeline('quad', 'triangle-list');
    const overlay = device.createShaderModule({ label: 'overlay.wgsl', code: overlaySource });
    this.lines = device.createRenderPipeline({
      label: 'outlines',
      layout: device.createPipelineLayout({
        bindGroupLayouts: [
          device.createBindGroupLayout({
            entries: [{ binding: 0, visibility: GPUShaderStage.VERTEX, buffer: { type: 'uniform' } }],
          }),
        ],
      }),
      vertex: {
        module: overlay,
        entryPoint: 'line',
        buffers: [
          {
            arrayStride: 24,
            attributes: [
              { shaderLocation: 0, offset: 0, format: 'float32x2' },
              { shaderLocation: 1, offset: 8, format: 'float32x4' },
            ],
          },
        ],
      },
      fragment: {
        module: overlay,
        entryPoint: 'colour',
        targets: [
          {
            format,
            blend: {
              color: { srcFactor: 'src-alpha', dstFactor: 'one-minus-src-alpha' },
              alpha: { srcFactor: 'one', dstFactor: 'one-minus-src-alpha' },
            },
          },
        ],
      },
      primitive: { topology: 'line-list' },
    });
    this.uniforms = device.createBuffer({
      label: 'plot view',
      size: UNIFORM_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    const colours = new Float32Array([...PALETTE, UNLABELLED].flatMap((c) => rgba(c)));
    this.palette = device.createBuffer({
      label: 'palette',
      size: colours.byteLength,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(this.palette, 0, colours);
  }

  /** The axes to plot (D may change with the data). */
  setProjection(p: Projection): void {
    this.projection?.destroy();
    const values = Float32Array.from(p.rows);
    this.projection = this.device.createBuffer({
      label: 'projection',
      size: Math.max(16, values.byteLength),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    this.device.queue.writeBuffer(this.projection, 0, values);
    this.shared = this.device.createBindGroup({
      layout: this.sharedLayout,
      entries: [
        { binding: 0, resource: { buffer: this.uniforms } },
        { binding: 1, resource: { buffer: this.projection } },
        { binding: 2, resource: { buffer: this.palette } },
      ],
    });
  }

  /** The buffers to draw from: bind groups only when they changed. */
  setPoints(source: PointSource | null): void {
    const same =
      source &&
      this.source &&
      source.chunks.length === this.source.chunks.length &&
      source.chunks.every(
        (c, i) => c.samples === this.source!.chunks[i].samples && c.labels === this.source!.chunks[i].labels,
      );
    this.source = source;
    if (same) return;
    this.chunks = (source?.chunks ?? []).map((c) => ({
      rows: c.rows,
      group: this.device.createBindGroup({
        layout: this.chunkLayout,
        entries: [
          { binding: 0, resource: { buffer: c.samples } },
          { binding: 1, resource: { buffer: c.labels } },
        ],
      }),
    }));
  }

  /** Line-list vertices from geometry.outlines. */
  setOverlay(vertices: Float32Array<ArrayBuffer>): void {
    this.overlay?.buffer.destroy();
    this.overlay = null;
    if (vertices.length === 0) return;
    const buffer = this.device.createBuffer({
      label: 'outlines',
      size: vertices.byteLength,
      usage: GPUBufferUsage.VERTEX | GPUBufferUsage.COPY_DST,
    });
    this.device.queue.writeBuffer(buffer, 0, vertices);
    this.overlay = { buffer, vertices: vertices.length / 6 };
  }

  draw(w: Window, width: number, height: number, target?: GPUTexture): void {
    const rows = this.chunks.reduce((a, c) => a + c.rows, 0);
    const quads = rows < QUADS_BELOW;
    const view = new ArrayBuffer(UNIFORM_BYTES);
    const f = new Float32Array(view);
    f.set([1 / w.halfWidth, 1 / w.halfHeight, 0, 0, w.cx, w.cy, width / 2, height / 2]);
    f[8] = this.source?.scale ?? 1;
    new Uint32Array(view)[9] = this.source?.cols ?? 0;
    f[10] = rows < 20_000 ? 4 : rows < 100_000 ? 3 : 2;
    f[11] = 1;
    this.device.queue.writeBuffer(this.uniforms, 0, view);
    const encoder = this.device.createCommandEncoder({ label: 'plot' });
    const pass = encoder.beginRenderPass({
      colorAttachments: [
        {
          view: (target ?? this.context.getCurrentTexture()).createView(),
          clearValue: BACKGROUND,
          loadOp: 'clear',
          storeOp: 'store',
        },
      ],
    });
    if (this.shared && this.source) {
      pass.setPipeline(quads ? this.quads : this.pixels);
      pass.setBindGroup(0, this.shared);
      for (const c of this.chunks) {
        pass.setBindGroup(1, c.group);
        pass.draw(quads ? c.rows * 6 : c.rows);
      }
    }
    if (this.overlay) {
      pass.setPipeline(this.lines);
      pass.setBindGroup(
        0,
        this.device.createBindGroup({
          layout: this.lines.getBindGroupLayout(0),
          entries: [{ binding: 0, resource: { buffer: this.uniforms } }],
        }),
      );
      pass.setVertexBuffer(0, this.overlay.buffer);
      pass.draw(this.overlay.vertices);
    }
    pass.end();
    this.device.queue.submit([encoder.finish()]);
  }

  /**
   * The plot as a PNG: drawn into a texture of its own and read back (a user's explicit request,
   * not part of drawing).
   */
  async image(w: Window, width: number, height: number): Promise<Blob> {
    const texture = this.device.createTexture({
      size: [width, height],
      format: this.format,
      usage: GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.COPY_SRC,
    });
    const bytesPerRow = Math.ceil((width * 4) / 256) * 256;
    const buffer = this.device.createBuffer({
      size: bytesPerRow * height,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    try {
      this.draw(w, width, height, texture);
      const encoder = this.device.createCommandEncoder();
      encoder.copyTextureToBuffer({ texture }, { buffer, bytesPerRow }, [width, height]);
      this.device.queue.submit([encoder.finish()]);
      await buffer.mapAsync(GPUMapMode.READ);
      const src = new Uint8Array(buffer.getMappedRange());
      const pixels = new Uint8ClampedArray(width * height * 4);
      const bgra = this.format.startsWith('bgra');
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const i = y * bytesPerRow + x * 4;
          const o = (y * width + x) * 4;
          pixels[o] = src[bgra ? i + 2 : i];
          pixels[o + 1] = src[i + 1];
          pixels[o + 2] = src[bgra ? i : i + 2];
          pixels[o + 3] = 255;
        }
      }
      const canvas = new OffscreenCanvas(width, height);
      canvas.getContext('2d')!.putImageData(new ImageData(pixels, width, height), 0, 0);
      return await canvas.convertToBlob({ type: 'image/png' });
    } finally {
      texture.destroy();
      buffer.destroy();
    }
  }
}

/**
 * The plot without WebGPU (the CPU backend on small data): the same picture drawn with a 2D
 * canvas from labels read on the CPU.
 */
export class CanvasRenderer {
  private data: { x: Float32Array; cols: number; rows: number } | null = null;
  private labels: Int32Array | null = null;
  private projection: Projection | null = null;
  private overlay: Float32Array = new Float32Array(0);

  constructor(private readonly context: OffscreenCanvasRenderingContext2D) {}

  setProjection(p: Projection): void {
    this.projection = p;
  }
  setData(x: Float32Array, rows: number, cols: number): void {
    this.data = { x, rows, cols };
    this.labels = null;
  }
  setLabels(labels: Int32Array | null): void {
    this.labels = labels;
  }
  setOverlay(vertices: Float32Array<ArrayBuffer>): void {
    this.overlay = vertices;
  }

  draw(w: Window, width: number, height: number): void {
    const g = this.context;
    g.fillStyle = '#121317';
    g.fillRect(0, 0, width, height);
    const sx = (x: number) => ((x - w.cx) / w.halfWidth + 1) * (width / 2);
    const sy = (y: number) => (1 - (y - w.cy) / w.halfHeight) * (height / 2);
    const p = this.projection;
    const data = this.data;
    if (p && data) {
      const colours = [...PALETTE];
      for (let r = 0; r < data.rows; r++) {
        let a = 0;
        let b = 0;
        for (let i = 0; i < data.cols; i++) {
          const v = data.x[r * data.cols + i];
          a += p.rows[i] * v;
          b += p.rows[data.cols + i] * v;
        }
        const label = this.labels?.[r] ?? -1;
        g.fillStyle = label < 0 ? UNLABELLED : colours[label % colours.length];
        g.fillRect(sx(a) - 1, sy(b) - 1, 2, 2);
      }
    }
    const v = this.overlay;
    for (let i = 0; i + 11 < v.length; i += 12) {
      g.strokeStyle = `rgba(${v[i + 2] * 255},${v[i + 3] * 255},${v[i + 4] * 255},${v[i + 5]})`;
      g.beginPath();
      g.moveTo(sx(v[i]), sy(v[i + 1]));
      g.lineTo(sx(v[i + 6]), sy(v[i + 7]));
      g.stroke();
    }
  }
}
