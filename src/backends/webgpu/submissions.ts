import type { GpuContext } from '../../gpu/context.js';

/**
 * What one submission of a pass may hold: multiply-adds and bytes of memory traffic. A pass is
 * split into submissions (and its rows into dispatches) of at most this much, so that an abort
 * or a dispose() stops it after the submission in flight instead of after minutes of work that
 * can no longer be recalled, and so that no dispatch runs long enough for an operating system to
 * reset the GPU (Windows does after 2 s; a small integrated GPU does about 1 TFLOP/s and 50 GB/s,
 * so at most 50 GFLOP and 2 GB a dispatch). The same two numbers measure a row of a pass
 * ({@link RowCost}).
 */
export interface WorkBudget {
  /** Multiply-adds (2 FLOP each). */
  readonly madds: number;
  /** Bytes read or written in device memory. */
  readonly bytes: number;
}

/** What one row costs a pass, in the units of a {@link WorkBudget}. */
export type RowCost = WorkBudget;

/**
 * The budgets: about a second on a software adapter (2^28 multiply-adds); on a GPU 2^34
 * (34 GFLOP, tens of milliseconds on a discrete GPU) and 2 GiB of traffic, under the 50 GFLOP and
 * 2 GB that a small GPU runs in well under 2 s, yet enough rows per dispatch to fill a large one.
 */
export const SUBMISSION_WORK = {
  software: { madds: 2 ** 28, bytes: 2 ** 31 },
  gpu: { madds: 2 ** 34, bytes: 2 ** 31 },
} as const satisfies Record<string, WorkBudget>;
/** Fewest rows a chunk is cut to for the submission budget (so that huge K·D² makes no swarm of chunks). */
export const SUBMISSION_MIN_ROWS = 64;

/** The submission budget of a device: software adapters (`isFallbackAdapter`) get the small one. */
export function submissionWork(device: GPUDevice): WorkBudget {
  return device.adapterInfo?.isFallbackAdapter === true ? SUBMISSION_WORK.software : SUBMISSION_WORK.gpu;
}

/** Rows whose cost stays within `budget` in both of its measures (at least SUBMISSION_MIN_ROWS). */
export function rowsWithinBudget(perRow: RowCost, budget: WorkBudget): number {
  const rows = Math.min(budget.madds / Math.max(1, perRow.madds), budget.bytes / Math.max(1, perRow.bytes));
  return Math.max(SUBMISSION_MIN_ROWS, Math.floor(rows));
}

/**
 * Rows per chunk for a pass: `withinBudget` (rows whose work fits one submission) unless that
 * would make more than `maxChunks` chunks of `rows` (each chunk starts a block of partial sums in
 * one binding); then as few chunks as allowed, each submission holding more work.
 */
export function chunkRowsWithin(rows: number, withinBudget: number, maxChunks: number): number {
  return Math.max(withinBudget, Math.ceil(rows / Math.max(1, maxChunks)));
}

/**
 * Consecutive units of rows (chunks, or the slices of a per-row pass) grouped into submissions
 * whose cost stays within `budget` (one unit at least).
 */
export function submissionGroups(
  units: readonly { readonly rows: number }[],
  perRow: RowCost,
  budget: WorkBudget,
): number[][] {
  const groups: number[][] = [];
  let madds = Infinity;
  let bytes = Infinity;
  units.forEach((c, i) => {
    const m = c.rows * perRow.madds;
    const b = c.rows * perRow.bytes;
    if (madds + m > budget.madds || bytes + b > budget.bytes) {
      groups.push([]);
      madds = 0;
      bytes = 0;
    }
    groups[groups.length - 1].push(i);
    madds += m;
    bytes += b;
  });
  return groups;
}

/**
 * Rows a slice of a per-row pass starts at a multiple of: a chunk's samples are bound from
 * `first` x D x 4 bytes (and per-row outputs from `first` x 4), and a storage binding's offset
 * must be a multiple of minStorageBufferOffsetAlignment, at most 256 bytes.
 */
export const SLICE_ROW_ALIGN = 64;

/** Rows [first, first + rows) of chunk `chunk` (rows of that chunk's buffer): one dispatch. */
export interface RowSlice {
  readonly chunk: number;
  readonly first: number;
  readonly rows: number;
}

/**
 * Every chunk cut into slices of at most `maxRows` rows (rounded down to a multiple of `align`,
 * itself a multiple of SLICE_ROW_ALIGN; at least `align`), in order: the dispatches of a per-row
 * pass, each within the budget its `maxRows` came from.
 */
export function rowSlices(
  chunks: readonly { readonly rows: number }[],
  maxRows: number,
  align = SLICE_ROW_ALIGN,
): RowSlice[] {
  const step = Math.max(align, Math.floor(maxRows / align) * align);
  const slices: RowSlice[] = [];
  chunks.forEach((c, chunk) => {
    for (let first = 0; first < c.rows; first += step) {
      slices.push({ chunk, first, rows: Math.min(step, c.rows - first) });
    }
  });
  return slices;
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
