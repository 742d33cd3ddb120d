import { kernelShape } from './variants.js';
import { BufferUsage } from '../../gpu/constants.js';
import type { GpuContext } from '../../gpu/context.js';
import type { EStepOptions, EStepResult, SufficientStatistics } from '../backend.js';
import { ESTEP_KERNEL, estepKernel, kernelBindGroup, type EStepOutputs } from './kernels.js';
import { dispatchGrid, estepTile, statsPerComponent, type StatsKind } from './layout.js';
import { CHUNK_UNIFORM, packChunkUniforms, uniformSlot, uniformSlotStride } from './uniforms.js';
import type { ChunkEStep, MixtureWorkspace, StatsWorkspace } from './mixture-workspace.js';
import type { SampleChunk } from './sample-chunks.js';
import {
  groupTimestamps,
  rowSlices,
  rowsWithinBudget,
  submissionGroups,
  submissionWork,
  submitInGroups,
  type RowCost,
  type RowSlice,
  type WorkBudget,
} from './submissions.js';
import type { PassTiming } from './timing.js';

/** Multiply-adds of the E-step per row and component. */
function estepMadds(d: number, kind: StatsKind): number {
  return kind === 'diagonal' ? d : (d * (d + 1)) / 2 + d;
}

/**
 * Multiply-adds and memory traffic of the E-step and the statistics per row, for K components of
 * D features; the traffic is the two-kernel path's (the row read twice; the responsibilities
 * written, read twice and rewritten by the E-step, read by the sums; log-likelihoods; weights).
 */
export function mixtureWorkPerRow(k: number, d: number, kind: StatsKind): RowCost {
  return {
    madds: k * (estepMadds(d, kind) + statsPerComponent(d, kind)),
    bytes: 4 * (2 * d + 5 * k + 3),
  };
}

/** Rows per chunk that keep one chunk's E-step and statistics within `budget`. */
export function rowsPerSubmission(k: number, d: number, kind: StatsKind, budget: WorkBudget): number {
  return rowsWithinBudget(mixtureWorkPerRow(k, d, kind), budget);
}

/**
 * One EM iteration on the GPU: the E-step kernel (unless fused) and the statistics kernel per
 * chunk, the reduction, one read-back of the reduced sums. `packed` is the `comp` buffer. The
 * chunks go in submissions of bounded work (see `submitInGroups`), two at most queued at once;
 * `stop` is asked before each: when it throws, the pass ends after the submission in flight.
 */
export async function runStatistics(
  ctx: GpuContext,
  chunks: readonly SampleChunk[],
  w: MixtureWorkspace,
  s: StatsWorkspace,
  packed: Float32Array,
  timer: PassTiming | null,
  /** Work per row ({@link mixtureWorkPerRow}): sizes the submissions. */
  workPerRow: RowCost,
  stop: () => void = () => {},
): Promise<Float32Array> {
  const groups = submissionGroups(chunks, workPerRow, submissionWork(ctx.device));
  await submitInGroups(ctx, 'an EM iteration', groups, stop, (encoder, group, place) => {
    if (place.first) ctx.write(w.comp, packed);
    const pass = encoder.beginComputePass({
      label: 'E-step and statistics',
      timestampWrites: groupTimestamps(timer?.writes, place),
    });
    for (const i of group) {
      if (s.estep) encodeEStep(pass, s.estep, i);
      pass.setPipeline(s.statsPipeline);
      pass.setBindGroup(0, s.statsGroups[i]);
      pass.dispatchWorkgroups(s.statsBlocks[i], s.entryGroups);
    }
    if (place.last) {
      pass.setPipeline(s.reducePipeline);
      pass.setBindGroup(0, s.reduceGroup);
      pass.dispatchWorkgroups(...s.reduceGrid);
    }
    pass.end();
    if (place.last) {
      encoder.copyBufferToBuffer(s.out, 0, s.staging, 0, s.stride * 4);
      timer?.resolve(encoder);
    }
  });
  return ctx.guard('reading the statistics', () => ctx.readFloats(s.staging, s.stride));
}

/** Splits the reduced vector into N_k, first and second moments (entry order of sufficient_stats.wgsl). */
export function unpackStatistics(
  out: Float32Array,
  k: number,
  d: number,
  weightSum: number,
  kind: StatsKind,
): SufficientStatistics {
  const diagonal = kind === 'diagonal';
  const entries = statsPerComponent(d, kind);
  const second = diagonal ? d : (d * (d + 1)) / 2;
  const nk = new Float64Array(k);
  const first = new Float64Array(k * d);
  const secondMoment = new Float64Array(k * second);
  for (let c = 0; c < k; c++) {
    const base = c * entries;
    for (let e = 0; e < second; e++) secondMoment[c * second + e] = out[base + e];
    for (let i = 0; i < d; i++) first[c * d + i] = out[base + second + i];
    nk[c] = out[base + second + d];
  }
  return {
    nComponents: k,
    nFeatures: d,
    weightSum,
    logLikelihoodSum: out[k * entries],
    respLogRespSum: out[k * entries + 1],
    nk,
    firstMoment: first,
    secondMomentLayout: diagonal ? 'diagonal' : 'packed',
    secondMoment,
  };
}

/** Records the two-kernel pass's E-step of chunk `i`: its responsibilities and log-likelihoods for the sums kernel. */
export function encodeEStep(pass: GPUComputePassEncoder, e: ChunkEStep, i: number): void {
  pass.setPipeline(e.pipeline);
  pass.setBindGroup(0, e.groups[i]);
  pass.dispatchWorkgroups(...e.grids[i]);
}

/** Where one slice of a per-row E-step writes: a binding for each output it asks for. */
type OutputBindings = { readonly [O in keyof EStepOutputs]?: GPUBufferBinding };

/**
 * An E-step pass over every row (gmm_estep.wgsl writing `out`), in slices (rowSlices) of at most
 * the rows whose work and traffic fit one submission and, with responsibilities, one binding:
 * one dispatch each, with its own Chunk uniform, its samples bound from the slice's first row.
 */
class EStepRows {
  private constructor(
    private readonly ctx: GpuContext,
    private readonly chunks: readonly SampleChunk[],
    private readonly w: MixtureWorkspace,
    private readonly pipeline: GPUComputePipeline,
    readonly slices: readonly RowSlice[],
    private readonly grids: ReadonlyArray<[number, number]>,
    readonly cost: RowCost,
    private readonly uniforms: GPUBuffer,
    private readonly uniformStride: number,
    /** Distinct 4-byte ranges for the outputs not written (two writable bindings may not share one). */
    private readonly unused: GPUBuffer,
  ) {}

  static async create(
    ctx: GpuContext,
    chunks: readonly SampleChunk[],
    w: MixtureWorkspace,
    out: EStepOutputs,
    budget: WorkBudget,
  ): Promise<EStepRows> {
    const { k, d, kind } = w;
    const { pipeline, workgroup } = await estepKernel(ctx, d, k, kind, out);
    // Without responsibilities and without a tile the log-densities are computed three times.
    const recomputed =
      !out.resp &&
      estepTile(k, ctx.limits.maxComputeWorkgroupStorageSize, kernelShape(ctx.device)).tile === 1;
    const cost = estepRowCost(k, d, kind, out, recomputed);
    let maxRows = rowsWithinBudget(cost, budget);
    if (out.resp) maxRows = Math.min(maxRows, Math.floor(ctx.limits.maxStorageBufferBindingSize / (k * 4)));
    const slices = rowSlices(chunks, maxRows);
    const maxPerDim = ctx.limits.maxComputeWorkgroupsPerDimension;
    const grids = slices.map((s) => dispatchGrid(Math.ceil(s.rows / workgroup), maxPerDim));
    const uniformStride = uniformSlotStride(ctx.limits);
    return ctx.createGuarded('creating an E-step pass', (make) => {
      const uniforms = make(
        'E-step slice uniforms',
        uniformStride * slices.length,
        BufferUsage.UNIFORM | BufferUsage.COPY_DST,
      );
      const unused = make('E-step outputs not asked for', 3 * 256, BufferUsage.STORAGE);
      const rows = slices.map((s) => ({ firstRow: chunks[s.chunk].firstRow + s.first, rows: s.rows }));
      ctx.write(
        uniforms,
        packChunkUniforms(
          rows,
          uniformStride,
          grids.map(([width]) => width),
          null,
        ),
      );
      return new EStepRows(ctx, chunks, w, pipeline, slices, grids, cost, uniforms, uniformStride, unused);
    });
  }

  /** Rows of the longest slice: the size of per-slice outputs. */
  get maxRows(): number {
    return Math.max(...this.slices.map((s) => s.rows));
  }

  /** Records slice `i`'s dispatch, writing into `outputs` (each from the slice's first row). */
  encode(pass: GPUComputePassEncoder, i: number, outputs: OutputBindings): void {
    const { ctx, w } = this;
    const s = this.slices[i];
    const c = this.chunks[s.chunk];
    const bytesPerRow = w.d * 4;
    const none = (slot: number): GPUBufferBinding => ({ buffer: this.unused, offset: slot * 256, size: 4 });
    const group = kernelBindGroup(ctx, ESTEP_KERNEL, this.pipeline, `E-step, slice ${i}`, {
      chunk: uniformSlot(this.uniforms, this.uniformStride, i, CHUNK_UNIFORM),
      x: { buffer: c.data, offset: s.first * bytesPerRow, size: s.rows * bytesPerRow },
      comp: w.comp,
      resp: outputs.resp ?? none(0),
      loglik: outputs.loglik ?? none(1),
      labels: outputs.labels ?? none(2),
    });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(...this.grids[i]);
  }

  dispose(): void {
    this.ctx.destroyBuffers([this.uniforms, this.unused]);
  }
}

/** Multiply-adds and memory traffic per row of an E-step pass writing `out`. */
export function estepRowCost(
  k: number,
  d: number,
  kind: StatsKind,
  out: EStepOutputs,
  recomputed = false,
): RowCost {
  const outputs = (out.resp ? 4 * k : 0) + (out.loglik ? 1 : 0) + (out.labels ? 1 : 0);
  return { madds: k * estepMadds(d, kind) * (recomputed ? 3 : 1), bytes: 4 * (d + outputs) };
}

/** A label word of gmm_estep.wgsl: bit 31 marks a row whose log-likelihood is not finite. */
const NOT_FINITE = 0x80000000;

/**
 * The E-step alone over N rows, as `options` ask: per-row log-likelihoods (unless
 * `logLikelihood: false`), the N x K responsibilities, each row's most probable component
 * (argmaxed on the GPU: 4 bytes a row; -1 for a row whose log-likelihood is not finite when the
 * log-likelihoods are left out). Run and read back in slices within the submission budget (and
 * one binding); `stop` is asked before each.
 */
export async function runEStep(
  ctx: GpuContext,
  chunks: readonly SampleChunk[],
  n: number,
  w: MixtureWorkspace,
  packed: Float32Array,
  options: EStepOptions,
  stop: () => void = () => {},
  budget: WorkBudget = submissionWork(ctx.device),
): Promise<EStepResult> {
  const k = w.k;
  const out: EStepOutputs = {
    resp: options.responsibilities,
    labels: options.labels === true,
    loglik: options.logLikelihood !== false || !(options.responsibilities || options.labels),
  };
  const responsibilities = out.resp ? new Float64Array(n * k) : null;
  const logLikelihood = out.loglik ? new Float64Array(n) : null;
  const labels = out.labels ? new Int32Array(n) : null;
  const rowsPass = await EStepRows.create(ctx, chunks, w, out, budget);
  const made: GPUBuffer[] = [];
  try {
    const rows = rowsPass.maxRows;
    const storage = BufferUsage.STORAGE | BufferUsage.COPY_SRC;
    const output = (what: string, floats: number) => {
      const b = ctx.createBuffer(what, rows * floats * 4, storage);
      made.push(b);
      return b;
    };
    const resp = out.resp ? output('responsibilities', k) : null;
    const loglik = out.loglik ? output('log-likelihoods', 1) : null;
    const labelWords = out.labels ? output('labels', 1) : null;
    // One read-back per slice: its responsibilities, then log-likelihoods, then labels.
    const parts = [
      resp && { buffer: resp, floats: k },
      loglik && { buffer: loglik, floats: 1 },
      labelWords && { buffer: labelWords, floats: 1 },
    ].filter((p) => p !== null);
    const width = parts.reduce((a, p) => a + p.floats, 0);
    const staging = ctx.createBuffer(
      'per-row read-back',
      rows * width * 4,
      BufferUsage.MAP_READ | BufferUsage.COPY_DST,
    );
    made.push(staging);
    ctx.write(w.comp, packed);
    for (const [i, s] of rowsPass.slices.entries()) {
      stop();
      await ctx.guard('a per-sample pass', () => {
        const encoder = ctx.device.createCommandEncoder({ label: `per-sample pass, slice ${i}` });
        const pass = encoder.beginComputePass({ label: `per-sample pass, slice ${i}` });
        const at = (buffer: GPUBuffer | null, floats: number) =>
          buffer ? { buffer, offset: 0, size: s.rows * floats * 4 } : undefined;
        rowsPass.encode(pass, i, { resp: at(resp, k), loglik: at(loglik, 1), labels: at(labelWords, 1) });
        pass.end();
        let offset = 0;
        for (const p of parts) {
          encoder.copyBufferToBuffer(p.buffer, 0, staging, offset, s.rows * p.floats * 4);
          offset += s.rows * p.floats * 4;
        }
        ctx.device.queue.submit([encoder.finish()]);
      });
      const values = await ctx.guard('reading per-sample results', () =>
        ctx.readFloats(staging, s.rows * width),
      );
      const first = chunks[s.chunk].firstRow + s.first;
      let at = 0;
      if (responsibilities) {
        responsibilities.set(values.subarray(0, s.rows * k), first * k);
        at += s.rows * k;
      }
      if (logLikelihood) {
        logLikelihood.set(values.subarray(at, at + s.rows), first);
        at += s.rows;
      }
      if (labels) {
        const words = new Uint32Array(values.buffer, values.byteOffset + at * 4, s.rows);
        for (let r = 0; r < s.rows; r++) {
          const word = words[r];
          labels[first + r] = word & NOT_FINITE ? -1 : word;
        }
      }
    }
  } finally {
    ctx.destroyBuffers(made);
    rowsPass.dispose();
  }
  return { logLikelihood, responsibilities, labels };
}

/**
 * Each row's most probable component under `packed` (the labels {@link runEStep} reads back),
 * written on the GPU into `targets[c]`, one u32 per row of chunk c: nothing is read back. The
 * slices go in submissions within the budget; `stop` is asked before each.
 */
export async function writeLabels(
  ctx: GpuContext,
  chunks: readonly SampleChunk[],
  w: MixtureWorkspace,
  packed: Float32Array,
  targets: readonly GPUBuffer[],
  stop: () => void = () => {},
  budget: WorkBudget = submissionWork(ctx.device),
): Promise<void> {
  const rowsPass = await EStepRows.create(
    ctx,
    chunks,
    w,
    { resp: false, loglik: false, labels: true },
    budget,
  );
  try {
    const groups = submissionGroups(rowsPass.slices, rowsPass.cost, budget);
    await submitInGroups(ctx, 'labelling the rows', groups, stop, (encoder, group, place) => {
      if (place.first) ctx.write(w.comp, packed);
      const pass = encoder.beginComputePass({ label: 'labels' });
      for (const i of group) {
        const s = rowsPass.slices[i];
        rowsPass.encode(pass, i, {
          labels: { buffer: targets[s.chunk], offset: s.first * 4, size: s.rows * 4 },
        });
      }
      pass.end();
    });
  } finally {
    rowsPass.dispose();
  }
}
