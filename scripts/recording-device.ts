/**
 * A GPUDevice that runs nothing and records every compute pipeline made on it: the WGSL given to
 * createShaderModule and the entry point and override constants given to
 * createComputePipeline(Async). The library's own planning code (chunking, kernel and variant
 * choice, layouts, workgroup sizes) runs on it unchanged, so what it records is what the library
 * would submit to a device with these limits, features and adapter info. Buffers hold nothing;
 * a read-back maps to 1.0f in every float, enough for the passes to run to their end.
 */

/** WebGPU's default limits (https://www.w3.org/TR/webgpu/#limit-default): what any device gets unless it asks for more. */
export const WEBGPU_DEFAULT_LIMITS = {
  maxTextureDimension1D: 8192,
  maxTextureDimension2D: 8192,
  maxTextureDimension3D: 2048,
  maxTextureArrayLayers: 256,
  maxBindGroups: 4,
  maxBindGroupsPlusVertexBuffers: 24,
  maxBindingsPerBindGroup: 1000,
  maxDynamicUniformBuffersPerPipelineLayout: 8,
  maxDynamicStorageBuffersPerPipelineLayout: 4,
  maxSampledTexturesPerShaderStage: 16,
  maxSamplersPerShaderStage: 16,
  maxStorageBuffersPerShaderStage: 8,
  maxStorageTexturesPerShaderStage: 4,
  maxUniformBuffersPerShaderStage: 12,
  maxUniformBufferBindingSize: 65536,
  maxStorageBufferBindingSize: 134217728,
  minUniformBufferOffsetAlignment: 256,
  minStorageBufferOffsetAlignment: 256,
  maxVertexBuffers: 8,
  maxBufferSize: 268435456,
  maxVertexAttributes: 16,
  maxVertexBufferArrayStride: 2048,
  maxInterStageShaderVariables: 16,
  maxColorAttachments: 8,
  maxColorAttachmentBytesPerSample: 32,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupSizeZ: 64,
  maxComputeWorkgroupsPerDimension: 65535,
} as const;

/** One compute pipeline as the library asked for it. */
export interface RecordedPipeline {
  /** The shader module's label (the library labels each with its file in shaders/). */
  readonly moduleLabel: string;
  /** The exact WGSL passed to createShaderModule. */
  readonly code: string;
  readonly entryPoint: string;
  readonly constants: Readonly<Record<string, number>>;
  /** The pipeline's label. */
  readonly label: string;
}

export interface RecordingDeviceOptions {
  readonly limits?: Partial<Record<keyof typeof WEBGPU_DEFAULT_LIMITS, number>>;
  readonly features?: readonly GPUFeatureName[];
  readonly adapterInfo?: Partial<GPUAdapterInfo>;
}

/** A do-nothing object of which every method returns undefined (command encoders' passes, query sets). */
const inert = (label = ''): object =>
  new Proxy(
    { label },
    {
      get: (target, key) =>
        key in target ? target[key as keyof typeof target] : key === 'then' ? undefined : () => undefined,
    },
  );

/** A device that records pipelines (see the file's comment), and the list they go to. */
export function recordingDevice(options: RecordingDeviceOptions = {}): {
  device: GPUDevice;
  pipelines: RecordedPipeline[];
} {
  const pipelines: RecordedPipeline[] = [];
  const modules = new WeakMap<object, { label: string; code: string }>();
  const limits = { ...WEBGPU_DEFAULT_LIMITS, ...options.limits };
  const adapterInfo = {
    vendor: '',
    architecture: '',
    device: '',
    description: 'recording device',
    subgroupMinSize: 4,
    subgroupMaxSize: 128,
    isFallbackAdapter: false,
    ...options.adapterInfo,
  };

  const buffer = (d: GPUBufferDescriptor) => {
    const b = {
      label: d.label ?? '',
      size: d.size,
      usage: d.usage,
      mapState: 'unmapped',
      mapAsync: () => Promise.resolve(),
      getMappedRange: (offset = 0, size?: number) => {
        const bytes = Math.ceil((size ?? d.size - offset) / 4) * 4;
        const range = new ArrayBuffer(bytes);
        new Float32Array(range).fill(1);
        return range;
      },
      unmap: () => {},
      destroy: () => {},
    };
    return b as unknown as GPUBuffer;
  };

  const record = (d: GPUComputePipelineDescriptor) => {
    const m = modules.get(d.compute.module);
    if (!m) throw new Error('recording device: a pipeline of a module it did not make');
    const constants: Record<string, number> = {};
    for (const [k, v] of Object.entries(d.compute.constants ?? {})) constants[k] = Number(v);
    pipelines.push({
      moduleLabel: m.label,
      code: m.code,
      entryPoint: d.compute.entryPoint ?? 'main',
      constants,
      label: d.label ?? '',
    });
    return {
      label: d.label ?? '',
      getBindGroupLayout: () => inert('bind group layout'),
    } as unknown as GPUComputePipeline;
  };

  const device = {
    label: 'recording device',
    limits,
    features: new Set<string>(options.features ?? []),
    adapterInfo,
    lost: new Promise<never>(() => {}),
    queue: {
      label: 'queue',
      submit: () => {},
      writeBuffer: () => {},
      onSubmittedWorkDone: () => Promise.resolve(),
    },
    addEventListener: () => {},
    removeEventListener: () => {},
    pushErrorScope: () => {},
    popErrorScope: () => Promise.resolve(null),
    createBuffer: buffer,
    createShaderModule: (d: GPUShaderModuleDescriptor) => {
      const module = {
        label: d.label ?? '',
        getCompilationInfo: () => Promise.resolve({ messages: [] }),
      };
      modules.set(module, { label: d.label ?? '', code: d.code });
      return module;
    },
    createComputePipeline: record,
    createComputePipelineAsync: (d: GPUComputePipelineDescriptor) => Promise.resolve(record(d)),
    createBindGroupLayout: (d: GPUBindGroupLayoutDescriptor) => inert(d.label),
    createPipelineLayout: (d: GPUPipelineLayoutDescriptor) => inert(d.label),
    createBindGroup: (d: GPUBindGroupDescriptor) => inert(d.label),
    createCommandEncoder: (d?: GPUCommandEncoderDescriptor) => {
      const encoder = inert(d?.label) as Record<string, unknown>;
      return new Proxy(encoder, {
        get: (target, key) =>
          key === 'beginComputePass'
            ? () => inert('pass')
            : key === 'finish'
              ? () => inert('commands')
              : target[key as string],
      });
    },
    createQuerySet: (d: GPUQuerySetDescriptor) => inert(d.label),
    destroy: () => {},
  };
  return { device: device as unknown as GPUDevice, pipelines };
}
