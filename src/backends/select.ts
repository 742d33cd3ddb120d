import { WebGpuEmError } from '../errors.js';
import type { MixtureBackend } from './backend.js';
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

let warnedFallback = false;

/** Creates a backend; with `auto` and no adapter it says once on stderr that it fell back to the CPU. */
export async function createBackend(choice: BackendChoice, gpu: GpuOptions = {}): Promise<MixtureBackend> {
  if (choice === 'cpu') return new CpuBackend();
  const { WebGpuBackend } = await import('./webgpu/webgpu-backend.js');
  try {
    return await WebGpuBackend.create(gpu);
  } catch (error) {
    if (choice === 'webgpu' || !(error instanceof WebGpuEmError) || error.kind !== 'gpu' || gpu.device)
      throw error;
    if (!warnedFallback) {
      warnedFallback = true;
      console.warn(`webgpu-em: ${error.message}; falling back to the float64 CPU backend`);
    }
    return new CpuBackend();
  }
}

/**
 * A backend created on first use and shared by a model's calls; a failed creation is retried on
 * the next use. dispose() frees it (and the device webgpu-em created for it).
 */
export class LazyBackend {
  private pending: Promise<MixtureBackend> | null = null;

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

  dispose(): void {
    const pending = this.pending;
    this.pending = null;
    pending?.then((b) => b.dispose()).catch(() => {});
  }
}
