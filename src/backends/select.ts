import { WebGpuEmError } from '../errors.js';
import type { Matrix } from '../data/matrix.js';
import type { BoundData, DataUse, MixtureBackend } from './backend.js';
import { CpuBackend } from './cpu/cpu-backend.js';

/** Which backend to fit with. `auto` prefers WebGPU and falls back to the CPU when no adapter exists. */
export type BackendChoice = 'auto' | 'webgpu' | 'cpu';

/** How to reach a GPU. */
export interface GpuOptions {
  /** A device the caller owns: used as is, never destroyed by webgpu-em. */
  readonly device?: GPUDevice;
  /** Node only: the Dawn adapter to use, by name (see `webgpu-em adapters`). Defaults to $WEBGPU_EM_ADAPTER. */
  readonly adapter?: string;
}

const warned = new Set<string>();

function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.warn(message);
}

/** Creates a backend; with `auto` and no adapter it says once on stderr that it fell back to the CPU. */
export async function createBackend(choice: BackendChoice, gpu: GpuOptions = {}): Promise<MixtureBackend> {
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
 * the next use. dispose() frees it (and the device webgpu-em created for it).
 */
export class LazyBackend {
  private pending: Promise<MixtureBackend> | null = null;
  /** The backend the last bind() used (the CPU when 'auto' fell back for that data). */
  private used: MixtureBackend | null = null;

  constructor(
    private readonly choice: BackendChoice,
    private readonly gpu: GpuOptions,
  ) {}

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
   * its kernels hold, say) goes to the CPU backend instead, said once on stderr.
   */
  async bind(x: Matrix, use?: DataUse): Promise<BoundData> {
    const backend = await this.get();
    try {
      const bound = await backend.bindData(x, use);
      this.used = backend;
      return bound;
    } catch (error) {
      const gpuLimit = error instanceof WebGpuEmError && error.kind === 'gpu';
      if (this.choice !== 'auto' || backend.name !== 'webgpu' || !gpuLimit) throw error;
      warnOnce(`webgpu-em: ${error.message}; using the float64 CPU backend for this data`);
      const cpu = new CpuBackend();
      this.used = cpu;
      return cpu.bindData(x);
    }
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
