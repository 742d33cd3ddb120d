import { WebGpuEmError } from '../errors.js';
import { MapMode, ShaderStage } from './constants.js';
import { loadShader } from './shader-source.js';
import { isNode } from '../core/env.js';
import { describeDevice, openDevice } from './adapter.js';

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
  /**
   * A device of its own instead of the process's shared one (for tests that destroy devices);
   * `release()` then destroys it.
   */
  exclusive?: boolean;
}

/**
 * The devices webgpu-em created, one per (adapter, features), shared by every model in the
 * process: each device Dawn creates keeps native memory after it is destroyed, so models that
 * come and go reuse one. Freed by {@link releaseSharedDevices} or when the device is lost.
 */
const processDevices = new Map<string, Promise<GpuContext>>();

/**
 * Destroys the devices webgpu-em shares between models (after their buffers were freed by the
 * models' `dispose()`); the next model creates a new one. Models still using a device get an
 * error on their next call.
 */
export async function releaseSharedDevices(): Promise<void> {
  const pending = [...processDevices.values()];
  processDevices.clear();
  for (const p of pending) {
    try {
      (await p).destroyShared();
    } catch {
      // it was never created
    }
  }
}

/** Most compiled pipelines kept per device (each distinct K and D makes new ones). */
const PIPELINE_CACHE_LIMIT = 128;

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
  /**
   * Rejecters of the calls waiting on the GPU, told when the device is lost. A set rather than
   * Promise.race against one long-lived promise: race leaves a reaction on that promise per
   * call, which keeps every call's result reachable for the life of the device.
   */
  private readonly lostWaiters = new Set<(error: WebGpuEmError) => void>();
  private uncaptured: WebGpuEmError | null = null;
  /** Keeps Dawn's instance alive as long as the device (see release()). */
  private gpuInstance: GPU | null;
  private readonly ownsDevice: boolean;
  /** Key in processDevices when this is a shared device, else null. */
  private sharedKey: string | null = null;

  private constructor(device: GPUDevice, description: string, instance: GPU | null, ownsDevice: boolean) {
    this.device = device;
    this.adapterDescription = description;
    this.limits = device.limits;
    this.gpuInstance = instance;
    this.ownsDevice = ownsDevice;
    this.allocations = allocationsOf(device);
    void device.lost.then((info) => {
      const error = new WebGpuEmError(
        'gpu',
        `the WebGPU device was lost (${info.reason}): ${info.message || 'no message'}; create a new model to retry`,
      );
      this.lostError = error;
      this.forgetShared();
      for (const reject of this.lostWaiters) reject(error);
      this.lostWaiters.clear();
    });
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
    if (options.exclusive) return GpuContext.create(options);
    const key = `${options.adapter ?? (isNode ? (process.env.WEBGPU_EM_ADAPTER ?? '') : '')}|${options.timestamps ? 1 : 0}`;
    let shared = processDevices.get(key);
    if (!shared) {
      const created = GpuContext.create(options).then((context) => {
        context.sharedKey = key;
        return context;
      });
      shared = created;
      processDevices.set(key, created);
      created.catch(() => {
        if (processDevices.get(key) === created) processDevices.delete(key);
      });
    }
    return shared;
  }

  private static async create(options: AcquireOptions): Promise<GpuContext> {
    const { device, gpu, description } = await openDevice(options);
    const context = new GpuContext(device, description, gpu, true);
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

  /**
   * Runs `create` inside guard(). Every buffer it makes with `make` is listed in `made`, the list
   * its owner keeps to free them together (destroyBuffers); if anything fails they are freed here.
   */
  async createGuarded<T>(
    what: string,
    create: (make: (label: string, size: number, usage: number) => GPUBuffer, made: GPUBuffer[]) => T,
  ): Promise<T> {
    const made: GPUBuffer[] = [];
    const make = (label: string, size: number, usage: number) => {
      const buffer = this.createBuffer(label, size, usage);
      made.push(buffer);
      return buffer;
    };
    try {
      return await this.guard(what, () => create(make, made));
    } catch (error) {
      this.destroyBuffers(made);
      throw error;
    }
  }

  /** Destroys every buffer of the list and empties it (a second call frees nothing twice). */
  destroyBuffers(buffers: GPUBuffer[]): void {
    for (const b of buffers) this.destroyBuffer(b);
    buffers.length = 0;
  }

  /** Queues a write of `data` at the start of `buffer`. */
  write(buffer: GPUBuffer, data: Float32Array | Uint32Array): void {
    this.device.queue.writeBuffer(buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  }

  /**
   * A compute pipeline for `shaders/<shader>` with these override constants, built once and
   * cached. With `bindings` (the buffer type of binding N at index N) its group 0 layout is
   * made from them (see pipelineLayout); without, WebGPU infers it from the shader.
   */
  pipeline(
    shader: string,
    constants: Record<string, number>,
    bindings?: readonly GPUBufferBindingType[],
  ): Promise<GPUComputePipeline> {
    const key = `${shader}|${JSON.stringify(constants)}${bindings ? `|${bindings.join(',')}` : ''}`;
    let pipeline = this.pipelines.get(key);
    if (pipeline) {
      // Most recently used last, so that the oldest goes first when the cache is full.
      this.pipelines.delete(key);
      this.pipelines.set(key, pipeline);
    } else {
      if (this.pipelines.size >= PIPELINE_CACHE_LIMIT) {
        this.pipelines.delete(this.pipelines.keys().next().value!);
      }
      pipeline = this.buildPipeline(shader, constants, key, bindings);
      this.pipelines.set(key, pipeline);
      pipeline.catch(() => this.pipelines.delete(key));
    }
    return pipeline;
  }

  /**
   * A pipeline layout of one bind group whose binding N is a buffer of type `bindings[N]` seen
   * by compute shaders: the layout is then the host's declaration, which the shader must match
   * (a mismatch is a validation error when the pipeline is made), not whatever the shader uses.
   */
  pipelineLayout(label: string, bindings: readonly GPUBufferBindingType[]): GPUPipelineLayout {
    const group = this.device.createBindGroupLayout({
      label,
      entries: bindings.map((type, binding) => ({
        binding,
        visibility: ShaderStage.COMPUTE,
        buffer: { type },
      })),
    });
    return this.device.createPipelineLayout({ label, bindGroupLayouts: [group] });
  }

  private async buildPipeline(
    shader: string,
    constants: Record<string, number>,
    label: string,
    bindings?: readonly GPUBufferBindingType[],
  ) {
    const module = await this.shaderModule(shader, await loadShader(shader));
    return this.guard(label, () =>
      this.device.createComputePipelineAsync({
        label,
        layout: bindings ? this.pipelineLayout(label, bindings) : 'auto',
        compute: { module, entryPoint: 'main', constants },
      }),
    );
  }

  /**
   * The compiled WGSL `code` of kernel `name`; WGSL the implementation rejects is a
   * WebGpuEmError naming the kernel and the first error's line.
   */
  async shaderModule(name: string, code: string): Promise<GPUShaderModule> {
    let module: GPUShaderModule | undefined;
    try {
      return await this.guard(
        `WGSL kernel ${name}`,
        () => (module = this.device.createShaderModule({ label: name, code })),
      );
    } catch (error) {
      const info = await module?.getCompilationInfo().catch(() => undefined);
      const first = info?.messages.find((m) => m.type === 'error');
      if (!first) throw error;
      throw new WebGpuEmError(
        'gpu',
        `WGSL kernel ${name} does not compile on this WebGPU implementation (line ${first.lineNum}:${first.linePos}: ${first.message.split('\n')[0]}); update the browser or GPU driver, or use backend: 'cpu'`,
        { cause: error },
      );
    }
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
      result = await this.untilLost(Promise.resolve(work()));
    } catch (e) {
      failure = e;
    }
    const errors = await this.untilLost(Promise.all(scopes.map(() => this.device.popErrorScope())));
    const first = errors.find((e) => e !== null);
    if (first)
      throw new WebGpuEmError('gpu', `WebGPU ${errorKind(first)} error in ${what}: ${first.message}`);
    if (failure !== null) throw wrapGpuError(failure, what);
    this.throwIfBroken();
    return result!;
  }

  /**
   * Resolves when the work submitted so far is done; rejects if the device is lost. Outside
   * guard(): a pass keeps its next submission queued while it waits.
   */
  submittedWorkDone(): Promise<void> {
    return this.untilLost(this.device.queue.onSubmittedWorkDone());
  }

  /** Maps a MAP_READ buffer and copies out its first `length` floats. */
  async readFloats(buffer: GPUBuffer, length: number): Promise<Float32Array> {
    await this.untilLost(buffer.mapAsync(MapMode.READ, 0, length * 4));
    const copy = new Float32Array(buffer.getMappedRange(0, length * 4).slice(0));
    buffer.unmap();
    return copy;
  }

  /** `work`'s outcome, or a rejection as soon as the device is lost. */
  private untilLost<T>(work: Promise<T>): Promise<T> {
    if (this.lostError) {
      work.catch(() => {});
      return Promise.reject(this.lostError);
    }
    return new Promise<T>((resolve, reject) => {
      this.lostWaiters.add(reject);
      work.then(
        (value) => {
          this.lostWaiters.delete(reject);
          resolve(value);
        },
        (error: unknown) => {
          this.lostWaiters.delete(reject);
          reject(error);
        },
      );
    });
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
   * Lets go of the device: an exclusive one (`acquire({ exclusive: true })`) is destroyed with
   * Dawn's instance; the process's shared one stays for the next model (see
   * {@link releaseSharedDevices}); a caller's device outlives the models using it.
   */
  release(): void {
    if (!this.ownsDevice || this.sharedKey !== null) return;
    this.destroyShared();
  }

  /** Destroys the device and drops Dawn's instance (a shared device: once no model uses it). */
  destroyShared(): void {
    if (!this.ownsDevice) return;
    this.forgetShared();
    this.pipelines.clear();
    this.device.destroy();
    this.gpuInstance = null;
  }

  /** The next acquire() makes a new device instead of this one. */
  private forgetShared(): void {
    const key = this.sharedKey;
    if (key === null) return;
    this.sharedKey = null;
    void processDevices.get(key)?.then((c) => {
      if (c === this && processDevices.get(key)) processDevices.delete(key);
    });
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
