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
