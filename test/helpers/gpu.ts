import { GpuContext } from '../../src/gpu/context.js';

/**
 * The real WebGPU device the GPU tests share. No adapter is a failure, never a skip: a skipped
 * GPU test is an untested GPU path (scripts/setup.sh installs a software Vulkan driver).
 */
export async function requireGpu(): Promise<GpuContext> {
  try {
    return await GpuContext.acquire();
  } catch (error) {
    throw new Error(
      `GPU tests need a WebGPU adapter and none was found (${(error as Error).message}). ` +
        'Run `bash scripts/setup.sh` to install a software Vulkan driver.',
      { cause: error },
    );
  }
}
