import { WebGpuEmError } from '../errors.js';
import { BufferUsage, MapMode } from './constants.js';
import { loadShader } from './shader-source.js';

/** Buffers webgpu-em created on a device and has not destroyed yet: a leak shows here. */
export interface Allocations {
  buffers: number;
  bytes: number;
}

const allocationsByDevice = new WeakMap<GPUDevice, Allocations>();
const sharedContexts = new WeakMap<GPUDevice, GpuContext>();

function allocationsOf(device: GPUDevice): Allocations {
  let a = allocationsByDevice.get(device);
  if (!a) {
    a = { buffers: 0, bytes: 0 };
    allocationsByDevice.set(device, a);
  }
  return a;
}

/** Live buffers and bytes webgpu-em holds on `device` (all models together). */
export function gpuAllocations(device: GPUDevice): Readonly<Allocations> {
  return { ...allocationsOf(device) };
}

/** How to reach a device. */
export interface AcquireOptions {
  /** Use this device (owned by the caller: never destroyed here). */
  device?: GPUDevice;
  /** Ask for the 'timestamp-query' feature (when the adapter has it) to time GPU work. */
  timestamps?: boolean;
  /** Node only: Dawn adapter name; defaults to $WEBGPU_EM_ADAPTER. */
  adapter?: string;
}

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
 * A device plus what every kernel needs around it: labelled, counted buffers, a pipeline cache,
 * and errors (validation, out-of-memory, device loss) turned into rejected promises.
 */
export class GpuContext {
  readonly device: GPUDevice;
  readonly adapterDescription: string;
  readonly limits: GPUSupportedLimits;
  private readonly allocations: Allocations;
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  private guardQueue: Promise<unknown> = Promise.resolve();
  private lostError: WebGpuEmError | null = null;
  private readonly lost: Promise<never>;
  private uncaptured: WebGpuEmError | null = null;
  /** Keeps Dawn's instance alive as long as the device (see release()). */
  private gpuInstance: GPU | null;
  private readonly ownsDevice: boolean;

  private constructor(device: GPUDevice, description: string, instance: GPU | null, ownsDevice: boolean) {
    this.device = device;
    this.adapterDescription = description;
    this.limits = device.limits;
    this.gpuInstance = instance;
    this.ownsDevice = ownsDevice;
    this.allocations = allocationsOf(device);
    this.lost = device.lost.then((info) => {
      this.lostError = new WebGpuEmError(
        'gpu',
        `the WebGPU device was lost (${info.reason}): ${info.message || 'no message'}; create a new model to retry`,
      );
      throw this.lostError;
    });
    this.lost.catch(() => {});
    device.addEventListener('uncapturederror', (event) => {
      const e = (event as GPUUncapturedErrorEvent).error;
      this.uncaptured ??= new WebGpuEmError('gpu', `WebGPU error: ${e.message}`);
    });
  }

  /** Finds an adapter and creates a device with the adapter's own limits. */
  static async acquire(options: AcquireOptions = {}): Promise<GpuContext> {
    if (options.device) {
      // One context per device: models sharing a device share its pipeline cache, its error
      // listener and its queue of error scopes (a device webgpu-em created is found here too).
      let shared = sharedContexts.get(options.device);
      if (!shared) {
        shared = new GpuContext(options.device, describeDevice(options.device), null, false);
        sharedContexts.set(options.device, shared);
      }
      return shared;
    }
    const gpu = await findGpu(options.adapter);
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) {
      throw new WebGpuEmError(
        'gpu',
        'no WebGPU adapter found (install a GPU driver or a software Vulkan driver such as lavapipe: see scripts/setup.sh)',
      );
    }
    const requiredLimits: Record<string, number> = {};
    for (const name of WANTED_LIMITS) {
      const value = adapter.limits[name];
      if (typeof value === 'number') requiredLimits[name] = value;
    }
    const requiredFeatures: GPUFeatureName[] =
      options.timestamps && adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'webgpu-em' });
    const context = new GpuContext(device, describeAdapter(adapter.info), gpu, true);
    sharedContexts.set(device, context);
    return context;
  }

  /** True when GPU passes can be timed with timestamp queries. */
  get hasTimestamps(): boolean {
    return this.device.features.has('timestamp-query');
  }

  /** A buffer counted in gpuAllocations(); free it with destroyBuffer. */
  createBuffer(label: string, size: number, usage: number): GPUBuffer {
    const padded = Math.max(4, Math.ceil(size / 4) * 4);
    if (padded > this.limits.maxBufferSize) {
      throw new WebGpuEmError(
        'gpu',
        `buffer '${label}' needs ${padded} bytes but the adapter allows ${this.limits.maxBufferSize}; use fewer samples, components or features`,
      );
    }
    const buffer = this.device.createBuffer({ label, size: padded, usage });
    this.allocations.buffers += 1;
    this.allocations.bytes += padded;
    return buffer;
  }

  destroyBuffer(buffer: GPUBuffer | null | undefined): void {
    if (!buffer) return;
    this.allocations.buffers -= 1;
    this.allocations.bytes -= buffer.size;
    buffer.destroy();
  }

  /** A storage buffer filled with `data`. */
  uploadBuffer(label: string, data: Float32Array | Uint32Array, extraUsage = 0): GPUBuffer {
    const buffer = this.createBuffer(
      label,
      data.byteLength,
      BufferUsage.STORAGE | BufferUsage.COPY_DST | extraUsage,
    );
    this.write(buffer, data);
    return buffer;
  }

  /** Queues a write of `data` at the start of `buffer`. */
  write(buffer: GPUBuffer, data: Float32Array | Uint32Array): void {
    this.device.queue.writeBuffer(buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  }

  /** A compute pipeline for `shaders/<shader>` with these override constants, built once and cached. */
  pipeline(shader: string, constants: Record<string, number>): Promise<GPUComputePipeline> {
    const key = `${shader}|${JSON.stringify(constants)}`;
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      pipeline = this.buildPipeline(shader, constants, key);
      this.pipelines.set(key, pipeline);
      pipeline.catch(() => this.pipelines.delete(key));
    }
    return pipeline;
  }

  private async buildPipeline(shader: string, constants: Record<string, number>, label: string) {
    const code = await loadShader(shader);
    return this.guard(label, async () => {
      const module = this.device.createShaderModule({ label: shader, code });
      return this.device.createComputePipelineAsync({
        label,
        layout: 'auto',
        compute: { module, entryPoint: 'main', constants },
      });
    });
  }

  /**
   * Runs `work` (which records and submits GPU commands) inside validation, out-of-memory and
   * internal error scopes; any error, or device loss while waiting, rejects with its message.
   */
  guard<T>(what: string, work: () => Promise<T> | T): Promise<T> {
    // Error scopes belong to the whole device: guarded calls run one at a time so that each
    // error is reported by the call that caused it.
    const run = this.guardQueue.then(() => this.guardNow(what, work));
    this.guardQueue = run.catch(() => {});
    return run;
  }

  private async guardNow<T>(what: string, work: () => Promise<T> | T): Promise<T> {
    this.throwIfBroken();
    const scopes: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];
    for (const s of scopes) this.device.pushErrorScope(s);
    let result: T;
    let failure: unknown = null;
    try {
      result = await Promise.race([Promise.resolve(work()), this.lost]);
    } catch (e) {
      failure = e;
    }
    const errors = await Promise.race([
      Promise.all(scopes.map(() => this.device.popErrorScope())),
      this.lost,
    ]);
    const first = errors.find((e) => e !== null);
    if (first)
      throw new WebGpuEmError('gpu', `WebGPU ${errorKind(first)} error in ${what}: ${first.message}`);
    if (failure !== null) throw wrapGpuError(failure, what);
    this.throwIfBroken();
    return result!;
  }

  /** Maps a MAP_READ buffer and copies out its first `length` floats. */
  async readFloats(buffer: GPUBuffer, length: number): Promise<Float32Array> {
    await Promise.race([buffer.mapAsync(MapMode.READ, 0, length * 4), this.lost]);
    const copy = new Float32Array(buffer.getMappedRange(0, length * 4).slice(0));
    buffer.unmap();
    return copy;
  }

  private throwIfBroken(): void {
    if (this.lostError) throw this.lostError;
    if (this.uncaptured) {
      const e = this.uncaptured;
      this.uncaptured = null;
      throw e;
    }
  }

  /**
   * Destroys the device if this context created it and lets go of Dawn's instance so that Node
   * can exit; only the one who acquired it without a `device` should call this. A caller's
   * device outlives the models using it: its context stays for the next one.
   */
  release(): void {
    if (!this.ownsDevice) return;
    this.pipelines.clear();
    this.device.destroy();
    this.gpuInstance = null;
  }

  /** True while the instance reference is held (for tests of the lifetime rule). */
  get holdsInstance(): boolean {
    return this.gpuInstance !== null;
  }
}

function errorKind(e: GPUError): string {
  const name = e.constructor?.name ?? '';
  if (/Validation/.test(name)) return 'validation';
  if (/OutOfMemory/.test(name)) return 'out-of-memory';
  if (/Internal/.test(name)) return 'internal';
  return 'device';
}

function wrapGpuError(e: unknown, what: string): unknown {
  if (e instanceof WebGpuEmError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new WebGpuEmError('gpu', `WebGPU failure in ${what}: ${message}`, { cause: e });
}

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

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
  let dawn: typeof import('webgpu');
  try {
    dawn = await import('webgpu');
  } catch (e) {
    throw new WebGpuEmError(
      'gpu',
      `the 'webgpu' package (Dawn for Node) could not be loaded: ${(e as Error).message}; run npm install`,
    );
  }
  const name = adapterName ?? process.env.WEBGPU_EM_ADAPTER;
  const flags = name ? [`adapter=${name}`] : [];
  try {
    return dawn.create(flags);
  } catch (e) {
    throw new WebGpuEmError('gpu', `no WebGPU adapter named '${name}': ${(e as Error).message}`);
  }
}

function describeAdapter(info: GPUAdapterInfo | undefined): string {
  if (!info) return 'unknown adapter';
  const parts = [info.description, info.vendor, info.architecture, info.device].filter(
    (s) => s && s.length > 0,
  );
  return [...new Set(parts)].join(' / ') || 'unknown adapter';
}

function describeDevice(device: GPUDevice): string {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return info ? describeAdapter(info) : device.label || 'caller-provided device';
}
