import type { GpuContext } from '../../gpu/context.js';
import type { SampleChunk } from './sample-chunks.js';

/**
 * Most multiply-adds one submission of a pass may hold: a pass is split into submissions of at
 * most this much (or one chunk), so that an abort or a dispose() stops it after the submission in
 * flight instead of after minutes of work that can no longer be recalled. About a second on a
 * software adapter (2^28); on a GPU 2^36, tens of milliseconds on a discrete GPU and well under
 * the seconds after which an operating system resets a GPU that does not answer, yet enough rows
 * per dispatch to fill it.
 */
export const SUBMISSION_WORK = { software: 2 ** 28, gpu: 2 ** 36 } as const;
/** Fewest rows a chunk is cut to for the submission budget (so that huge K·D² makes no swarm of chunks). */
export const SUBMISSION_MIN_ROWS = 64;

/** The submission budget of a device: software adapters (`isFallbackAdapter`) get the small one. */
export function submissionWork(device: GPUDevice): number {
  return device.adapterInfo?.isFallbackAdapter === true ? SUBMISSION_WORK.software : SUBMISSION_WORK.gpu;
}

/** Rows per chunk that keep one chunk's work within `budget` multiply-adds (at least SUBMISSION_MIN_ROWS). */
export function rowsWithinBudget(workPerRow: number, budget: number): number {
  return Math.max(SUBMISSION_MIN_ROWS, Math.floor(budget / Math.max(1, workPerRow)));
}

/**
 * Rows per chunk for a pass: `withinBudget` (rows whose work fits one submission) unless that
 * would make more than `maxChunks` chunks of `rows` (each chunk starts a block of partial sums in
 * one binding); then as few chunks as allowed, each submission holding more work.
 */
export function chunkRowsWithin(rows: number, withinBudget: number, maxChunks: number): number {
  return Math.max(withinBudget, Math.ceil(rows / Math.max(1, maxChunks)));
}

/** Consecutive chunks grouped into submissions of at most `budget` multiply-adds (one chunk at least). */
export function submissionGroups(
  chunks: readonly SampleChunk[],
  workPerRow: number,
  budget: number,
): number[][] {
  const groups: number[][] = [];
  let work = Infinity;
  chunks.forEach((c, i) => {
    const w = c.rows * workPerRow;
    if (work + w > budget) {
      groups.push([]);
      work = 0;
    }
    groups[groups.length - 1].push(i);
    work += w;
  });
  return groups;
}

/** Where a group of chunks falls in its pass: the first writes the inputs, the last reduces and copies out. */
export interface GroupPlace {
  readonly first: boolean;
  readonly last: boolean;
}

/**
 * Submits a pass as `groups` of chunks, one submission each, encoded by `encode`. Two at most are
 * queued at once (the next is queued before the one before it ends, so the GPU stays fed); `stop`
 * is asked before each: when it throws, the pass ends once the submission in flight is done (the
 * buffers it uses may be freed after that) and the error is passed on.
 */
export async function submitInGroups(
  ctx: GpuContext,
  what: string,
  groups: readonly (readonly number[])[],
  stop: () => void,
  encode: (encoder: GPUCommandEncoder, group: readonly number[], place: GroupPlace) => void,
): Promise<void> {
  let inFlight: Promise<unknown> | null = null;
  for (const [g, group] of groups.entries()) {
    const place = { first: g === 0, last: g === groups.length - 1 };
    try {
      stop();
    } catch (error) {
      if (inFlight) await inFlight.catch(() => {});
      throw error;
    }
    await ctx.guard(what, () => {
      const encoder = ctx.device.createCommandEncoder({ label: what });
      encode(encoder, group, place);
      ctx.device.queue.submit([encoder.finish()]);
    });
    if (place.last) break;
    const done = ctx.submittedWorkDone();
    if (inFlight) await inFlight;
    inFlight = done;
  }
}

/** A group's share of a timed pass's timestamps: the first group writes the start, the last the end. */
export function groupTimestamps(
  writes: GPUComputePassTimestampWrites | undefined,
  { first, last }: GroupPlace,
): GPUComputePassTimestampWrites | undefined {
  if (!writes || (first && last)) return writes;
  if (!first && !last) return undefined;
  return first
    ? { querySet: writes.querySet, beginningOfPassWriteIndex: writes.beginningOfPassWriteIndex }
    : { querySet: writes.querySet, endOfPassWriteIndex: writes.endOfPassWriteIndex };
}
