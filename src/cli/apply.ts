import { AUTO_CPU_MAX_VALUES } from '../backends/select.js';
import type { BackendChoice } from '../core/names.js';
import type { Matrix } from '../data/matrix.js';
import { dataError, WebGpuEmError } from '../errors.js';
import { planOutput, readModelJson, writeOutputs, type OutputPlan, type ReadOptions } from '../io/files.js';
import { loadModel, type LoadedModel } from '../models/formats.js';
import type { ParsedArgs, ParsedOptions } from './args.js';
import { matrixOutput, readData, readOptions, stdoutSink, type Run } from './common.js';
import type { CommandData } from './stream-data.js';
import type { OutputContents } from '../io/outputs.js';
import type { RowChunk, RowSource } from '../data/row-source.js';

export { matrixOutput };

// What predict, score and sample share: a saved model, its data, and outputs by extension.

/** Parses `<model> [data]`, plans the outputs, loads the model (any registered format). */
export async function loadCommandModel(
  name: string,
  parsed: ParsedArgs,
  run: Run,
  positionals: 1 | 2,
  outputs: (o: ParsedOptions) => Array<[string, string | undefined]>,
) {
  const { options: o, positionals: args } = parsed;
  if (args.length !== positionals) {
    const what = positionals === 2 ? 'a model file and a data file' : 'a model file';
    throw new WebGpuEmError(
      'usage',
      `${name} needs ${what}, got ${args.length} arguments; see ${name} --help`,
    );
  }
  if (args.filter((a) => a === '-').length > 1)
    throw new WebGpuEmError('usage', `${name}: only one of the model and the data can be - (standard input)`);
  const read = positionals === 2 ? readOptions(o, run) : null;
  const plans = new Map<string, OutputPlan | null>();
  for (const [option, file] of outputs(o)) {
    plans.set(option, file === undefined ? null : await planOutput(file, option, args));
  }
  const [modelPath, dataPath] = args;
  const json = await readModelJson(modelPath, { signal: run.signal });
  const model = loadModel(json, {
    source: modelPath === '-' ? 'standard input' : modelPath,
    backend: o.backend as BackendChoice | undefined,
    adapter: o.adapter as string | undefined,
    seed: o.seed as number | undefined,
  });
  return { o, modelPath, dataPath, read, plans, model };
}

/**
 * Reads the data for a model: with no column choice of the user's, the model's own columns are
 * picked by name from a header that has them; the width must be the model's.
 */
export async function dataFor(
  model: Pick<LoadedModel, 'nFeatures' | 'featureNames'>,
  dataPath: string,
  read: ReadOptions | null,
  o: ParsedOptions,
  run: Run,
  modelPath: string,
  /** Whether the command can take the data as a row source (see commandData). */
  streamable = true,
): Promise<CommandData> {
  const chosen = o.columns !== undefined || o.numericOnly;
  const options = { ...read!, select: { ...read!.select, byHeader: chosen ? null : model.featureNames } };
  const input = await readData(dataPath, options, o, run, streamable);
  const { shape, columnNames } = input;
  const source = dataPath === '-' ? 'standard input' : dataPath;
  try {
    if (shape.cols !== model.nFeatures) {
      throw dataError(
        `${source} has ${shape.cols} columns but the model ${modelPath} has ${model.nFeatures} features; pick the model's columns with --columns`,
      );
    }
    const names = model.featureNames;
    if (names && columnNames && names.some((n, i) => n !== columnNames[i])) {
      throw dataError(
        `${source}: the columns are ${columnNames.join(', ')} but the model ${modelPath} was fitted on ${names.join(', ')}; pass the model's columns in its order (--columns ${names.join(',')})`,
      );
    }
  } catch (error) {
    await input.release();
    throw error;
  }
  return input;
}

/** Most result values (rows x values per row) one evaluation returns: 16 MiB of float64 (tests make it small). */
export const resultLimit = { values: 1 << 21 };

/**
 * Rows per evaluation for `perRow` results a row: a bounded result (N x K probabilities of
 * millions of rows are gigabytes). With backend 'auto' a piece keeps more than
 * AUTO_CPU_MAX_VALUES values where the data has them, so that cutting it never moves the
 * work to the CPU (pieces are at least half this long).
 */
export function rowsPerEvaluation(perRow: number, cols: number, o: ParsedOptions): number {
  const rows = Math.max(1, Math.floor(resultLimit.values / perRow));
  if ((o.backend ?? 'auto') !== 'auto') return rows;
  return Math.max(rows, 2 * Math.ceil((AUTO_CPU_MAX_VALUES + 1) / cols));
}

/**
 * Each piece's per-row results of the input, in order (a pass over the data): the chunks of a
 * streamed input, or the data in memory, cut into pieces of at most `maxRows` rows (views, of
 * near-equal size). A text file's row count is known after a pass: an output that needs it
 * first (.npy) gets a counting pass before.
 */
export async function* perChunk<T>(
  input: CommandData,
  evaluate: (chunk: Matrix) => Promise<T>,
  maxRows = Infinity,
): AsyncGenerator<T> {
  if (!input.streamed) {
    for (const piece of rowPieces(input.data as Matrix, maxRows)) yield await evaluate(piece);
    return;
  }
  for await (const chunk of (input.data as RowSource)() as AsyncIterable<RowChunk>) {
    for (const piece of rowPieces(chunk as Matrix, maxRows)) yield await evaluate(piece);
  }
}

/** The rows of `m` in pieces of at most `maxRows` rows, of near-equal size (views, not copies). */
export function* rowPieces(m: Matrix, maxRows: number): Generator<Matrix> {
  const count = Math.max(1, Math.ceil(m.rows / maxRows));
  const size = Math.ceil(m.rows / count);
  if (count === 1) {
    yield m;
    return;
  }
  for (let first = 0; first < m.rows; first += size) {
    const rows = Math.min(size, m.rows - first);
    yield { data: m.data.subarray(first * m.cols, (first + rows) * m.cols), rows, cols: m.cols };
  }
}

/** Makes a streamed input's row count known (one pass over a text file that has not had one). */
export async function countRows(input: CommandData): Promise<void> {
  if (!input.streamed || input.shape.rows > 0) return;
  for await (const chunk of (input.data as RowSource)() as AsyncIterable<RowChunk>) void chunk;
}

/** Writes the planned outputs together, once the work succeeded; null plans are skipped. */
export async function writePlanned(
  run: Run,
  outputs: Array<[OutputPlan | null, () => OutputContents]>,
): Promise<void> {
  run.signal.throwIfAborted();
  const writes = outputs
    .filter((w): w is [OutputPlan, () => OutputContents] => w[0] !== null)
    .map(([plan, contents]) => ({ plan, contents: contents() }));
  await writeOutputs(writes, stdoutSink(run.streams));
}
