// Which shape of a kernel a device gets. Kernels are shaped for GPUs by default; a CPU emulation
// (the adapter's `isFallbackAdapter`, e.g. lavapipe, which runs a workgroup's lanes as SIMD on a
// CPU) gets a variant only where bench/NOTES.md measured it faster there. WEBGPU_EM_KERNELS
// (Node) forces one shape, so that the tests run every variant on this machine's adapters.

/** 'gpu': the GPU shape; 'software': the variant measured faster on a CPU emulation. */
export type KernelShape = 'gpu' | 'software';

const SHAPES: readonly KernelShape[] = ['gpu', 'software'];

/** The environment's forced shape, if any (Node only). */
function forcedShape(): KernelShape | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const value = env?.WEBGPU_EM_KERNELS;
  if (value === undefined || value === '') return undefined;
  if (!(SHAPES as readonly string[]).includes(value))
    throw new Error(`WEBGPU_EM_KERNELS must be ${SHAPES.join(' or ')}, got '${value}'`);
  return value as KernelShape;
}

/** The kernel shape for a device: forced by WEBGPU_EM_KERNELS, else by the adapter's kind. */
export function kernelShape(device: GPUDevice): KernelShape {
  return forcedShape() ?? (device.adapterInfo?.isFallbackAdapter === true ? 'software' : 'gpu');
}
