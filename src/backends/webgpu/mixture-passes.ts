import { BufferUsage } from '../../gpu/constants.js';
import type { GpuContext } from '../../gpu/context.js';
import type { EStepOptions, EStepResult, SufficientStatistics } from '../backend.js';
import { packChunkUniforms, statsPerComponent, type StatsKind } from './layout.js';
import type { MixtureWorkspace, StatsWorkspace } from './mixture-workspace.js';
import { largestChunk, type SampleChunk } from './sample-chunks.js';
import {
  groupTimestamps,
  rowsWithinBudget,
  submissionGroups,
  submissionWork,
  submitInGroups,
} from './submissions.js';
import type { PassTiming } from './timing.js';

/** Multiply-adds of the E-step and the statistics per row, for K components of D features. */
export function mixtureWorkPerRow(k: number, d: number, kind: StatsKind): number {
  const estep = kind === 'diagonal' ? d : (d * (d + 1)) / 2 + d;
  return k * (estep + statsPerComponent(d, kind));
}

/** Rows per chunk that keep one chunk's E-step and statistics within `budget` multiply-adds. */
export function rowsPerSubmission(k: number, d: number, kind: StatsKind, budget: number): number {
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
  /** Multiply-adds per row ({@link mixtureWorkPerRow}): sizes the submissions. */
  workPerRow: number,
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
      if (!s.fused) encodeEStep(pass, w, i);
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

/**
 * The E-step alone (gmm_estep.wgsl) over N rows: per-row log-likelihoods and, as asked, the
 * N x K responsibilities and the most probable component of each row.
 */
export async function runEStep(
  ctx: GpuContext,
  chunks: readonly SampleChunk[],
  n: number,
  w: MixtureWorkspace,
  packed: Float32Array,
  options: EStepOptions,
): Promise<EStepResult> {
  const k = w.k;
  const logLikelihood = new Float64Array(n);
  const responsibilities = options.responsibilities ? new Float64Array(n * k) : null;
  const labels = options.labels ? new Int32Array(n) : null;
  const width = responsibilities || labels ? k : 0;
  writeEStepInputs(ctx, chunks, w, packed);
  await runPerRow(ctx, chunks, w, width, (first, perRow, scalar) => {
    logLikelihood.set(scalar, first);
    if (!perRow) return;
    responsibilities?.set(perRow, first * k);
    if (labels) for (let r = 0; r < scalar.length; r++) labels[first + r] = argMax(perRow, r * k, k);
  });
  return { logLikelihood, responsibilities, labels };
}

/**
 * Writes what the E-step kernel reads: the `comp` buffer and, unless the statistics workspace
 * wrote the same rows and grid widths with its blocks, each chunk's Chunk uniform.
 */
export function writeEStepInputs(
  ctx: GpuContext,
  chunks: readonly SampleChunk[],
  w: MixtureWorkspace,
  packed: Float32Array,
): void {
  if (!w.stats) {
    const gridWidths = w.estepGrid.map(([g]) => g);
    ctx.write(w.uniforms, packChunkUniforms(chunks, w.uniformStride, gridWidths, null));
  }
  ctx.write(w.comp, packed);
}

/** Records the E-step of chunk `i` into `pass`: its responsibilities and log-likelihoods land in `w.resp`, `w.loglik`. */
export function encodeEStep(pass: GPUComputePassEncoder, w: MixtureWorkspace, i: number): void {
  pass.setPipeline(w.estep);
  pass.setBindGroup(0, w.estepGroups[i]);
  pass.dispatchWorkgroups(...w.estepGrid[i]);
}

/**
 * Runs the E-step kernel chunk by chunk, handing `consume` each chunk's scalar output (loglik
 * binding) and, when `width` > 0, its `width` values per row (resp binding). Reading back per
 * chunk keeps every read-back within one binding's size.
 */
async function runPerRow(
  ctx: GpuContext,
  chunks: readonly SampleChunk[],
  w: MixtureWorkspace,
  width: number,
  consume: (firstRow: number, perRow: Float32Array | null, scalar: Float32Array) => void,
): Promise<void> {
  const read = BufferUsage.MAP_READ | BufferUsage.COPY_DST;
  const maxRows = largestChunk(chunks);
  const perRowOut = width > 0 ? ctx.createBuffer('per-row read-back', maxRows * width * 4, read) : null;
  const scalarOut = ctx.createBuffer('per-row scalar read-back', maxRows * 4, read);
  try {
    for (const [i, c] of chunks.entries()) {
      await ctx.guard('a per-sample pass', () => {
        const encoder = ctx.device.createCommandEncoder({ label: `per-sample pass, chunk ${i}` });
        const pass = encoder.beginComputePass({ label: `per-sample pass, chunk ${i}` });
        encodeEStep(pass, w, i);
        pass.end();
        if (perRowOut) encoder.copyBufferToBuffer(w.resp, 0, perRowOut, 0, c.rows * width * 4);
        encoder.copyBufferToBuffer(w.loglik, 0, scalarOut, 0, c.rows * 4);
        ctx.device.queue.submit([encoder.finish()]);
      });
      const scalar = await ctx.guard('reading per-sample results', () => ctx.readFloats(scalarOut, c.rows));
      const perRow = perRowOut
        ? await ctx.guard('reading per-sample results', () => ctx.readFloats(perRowOut, c.rows * width))
        : null;
      consume(c.firstRow, perRow, scalar);
    }
  } finally {
    ctx.destroyBuffer(perRowOut);
    ctx.destroyBuffer(scalarOut);
  }
}

/** Index of the largest of values[offset .. offset + k); ties: the lowest. */
function argMax(values: ArrayLike<number>, offset: number, k: number): number {
  let best = 0;
  for (let c = 1; c < k; c++) if (values[offset + c] > values[offset + best]) best = c;
  return best;
}
