import { kmeansStatsEntries, PARTIALS_BUDGET_BYTES } from './layout.js';
import type { RowCost } from './submissions.js';

// How much a k-means pass may take: rows per statistics block, blocks per binding, and the
// cost of a row against the submission budget (submissions.ts).

/**
 * Rows one statistics workgroup sums. Large blocks keep the per-block set-up (zeroing and
 * writing K x (D + 1) sums) and the reduction small; float32 sums of 1024 rows stay within
 * about 1e-6 relative in practice (the error grows with the square root of the count).
 */
export const KMEANS_ROWS_PER_BLOCK = 1024;

/** Blocks of `stride` partial sums that fit in one binding. */
export function kmeansPartialBlocks(limits: GPUSupportedLimits, stride: number): number {
  return Math.floor(Math.min(limits.maxStorageBufferBindingSize, PARTIALS_BUDGET_BYTES) / (stride * 4));
}

/**
 * The most chunks of samples a k-means pass for K clusters can take: each chunk starts a block
 * of partial sums, and half the blocks that fit are left for the rows' own blocks.
 */
export function maxKMeansChunks(limits: GPUSupportedLimits, k: number, d: number): number {
  return Math.max(1, Math.floor(kmeansPartialBlocks(limits, kmeansStatsEntries(k, d)) / 2));
}

/**
 * Multiply-adds and memory traffic of a Lloyd pass per row: the distances to K centres, then the
 * row's sums (the row read by both kernels; its label read, written, read; its distance; its weight).
 */
export function kmeansWorkPerRow(k: number, d: number): RowCost {
  return { madds: k * d + d, bytes: 4 * (2 * d + 5) };
}
