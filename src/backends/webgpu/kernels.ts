import type { GpuContext } from '../../gpu/context.js';
import { kernelShape } from './variants.js';
import {
  ESTEP_WORKGROUP,
  KMEANS_SUMS_WORKGROUP,
  KMEANS_TILE,
  KMEANS_WORKGROUP,
  REDUCE_WORKGROUP,
  SEEDING_WORKGROUP,
  ROW_LABELS_WORKGROUP,
  STATS_WORKGROUP,
  SEEDING_SELECT_WORKGROUP,
  estepTile,
  type StatsKind,
} from './layout.js';
import {
  CHUNK_UNIFORM,
  REDUCE_UNIFORM,
  SEEDING_STEP_UNIFORM,
  SEEDING_SELECT_UNIFORM,
  type UniformStruct,
} from './uniforms.js';

/** How a kernel declares a binding: `var<uniform>`, `var<storage, read>`, `var<storage, read_write>`. */
export type BindingType = 'uniform' | 'read-only-storage' | 'storage';

/**
 * A WGSL kernel described as data: its file in `shaders/`, its `override` constants in
 * declaration order, its `@group(0)` bindings in binding order (binding N is `bindings[N]`; a
 * uniform names the struct the host packs for it) and its workgroup size. Its pipelines' bind-group layout is made from it, the layout test holds it
 * against its shader, and call sites name buffers and constants instead of typing binding numbers.
 */
export interface Kernel {
  readonly file: string;
  readonly overrides: readonly string[];
  readonly bindings: readonly {
    readonly name: string;
    readonly type: BindingType;
    readonly struct?: UniformStruct;
  }[];
  /** Threads per workgroup: the shader's WORKGROUP, or 'override' when the host sets it per pipeline. */
  readonly workgroupSize: number | 'override';
}

const kernel = <const K extends Kernel>(k: K): K => k;

/**
 * The E-step, one thread per row: responsibilities, log-likelihoods and labels as its RESP,
 * LOGLIK and LABELS ask (mixture-passes.ts `estepKernel` sets every constant).
 */
export const ESTEP_KERNEL = kernel({
  file: 'gmm_estep.wgsl',
  overrides: [
    'D',
    'K',
    'DIAG',
    'RESP',
    'LOGLIK',
    'LABELS',
    'WORKGROUP',
    'LP_TILE',
    'PRIVATE_ROW',
    'BLOCKED_DIAG',
  ],
  bindings: [
    { name: 'chunk', type: 'uniform', struct: CHUNK_UNIFORM },
    { name: 'x', type: 'read-only-storage' },
    { name: 'comp', type: 'read-only-storage' },
    { name: 'resp', type: 'storage' },
    { name: 'loglik', type: 'storage' },
    { name: 'labels', type: 'storage' },
  ],
  workgroupSize: 'override',
});

export const STATS_KERNEL = kernel({
  file: 'sufficient_stats.wgsl',
  overrides: ['D', 'K', 'WORKGROUP', 'TILE', 'K_SPAN', 'DIAG'],
  bindings: [
    { name: 'chunk', type: 'uniform', struct: CHUNK_UNIFORM },
    { name: 'x', type: 'read-only-storage' },
    { name: 'comp', type: 'read-only-storage' },
    { name: 'resp', type: 'read-only-storage' },
    { name: 'loglik', type: 'read-only-storage' },
    { name: 'row_weights', type: 'read-only-storage' },
    { name: 'partials', type: 'storage' },
  ],
  workgroupSize: STATS_WORKGROUP,
});

/** The statistics of full and tied mixtures as 4 x 4 blocks of outer products, one lane per component. */
export const STATS_FULL_KERNEL = kernel({
  file: 'sufficient_stats_full.wgsl',
  overrides: ['D', 'K', 'WORKGROUP', 'TILE'],
  bindings: STATS_KERNEL.bindings,
  workgroupSize: 'override',
});

/** The fused E-step and statistics template; fused-kernel.ts generates its D-specific body. */
export const FUSED_KERNEL = kernel({
  file: 'gmm_fused.wgsl',
  overrides: ['K', 'WORKGROUP', 'TILE'],
  bindings: [
    { name: 'chunk', type: 'uniform', struct: CHUNK_UNIFORM },
    { name: 'x', type: 'read-only-storage' },
    { name: 'comp', type: 'read-only-storage' },
    { name: 'row_weights', type: 'read-only-storage' },
    { name: 'partials', type: 'storage' },
  ],
  workgroupSize: 'override',
});

export const REDUCE_KERNEL = kernel({
  file: 'reduce_partials.wgsl',
  overrides: [],
  bindings: [
    { name: 'params', type: 'uniform', struct: REDUCE_UNIFORM },
    { name: 'partials', type: 'read-only-storage' },
    { name: 'out', type: 'storage' },
  ],
  workgroupSize: REDUCE_WORKGROUP,
});

export const KMEANS_ASSIGN_KERNEL = kernel({
  file: 'kmeans_assign.wgsl',
  overrides: ['D', 'K', 'WRITE_DIST'],
  bindings: [
    { name: 'chunk', type: 'uniform', struct: CHUNK_UNIFORM },
    { name: 'x', type: 'read-only-storage' },
    { name: 'tiles', type: 'read-only-storage' },
    { name: 'centres', type: 'read-only-storage' },
    { name: 'labels', type: 'storage' },
    { name: 'dist', type: 'storage' },
  ],
  workgroupSize: KMEANS_WORKGROUP,
});

/**
 * kmeans_assign.wgsl with each centre tile loaded once per subgroup and broadcast (1.5x faster
 * on lavapipe, whose per-lane loads of one address are gathers); same bindings and constants.
 */
export const KMEANS_ASSIGN_SUBGROUPS_KERNEL = kernel({
  ...KMEANS_ASSIGN_KERNEL,
  file: 'kmeans_assign_subgroups.wgsl',
});

/**
 * The k-means assignment kernel for a device, chosen once, when the pipeline is created: the
 * subgroup one on a CPU emulation (kernel shape 'software', variants.ts: the adapter's
 * `isFallbackAdapter`, e.g. lavapipe, unless WEBGPU_EM_KERNELS says otherwise) with the
 * `subgroups` feature and subgroups of at least the 8 lanes a centre tile spreads over; else the
 * plain one. A GPU serves a load every lane makes at one address as one broadcast, so there the
 * eight shuffles per feature would replace two cheap loads: unmeasured, so not taken.
 */
export function kmeansAssignKernel(
  device: GPUDevice,
): typeof KMEANS_ASSIGN_KERNEL | typeof KMEANS_ASSIGN_SUBGROUPS_KERNEL {
  const wide = (device.adapterInfo?.subgroupMinSize ?? 0) >= KMEANS_TILE;
  return device.features.has('subgroups') && wide && kernelShape(device) === 'software'
    ? KMEANS_ASSIGN_SUBGROUPS_KERNEL
    : KMEANS_ASSIGN_KERNEL;
}

export const KMEANS_SUMS_KERNEL = kernel({
  file: 'kmeans_sums.wgsl',
  overrides: ['D', 'K', 'K_TILE'],
  bindings: [
    { name: 'chunk', type: 'uniform', struct: CHUNK_UNIFORM },
    { name: 'x', type: 'read-only-storage' },
    { name: 'centres', type: 'read-only-storage' },
    { name: 'labels', type: 'read-only-storage' },
    { name: 'row_weights', type: 'read-only-storage' },
    { name: 'partials', type: 'storage' },
  ],
  workgroupSize: KMEANS_SUMS_WORKGROUP,
});

export const KMEANS_DISTANCES_KERNEL = kernel({
  file: 'kmeans_distances.wgsl',
  overrides: ['D', 'K'],
  bindings: [
    { name: 'chunk', type: 'uniform', struct: CHUNK_UNIFORM },
    { name: 'x', type: 'read-only-storage' },
    { name: 'centres', type: 'read-only-storage' },
    { name: 'out', type: 'storage' },
  ],
  workgroupSize: KMEANS_WORKGROUP,
});

export const KMEANSPP_KERNEL = kernel({
  file: 'kmeanspp_distances.wgsl',
  overrides: ['D'],
  bindings: [
    { name: 'step', type: 'uniform', struct: SEEDING_STEP_UNIFORM },
    { name: 'x', type: 'read-only-storage' },
    { name: 'candidate_rows', type: 'read-only-storage' },
    { name: 'closest', type: 'read-only-storage' },
    { name: 'trial', type: 'storage' },
    { name: 'block_sums', type: 'storage' },
    { name: 'row_weights', type: 'read-only-storage' },
  ],
  workgroupSize: SEEDING_WORKGROUP,
});

/** The end of a k-means++ step: potentials, the candidate kept and its block sums, for one read-back. */
export const SEEDING_SELECT_KERNEL = kernel({
  file: 'seeding_select.wgsl',
  overrides: [],
  bindings: [
    { name: 'params', type: 'uniform', struct: SEEDING_SELECT_UNIFORM },
    { name: 'block_sums', type: 'read-only-storage' },
    { name: 'out', type: 'storage' },
  ],
  workgroupSize: SEEDING_SELECT_WORKGROUP,
});

/** Each row's label for a renderer from a k-means tag (a mixture's come from the E-step's LABELS). */
export const ROW_LABELS_KERNEL = kernel({
  file: 'row_labels.wgsl',
  overrides: [],
  bindings: [
    { name: 'source', type: 'read-only-storage' },
    { name: 'labels', type: 'storage' },
  ],
  workgroupSize: ROW_LABELS_WORKGROUP,
});

/** Every kernel in shaders/ that has entry points (chunk.wgsl only declares a struct). */
export const KERNELS: readonly Kernel[] = [
  ESTEP_KERNEL,
  STATS_KERNEL,
  STATS_FULL_KERNEL,
  FUSED_KERNEL,
  REDUCE_KERNEL,
  KMEANS_ASSIGN_KERNEL,
  KMEANS_ASSIGN_SUBGROUPS_KERNEL,
  KMEANS_SUMS_KERNEL,
  KMEANS_DISTANCES_KERNEL,
  KMEANSPP_KERNEL,
  SEEDING_SELECT_KERNEL,
  ROW_LABELS_KERNEL,
];

/** The override constants a kernel takes, by name. */
export type KernelConstants<K extends Kernel> = { readonly [N in K['overrides'][number]]?: number };

/** A buffer for each of a kernel's bindings, by name: the whole buffer, or a range of it. */
export type KernelBuffers<K extends Kernel> = {
  readonly [N in K['bindings'][number]['name']]: GPUBuffer | GPUBufferBinding;
};

/** The buffer type of each binding, binding N at index N: the kernel's bind-group layout. */
export const bindingTypes = (k: Kernel): GPUBufferBindingType[] => k.bindings.map((b) => b.type);

/** The kernel's pipeline with these constants and its bind-group layout, from the context's cache. */
export function kernelPipeline<K extends Kernel>(
  ctx: GpuContext,
  k: K,
  constants: KernelConstants<K>,
): Promise<GPUComputePipeline> {
  return ctx.pipeline(k.file, constants as Record<string, number>, bindingTypes(k));
}

/** What a pass of gmm_estep.wgsl writes: its RESP, LOGLIK and LABELS. */
export interface EStepOutputs {
  /** The N x K responsibilities (the log-densities wait in them). */
  readonly resp: boolean;
  readonly loglik: boolean;
  /** Each row's most probable component, bit 31 set where its log-likelihood is not finite. */
  readonly labels: boolean;
}

/**
 * The E-step pipeline writing `out` for K components of D features and its workgroup size:
 * without responsibilities the log-densities wait in workgroup memory ({@link estepTile}). Every
 * constant is set, so that the statistics pass and the per-row passes share a compiled pipeline.
 */
export async function estepKernel(
  ctx: GpuContext,
  d: number,
  k: number,
  kind: StatsKind,
  out: EStepOutputs,
): Promise<{ pipeline: GPUComputePipeline; workgroup: number }> {
  const { workgroup, tile } = out.resp
    ? { workgroup: ESTEP_WORKGROUP, tile: 1 }
    : estepTile(k, ctx.limits.maxComputeWorkgroupStorageSize, kernelShape(ctx.device));
  const pipeline = await kernelPipeline(ctx, ESTEP_KERNEL, {
    D: d,
    K: k,
    DIAG: kind === 'diagonal' ? 1 : 0,
    RESP: out.resp ? 1 : 0,
    LOGLIK: out.loglik ? 1 : 0,
    LABELS: out.labels ? 1 : 0,
    WORKGROUP: workgroup,
    LP_TILE: tile,
    // Full and tied rows in private arrays only on a CPU emulation: a GPU puts them in scratch.
    PRIVATE_ROW: kernelShape(ctx.device) === 'software' ? 1 : 0,
    // Diag and spherical components in blocks on a GPU, each row value loaded once per block.
    BLOCKED_DIAG: kind === 'diagonal' && kernelShape(ctx.device) === 'gpu' ? 1 : 0,
  });
  return { pipeline, workgroup };
}

/** A bind group for `pipeline` (built from kernel `k`) with each binding's buffer given by name. */
export function kernelBindGroup<K extends Kernel>(
  ctx: GpuContext,
  k: K,
  pipeline: GPUComputePipeline,
  label: string,
  buffers: KernelBuffers<K>,
): GPUBindGroup {
  const byName = buffers as Record<string, GPUBuffer | GPUBufferBinding>;
  return ctx.device.createBindGroup({
    label,
    layout: pipeline.getBindGroupLayout(0),
    entries: k.bindings.map(({ name }, binding) => {
      const b = byName[name];
      return { binding, resource: 'buffer' in b ? b : { buffer: b } };
    }),
  });
}
