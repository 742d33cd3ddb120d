import { printable, WebGpuEmError } from '../errors.js';
import { isNode } from '../core/env.js';
import { loadDawn, vulkanDriverProblem } from './dawn.js';

/** The limits webgpu-em asks the adapter for (its real values, not the defaults). */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

/**
 * Dawn's instances in this process, one per set of flags (the adapter's name), kept for the next
 * device. Each new instance enumerates the adapters again, and Dawn prints two warnings
 * (`maxDynamic...BuffersPerPipelineLayout artificially reduced`) at every enumeration of a driver
 * that reports more dynamic buffers than it allows (lavapipe: 1,000,000; Dawn's cap: 16): from
 * native code, with no option to silence them. One instance prints them once per process
 * instead of once per device opened. Holding it also keeps it from the garbage collector while
 * a device made from it lives (see context.ts).
 */
const dawnInstances = new Map<string, GPU>();

/** A device webgpu-em created, with the instance that must outlive it and a line naming the adapter. */
export interface OpenedDevice {
  readonly device: GPUDevice;
  readonly gpu: GPU;
  readonly description: string;
}

/**
 * Finds an adapter (Dawn's named one in Node, navigator.gpu in a browser) and creates a device
 * with the adapter's own limits, plus timestamp queries when asked for and available.
 */
export async function openDevice(options: { adapter?: string; timestamps?: boolean }): Promise<OpenedDevice> {
  const gpu = await findGpu(options.adapter);
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    throw adapterError(options.adapter, e);
  }
  if (!adapter) {
    throw new WebGpuEmError(
      'gpu',
      `no WebGPU adapter found${await vulkanEnvironmentProblem()}(install a GPU driver or a software Vulkan driver such as lavapipe: see scripts/setup.sh)`,
    );
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const value = adapter.limits[name];
    if (typeof value === 'number') requiredLimits[name] = value;
  }
  const requiredFeatures: GPUFeatureName[] =
    options.timestamps && adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  // The k-means assignment has a variant with subgroup broadcasts (see kmeansAssignKernel).
  if (adapter.features.has('subgroups')) requiredFeatures.push('subgroups');
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'webgpu-em' });
  return { device, gpu, description: describeAdapter(adapter.info) };
}

/**
 * Node: every adapter Dawn sees, as `name (backend)`. Dawn lists them when asked for an adapter
 * that does not exist (its documented way); empty in a browser.
 */
export async function listAdapters(): Promise<string[]> {
  if (!isNode) return [];
  const dawn = await loadDawn();
  try {
    const adapter = await dawn.create(['adapter=\u0000webgpu-em: list']).requestAdapter();
    return adapter ? [describeAdapter(adapter.info)] : [];
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return [...message.matchAll(/backend: '([^']*)', name: '([^']*)'/g)].map((m) => `${m[2]} (${m[1]})`);
  }
}

/** Dawn's "no suitable backends found" turned into one line that lists the adapters it has. */
function adapterError(name: string | undefined, e: unknown): WebGpuEmError {
  const message = e instanceof Error ? e.message : String(e);
  const names = [...message.matchAll(/backend: '([^']*)', name: '([^']*)'/g)].map(
    (m) => `'${m[2]}' (${m[1]})`,
  );
  const fromEnvironment = name === undefined && isNode ? process.env.WEBGPU_EM_ADAPTER : undefined;
  const wanted = name ?? fromEnvironment;
  const list = names.length > 0 ? names.join(', ') : 'none';
  return new WebGpuEmError(
    'gpu',
    fromEnvironment
      ? `no WebGPU adapter matches '${printable(fromEnvironment, 80)}', which the environment variable WEBGPU_EM_ADAPTER names; the adapters here are: ${list}; set WEBGPU_EM_ADAPTER to one of these names, or unset it for the first`
      : wanted
        ? `no WebGPU adapter matches '${printable(wanted, 80)}'; the adapters here are: ${list}; pass one of these names to --adapter (or WEBGPU_EM_ADAPTER), or leave it out for the first`
        : `no WebGPU adapter could be created (${message.split('\n')[0]}); the adapters here are: ${list}`,
    { cause: e },
  );
}

async function findGpu(adapterName: string | undefined): Promise<GPU> {
  if (!isNode) {
    if (typeof navigator === 'undefined' || !navigator.gpu) {
      throw new WebGpuEmError(
        'gpu',
        'this browser has no WebGPU (navigator.gpu is missing); use a browser with WebGPU enabled',
      );
    }
    return navigator.gpu;
  }
  const dawn = await loadDawn();
  const name = adapterName ?? process.env.WEBGPU_EM_ADAPTER;
  const flags = name ? [`adapter=${name}`] : [];
  const key = flags.join('\n');
  try {
    let gpu = dawnInstances.get(key);
    if (!gpu) {
      gpu = dawn.create(flags);
      dawnInstances.set(key, gpu);
    }
    return gpu;
  } catch (e) {
    throw new WebGpuEmError('gpu', `no WebGPU adapter named '${name}': ${(e as Error).message}`);
  }
}

/** A clause naming an environment variable that points the Vulkan loader nowhere, or ' '. */
async function vulkanEnvironmentProblem(): Promise<string> {
  const problem = isNode ? await vulkanDriverProblem() : null;
  return problem ? `: ${problem} ` : ' ';
}

function describeAdapter(info: GPUAdapterInfo | undefined): string {
  if (!info) return 'unknown adapter';
  const parts = [info.description, info.vendor, info.architecture, info.device].filter(
    (s) => s && s.length > 0,
  );
  return [...new Set(parts)].join(' / ') || 'unknown adapter';
}

/** A line naming the adapter of a device the caller created. */
export function describeDevice(device: GPUDevice): string {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return info ? describeAdapter(info) : device.label || 'caller-provided device';
}
