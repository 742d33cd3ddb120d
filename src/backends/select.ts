import { WebGpuEmError } from '../errors.js';
import type { Matrix } from '../data/matrix.js';
import type { BindOptions, BoundData, MixtureBackend } from './backend.js';
import { CheckedBoundData, float32Scale, scaledMatrix } from './checked.js';
import { backendOf, type BackendChoice, type BackendName, type CovarianceType } from '../core/names.js';
import { checkGpuCapacity } from './webgpu/capacity.js';
import { CpuBackend } from './cpu/cpu-backend.js';
import type { WebGpuBackend } from './webgpu/webgpu-backend.js';
import { AUTO_CPU_MAX_VALUES } from './auto-cpu.js';

/**
 * Which backend to fit with. `auto` prefers WebGPU, takes the CPU for data of at most
 * {@link AUTO_CPU_MAX_VALUES} values, and falls back to the CPU when no adapter exists.
 */
export type { BackendChoice };

/** How to reach a GPU. */
export interface GpuOptions {
  /** A device the caller owns: used as is, never destroyed by webgpu-em. */
  readonly device?: GPUDevice;
  /** Node only: the Dawn adapter to use, by name (see `webgpu-em adapters`). Defaults to $WEBGPU_EM_ADAPTER. */
  readonly adapter?: string;
  /**
   * Most device memory a streamed fit's chunks may take (two chunks in flight); default
   * {@link DEFAULT_MAX_GPU_BYTES}, or less when the adapter's largest buffer is smaller.
   */
  readonly maxGpuBytes?: number;
}

/** Default of `maxGpuBytes` (`--max-gpu-memory`): 256 MiB. */
export const DEFAULT_MAX_GPU_BYTES = 256 * 2 ** 20;

// In a module of its own, which the command-line launcher reads before the package loads.
export { AUTO_CPU_MAX_VALUES };

const warned = new Set<string>();

function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.warn(message);
}

/** Creates a backend; with `auto` and no adapter it says once on stderr that it fell back to the CPU. */
export async function createBackend(requested: BackendChoice, gpu: GpuOptions = {}): Promise<MixtureBackend> {
  const choice = backendOf(requested);
  if (choice === 'cpu') return new CpuBackend();
  const { WebGpuBackend } = await import('./webgpu/webgpu-backend.js');
  try {
    return await WebGpuBackend.create(gpu);
  } catch (error) {
    if (choice === 'webgpu' || !(error instanceof WebGpuEmError) || error.kind !== 'gpu' || gpu.device)
      throw error;
    warnOnce(`webgpu-em: ${error.message}; falling back to the float64 CPU backend`);
    return new CpuBackend();
  }
}

/**
 * A backend created on first use and shared by a model's calls; a failed creation is retried on
 * the next use. dispose() frees it (a shared device stays for the next model).
 */
export class LazyBackend {
  private pending: Promise<MixtureBackend> | null = null;
  /** The backend the last bind() used (the CPU when 'auto' fell back for that data). */
  private used: MixtureBackend | null = null;

  private readonly choice: 'auto' | BackendName;

  constructor(
    choice: BackendChoice,
    private readonly gpu: GpuOptions,
  ) {
    this.choice = backendOf(choice);
  }

  get(): Promise<MixtureBackend> {
    if (!this.pending) {
      const created = createBackend(this.choice, this.gpu);
      this.pending = created;
      created.catch(() => {
        if (this.pending === created) this.pending = null;
      });
    }
    return this.pending;
  }

  /**
   * Uploads X to the backend. With 'auto', data the GPU path cannot take (more features than
   * its kernels hold, say) goes to the CPU backend instead, said once on stderr. Every result
   * of the bound data is checked for finiteness; data beyond float32's comfortable range is
   * scaled by a power of two on the GPU path, its results scaled back (see checked.ts).
   */
  async bind(x: Matrix, options: BindOptions = {}, values = x.rows * x.cols): Promise<BoundData> {
    options.signal?.throwIfAborted();
    // `values`: the size 'auto' judges by (a streamed chunk is judged by its whole data set).
    if (this.choice === 'auto' && !this.gpu.device && values <= AUTO_CPU_MAX_VALUES) {
      const cpu = new CpuBackend();
      this.used = cpu;
      return new CheckedBoundData(await cpu.bindData(x, options), 'cpu', 1, options.signal);
    }
    const backend = await this.get();
    try {
      const limits = (backend as { context?: { limits: GPUSupportedLimits } }).context?.limits;
      // K known: the kernels' limits are checked before any upload, so `auto` falls back here.
      if (limits && options.components !== undefined)
        checkGpuCapacity(limits, options.components, x.cols, options.purpose ?? 'full');
      const scale = backend.name === 'webgpu' ? float32Scale(x) : 1;
      const bound = await backend.bindData(scaledMatrix(x, scale), options);
      this.used = backend;
      const capacity = limits
        ? (k: number, family: CovarianceType | 'kmeans') => checkGpuCapacity(limits, k, x.cols, family)
        : undefined;
      return new CheckedBoundData(bound, backend.name, scale, options.signal, capacity);
    } catch (error) {
      const gpuLimit = error instanceof WebGpuEmError && error.kind === 'gpu';
      if (this.choice !== 'auto' || backend.name !== 'webgpu' || !gpuLimit) throw error;
      warnOnce(`webgpu-em: ${error.message}; using the float64 CPU backend for this data`);
      const cpu = new CpuBackend();
      this.used = cpu;
      return new CheckedBoundData(await cpu.bindData(x, options), 'cpu', 1, options.signal);
    }
  }

  /**
   * Device memory a streamed pass may use: `maxGpuBytes` (default 256 MiB), capped by the
   * adapter's largest buffer and storage binding (on the CPU: the host memory of the chunks).
   */
  async memoryBudget(): Promise<number> {
    const requested = this.gpu.maxGpuBytes ?? DEFAULT_MAX_GPU_BYTES;
    const backend = await this.current();
    const limits = (backend as { context?: { limits: GPUSupportedLimits } }).context?.limits;
    if (!limits) return requested;
    return Math.min(requested, limits.maxBufferSize);
  }

  /**
   * Binds samples already in a buffer of the given device, in place (see `GpuRows`); only on
   * the webgpu backend, and never scaled (the caller's values must suit float32 sums).
   */
  async bindBuffer(
    x: { buffer: GPUBuffer; rows: number; cols: number },
    options: BindOptions = {},
  ): Promise<BoundData> {
    const backend = await this.gpuBackend(x);
    const bound = await backend.bindBuffer(x.buffer, x.rows, x.cols, options);
    this.used = backend;
    const capacity = (k: number, family: CovarianceType | 'kmeans') =>
      checkGpuCapacity(backend.context.limits, k, x.cols, family);
    return new CheckedBoundData(bound, backend.name, 1, options.signal, capacity);
  }

  /** Rows of a caller's buffer read back (ascending indices): an initialisation sample. */
  async readRows(
    x: { buffer: GPUBuffer; rows: number; cols: number },
    rows: readonly number[],
  ): Promise<Float32Array> {
    const backend = await this.gpuBackend(x);
    const { readRows } = await import('./webgpu/sample-chunks.js');
    return readRows(backend.context, x.buffer, x.cols, rows);
  }

  private async gpuBackend(x: { rows: number; cols: number }) {
    if (!this.gpu.device || this.choice === 'cpu') {
      throw new WebGpuEmError(
        'usage',
        "samples in a GPUBuffer need the buffer's device as the `device` option and backend 'webgpu' or 'auto'",
      );
    }
    if (!Number.isInteger(x.rows) || x.rows < 1 || !Number.isInteger(x.cols) || x.cols < 1) {
      throw new WebGpuEmError(
        'data',
        `a GPUBuffer of samples needs rows >= 1 and cols >= 1; got ${x.rows} x ${x.cols}`,
      );
    }
    return (await this.get()) as WebGpuBackend;
  }

  /** The backend that ran the last bind() (or, before any, the one that will). */
  async current(): Promise<MixtureBackend> {
    return this.used ?? this.get();
  }

  dispose(): void {
    this.used = null;
    const pending = this.pending;
    this.pending = null;
    pending?.then((b) => b.dispose()).catch(() => {});
  }
}
