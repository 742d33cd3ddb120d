import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import { DEFAULT_MAX_GPU_BYTES } from '../backends/select.js';
import type { Matrix } from '../data/matrix.js';
import type { RowChunk, RowSource } from '../data/row-source.js';
import { WebGpuEmError } from '../errors.js';
import { parseBytes, readDataFile, type OutputPlan, type ReadOptions } from '../io/files.js';
import { npyHeaderBytes } from '../io/npy.js';
import type { OutputContents } from '../io/outputs.js';
import { DEFAULT_BLOCK_BYTES, openDataSource } from '../io/row-files.js';
import type { ParsedOptions } from './args.js';

// A command's data in memory or streamed: a file larger than the device-memory budget (or any
// file with --stream) is read a block at a time on every pass, and its per-row outputs are
// written as they are computed.

/** What a command reads: the rows in memory, or a row source over the file. */
export interface CommandData {
  readonly data: Matrix | RowSource;
  readonly streamed: boolean;
  /** Rows (of a stream: known once a pass has read them all) and features. */
  readonly shape: { readonly rows: number; readonly cols: number };
  readonly columnNames: string[] | null;
  readonly dropped?: string[];
  /** Removes what reading left behind (the copy of a pipe). */
  release(): Promise<void>;
}

/** `--max-gpu-memory`, checked: the model's `maxGpuBytes`, or undefined for the default. */
export function gpuMemory(o: ParsedOptions): number | undefined {
  if (o.maxGpuMemory === undefined) return undefined;
  const bytes = parseBytes(o.maxGpuMemory as string);
  if (bytes === null || bytes < 1 << 16) {
    throw new WebGpuEmError(
      'usage',
      `--max-gpu-memory needs a size of at least 64K such as 64M, 256M or 2G; got '${o.maxGpuMemory}'`,
    );
  }
  return bytes;
}

/**
 * Reads the data in memory, or opens it as a row source: with --stream, or when it is a regular
 * file larger than the device-memory budget (--max-gpu-memory, default 256 MiB). Commands that
 * cannot stream pass `streamable` false.
 */
export async function commandData(
  file: string,
  read: ReadOptions,
  o: ParsedOptions,
  streamable: boolean,
): Promise<CommandData> {
  const budget = gpuMemory(o) ?? DEFAULT_MAX_GPU_BYTES;
  if (o.stream && !streamable) {
    throw new WebGpuEmError('usage', '--stream: this command reads its data in memory; leave out --stream');
  }
  const size =
    file === '-'
      ? 0
      : await fs.stat(file).then(
          (s) => (s.isFile() ? s.size : 0),
          () => 0,
        );
  if (!o.stream && !(streamable && size > budget)) {
    const r = await readDataFile(file, read);
    return {
      data: r.matrix,
      streamed: false,
      shape: r.matrix,
      columnNames: r.columnNames,
      dropped: r.dropped,
      release: async () => {},
    };
  }
  // A block is at most a quarter of the budget: a chunk being computed and the next one read.
  const opened = await openDataSource(file, {
    ...read,
    blockBytes: Math.min(DEFAULT_BLOCK_BYTES, Math.floor(budget / 4)),
  });
  // Rows are counted by every complete pass (a text file's only after the first).
  const shape = { rows: opened.rows ?? 0, cols: opened.cols };
  const source: RowSource = async function* () {
    let rows = 0;
    for await (const chunk of opened.source() as AsyncIterable<RowChunk>) {
      rows += chunk.rows;
      yield chunk;
    }
    shape.rows = rows;
  };
  return {
    data: source,
    streamed: true,
    shape,
    columnNames: opened.columnNames,
    dropped: opened.dropped,
    release: () => opened.release(),
  };
}

/** A row source with one weight per row, from weights read whole (--weights). */
export function withWeights(
  source: RowSource,
  weights: Float64Array,
  file: string,
  dataFile: string,
): RowSource {
  return async function* () {
    let at = 0;
    for await (const chunk of source() as AsyncIterable<RowChunk>) {
      if (at + chunk.rows > weights.length) {
        throw new WebGpuEmError(
          'data',
          `${file} has ${weights.length} weights but ${dataFile} has more rows; give one weight per row`,
        );
      }
      yield { ...chunk, weights: weights.subarray(at, at + chunk.rows) };
      at += chunk.rows;
    }
    if (at !== weights.length) {
      throw new WebGpuEmError(
        'data',
        `${file} has ${weights.length} weights but ${dataFile} has ${at} rows; give one weight per row`,
      );
    }
  };
}

/**
 * An output of one value (or `cols` values) per row, computed chunk by chunk as it is written:
 * CSV, or .npy when the name ends in .npy (its header needs the row count, known by then).
 */
export function streamedOutput(
  plan: OutputPlan,
  rows: () => number,
  cols: number,
  names: readonly string[] | null,
  chunks: () => AsyncIterable<Float64Array | Int32Array>,
): OutputContents {
  const npy = plan.mode !== 'stdout' && path.extname(plan.file).toLowerCase() === '.npy';
  return async (out) => {
    let header = true;
    for await (const values of chunks()) {
      if (header && npy)
        await out.bytes(npyHeaderBytes(values instanceof Int32Array ? '<i4' : '<f8', rows(), cols));
      else if (header && names) await out.text(csvHeaderLine(names));
      header = false;
      // A bounded writer's pieces: the chunk's text is never one string.
      if (npy) await out.bytes(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      else await out.rows(values, cols);
    }
  };
}

/**
 * A CSV header line that reads back as the same names: a name holding a delimiter, a double quote
 * or white space is quoted (inner quotes doubled), as the CSV reader unquotes it.
 */
export function csvHeaderLine(names: readonly string[]): string {
  const cell = (n: string) => (/[,;"\s]/.test(n) ? `"${n.replaceAll('"', '""')}"` : n);
  return names.map(cell).join(',') + '\n';
}
