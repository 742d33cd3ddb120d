import * as path from 'node:path';
import { readFile, realpath } from 'node:fs/promises';
import type { Matrix } from '../data/matrix.js';
import { printable, WebGpuEmError } from '../errors.js';
import {
  DEFAULT_MAX_INPUT_BYTES,
  parseBytes,
  planOutput,
  readModelFile,
  readLabelsFile,
  readWeightsFile,
  writeOutputs,
  type OutputPlan,
  type ReadOptions,
} from '../io/files.js';
import type { ModelSpec } from '../models/model-file.js';
import type { OutputContents } from '../io/outputs.js';
import type { ByteSink } from '../io/bounded-writer.js';
import { isRowSource, type RowChunk, type RowSource } from '../data/row-source.js';
import { commandData, streamedOutput, withWeights } from './stream-data.js';
import type { ParsedArgs, ParsedOptions } from './args.js';

// What every command shares: reading its input, checking its outputs, writing its result.

/** Where the CLI writes; tests pass their own. */
export interface CliStreams {
  stdout: (text: string) => void;
  /**
   * Large outputs on standard output, a piece at a time: resolves when the piece may be
   * followed (backpressure). Without it they go through `stdout` as text.
   */
  writeStdout?: ByteSink;
  stderr: (text: string) => void;
  /** Whether stderr is a terminal (progress is then one updating line). */
  stderrIsTTY?: boolean;
}

/** A run of one command: its output streams and what stops it. */
export interface Run {
  readonly streams: CliStreams;
  readonly signal: AbortSignal;
}

/**
 * Parses a command's options, checks every option and output path that can be checked before
 * the work, then reads its one data file.
 */
export async function commandInput(
  name: string,
  args: ParsedArgs,
  run: Run,
  check: (o: ParsedOptions) => void = () => {},
  /** Whether the command can read its data as a stream (a fit, not a model selection). */
  streamable = true,
) {
  const { options: o, positionals } = args;
  if (positionals.length !== 1) {
    throw new WebGpuEmError(
      'usage',
      `${name} needs exactly one data file, got ${positionals.length}; see --help`,
    );
  }
  if (o.init && o.initModel)
    throw new WebGpuEmError('usage', '--init and --init-model contradict each other; give one');
  for (const other of ['init', 'initModel'] as const) {
    if (o.initLabels && o[other]) {
      const flag = other === 'init' ? '--init' : '--init-model';
      throw new WebGpuEmError('usage', `${flag} and --init-labels contradict each other; give one`);
    }
  }
  const read = readOptions(o, run);
  check(o);
  const dataPath = positionals[0];
  const weightsPath = o.weights as string | undefined;
  const inputs = [
    dataPath,
    ...(o.initModel ? [o.initModel as string] : []),
    ...(weightsPath ? [weightsPath] : []),
    ...(o.initLabels ? [o.initLabels as string] : []),
  ];
  const outputs = await planOutputs(o, inputs);
  const started = performance.now();
  const input = await readData(dataPath, read, o, run, streamable);
  try {
    const sampleWeight = weightsPath
      ? await readWeightsFile(weightsPath, { maxInputBytes: read.maxInputBytes, signal: run.signal })
      : null;
    if (sampleWeight && !input.streamed)
      checkOnePerRow(sampleWeight.length, 'weights', weightsPath!, dataPath, input.shape.rows);
    if (sampleWeight && !sampleWeight.some((w) => w > 0)) {
      throw new WebGpuEmError(
        'data',
        `${printable(weightsPath!)}: the weights sum to 0 (every one is 0), so no row counts and there is nothing to fit; give some rows a positive weight`,
      );
    }
    const labelsPath = o.initLabels as string | undefined;
    if (labelsPath && input.streamed)
      throw new WebGpuEmError(
        'usage',
        `--init-labels needs ${dataPath} in memory, but it is streamed; drop --stream or raise --max-gpu-memory`,
      );
    const initLabels = labelsPath
      ? await readLabelsFile(labelsPath, { maxInputBytes: read.maxInputBytes, signal: run.signal })
      : null;
    if (initLabels) checkOnePerRow(initLabels.length, 'labels', labelsPath!, dataPath, input.shape.rows);
    // A stream's weights go with its chunks.
    const data =
      sampleWeight && input.streamed
        ? withWeights(input.data as RowSource, sampleWeight, weightsPath!, dataPath)
        : input.data;
    return {
      o,
      dataPath,
      data,
      streamed: input.streamed,
      shape: input.shape,
      columnNames: input.columnNames,
      started,
      outputs,
      sampleWeight: input.streamed ? null : sampleWeight,
      initLabels,
      release: input.release,
    };
  } catch (error) {
    await input.release();
    throw error;
  }
}

/** --weights FILE (or null without it), one weight per row of the data. */
export async function readSampleWeights(
  weightsPath: string | undefined,
  dataPath: string,
  rows: number,
  read: ReadOptions,
): Promise<Float64Array | null> {
  if (!weightsPath) return null;
  const w = await readWeightsFile(weightsPath, { maxInputBytes: read.maxInputBytes, signal: read.signal });
  checkOnePerRow(w.length, 'weights', weightsPath, dataPath, rows);
  return w;
}

function checkOnePerRow(count: number, what: string, path: string, dataPath: string, rows: number): void {
  if (count !== rows)
    throw new WebGpuEmError(
      'data',
      `${path} has ${count} ${what} but ${dataPath} has ${rows} rows; give one ${what.replace(/s$/, '')} per row`,
    );
}

/** How the data is read: header, size limit, columns, raw float32; checked before any work. */
export function readOptions(o: ParsedOptions, run: Run): ReadOptions {
  if (o.header && o.noHeader)
    throw new WebGpuEmError('usage', '--header and --no-header contradict each other');
  if (o.columns !== undefined && o.numericOnly)
    throw new WebGpuEmError('usage', '--columns and --numeric-only contradict each other; give one');
  let maxInputBytes = DEFAULT_MAX_INPUT_BYTES;
  if (o.maxInputSize !== undefined) {
    const parsed = parseBytes(o.maxInputSize as string);
    if (parsed === null) {
      throw new WebGpuEmError(
        'usage',
        `--max-input-size needs a size in bytes such as 1000, 64K, 512M or 2G; got '${o.maxInputSize}'`,
      );
    }
    maxInputBytes = parsed;
  }
  const columns =
    o.columns === undefined
      ? undefined
      : String(o.columns)
          .split(',')
          .map((c) => c.trim());
  if (columns?.some((c) => c === ''))
    throw new WebGpuEmError(
      'usage',
      `--columns '${o.columns}' has an empty name; give names or indices separated by commas`,
    );
  return {
    header: o.header ? true : o.noHeader ? false : 'auto',
    maxInputBytes,
    signal: run.signal,
    select: { columns, numericOnly: o.numericOnly === true },
    ...(o.dims !== undefined ? { rawDims: o.dims as number } : {}),
  };
}

/**
 * Reads the data (or opens it as a stream: see commandData), saying on stderr which columns a
 * selection left out.
 */
export async function readData(
  file: string,
  read: ReadOptions,
  o: ParsedOptions,
  run: Run,
  streamable: boolean,
) {
  const result = await commandData(file, read, o, streamable);
  if (result.dropped && result.dropped.length > 0 && !o.quiet) {
    run.streams.stderr(`webgpu-em: columns left out: ${result.dropped.join(', ')}\n`);
  }
  return result;
}

/** --out and --labels, checked before the work. */
export async function planOutputs(o: ParsedOptions, inputs: string[]) {
  const out = o.out as string | undefined;
  const labels = o.labels as string | undefined;
  if (out !== undefined && labels !== undefined && out === labels) {
    throw new WebGpuEmError('usage', `--out and --labels are both ${out}; give them different paths`);
  }
  const plans = {
    out: out === undefined ? null : await planOutput(out, '--out', inputs),
    labels: labels === undefined ? null : await planOutput(labels, '--labels', inputs),
  };
  // Standard output holds one result: the labels there leave no room for the JSON or the model.
  if (plans.labels?.mode === 'stdout' && (o.json || plans.out?.mode === 'stdout')) {
    throw new WebGpuEmError(
      'usage',
      `--labels ${labels} and ${o.json ? '--json' : `--out ${out}`} both write to standard output; write the labels to a file (--labels FILE)${o.json ? '' : ' or the model to one (--out FILE)'}`,
    );
  }
  // Other spellings of one file (./x, a symbolic link to it): the second rename would drop the first.
  if (plans.out?.mode === 'atomic' && plans.labels?.mode === 'atomic') {
    const [a, b] = await Promise.all([plans.out.target, plans.labels.target].map(canonical));
    if (a === b) {
      throw new WebGpuEmError(
        'usage',
        `--out ${out} and --labels ${labels} are the same file (${a}); give them different paths`,
      );
    }
  }
  return plans;
}

/** A path with its folder's symbolic links resolved (the file itself may not exist yet). */
async function canonical(file: string): Promise<string> {
  const dir = await realpath(path.dirname(file)).catch(() => path.dirname(file));
  return path.join(dir, path.basename(file));
}

/** Reads --init-model and checks it against the data and -k. */
export async function initModel(
  o: ParsedOptions,
  dataPath: string,
  matrix: { readonly cols: number },
  run: Run,
): Promise<ModelSpec | null> {
  if (!o.initModel) return null;
  const spec = await readModelFile(o.initModel as string, { signal: run.signal });
  if (spec.nFeatures !== matrix.cols) {
    throw new WebGpuEmError(
      'data',
      `${o.initModel}: the model has ${spec.nFeatures} features but ${dataPath} has ${matrix.cols} columns; use a model made for this data`,
    );
  }
  const k = o.nComponents ?? o.nClusters;
  if (k !== undefined && k !== spec.nComponents) {
    throw new WebGpuEmError(
      'usage',
      `-k ${k} contradicts ${o.initModel}, which has ${spec.nComponents} components; drop -k or use another model`,
    );
  }
  return spec;
}

/**
 * Writes --out and --labels together (only now that the work succeeded), then the result on
 * stdout (unless an output is `-`, which takes stdout's place).
 */
export async function finish(
  o: ParsedOptions,
  run: Run,
  outputs: { out: OutputPlan | null; labels: OutputPlan | null },
  result: Record<string, unknown>,
  labels: Int32Array | ((plan: OutputPlan) => OutputContents) | null,
  text: string,
): Promise<number> {
  run.signal.throwIfAborted();
  const json = JSON.stringify(result);
  const writes: Array<{ plan: OutputPlan; contents: OutputContents }> = [];
  if (outputs.out) writes.push({ plan: outputs.out, contents: json + '\n' });
  if (outputs.labels && labels) {
    writes.push({
      plan: outputs.labels,
      contents:
        typeof labels === 'function'
          ? labels(outputs.labels)
          : matrixOutput(outputs.labels, labels, labels.length, 1, null),
    });
  }
  await writeOutputs(writes, stdoutSink(run.streams));
  if (!writes.some((w) => w.plan.mode === 'stdout')) run.streams.stdout(o.json ? json + '\n' : text);
  return 0;
}

/** What a fit command's report asks of its fitted model. */
interface FittedModel {
  predict(x: Matrix | RowChunk): Promise<Int32Array>;
  backendName(): Promise<string>;
  adapterDescription(): Promise<string | null>;
}

/** What a fit command reports beyond what every one does. */
interface Report {
  /** The command's fields of the JSON result, first. */
  readonly fields: Record<string, unknown>;
  /** The header's last item (what was fitted). */
  readonly what: string;
  /** The text report's lines after the header, given the elapsed seconds. */
  readonly body: (seconds: number) => string[];
  /** A line for stderr (a fit that did not converge), or null. */
  readonly warning: string | null;
  /** The labels the fit kept, if it did (otherwise --labels runs predict). */
  readonly labels?: Int32Array;
}

/**
 * Ends a fit command: the labels when asked for, the JSON result (the command's fields, then
 * samples, backend, adapter and seconds), the warning, and the text report, written by finish().
 */
export async function report(
  run: Run,
  input: {
    o: ParsedOptions;
    data: Matrix | RowSource;
    shape: { readonly rows: number; readonly cols: number };
    started: number;
    outputs: { out: OutputPlan | null; labels: OutputPlan | null };
  },
  model: FittedModel,
  r: Report,
): Promise<number> {
  const { o, data, shape, started, outputs } = input;
  let labels: Int32Array | ((plan: OutputPlan) => OutputContents) | null = null;
  if (o.labels && isRowSource(data)) {
    // A stream's labels: one more pass, each chunk's written as it is computed.
    labels = (plan) =>
      streamedOutput(
        plan,
        () => shape.rows,
        1,
        null,
        async function* () {
          for await (const chunk of data() as AsyncIterable<RowChunk>) yield await model.predict(chunk);
        },
      );
  } else if (o.labels) labels = r.labels ?? (await model.predict(data as Matrix));
  const matrix = shape;
  const result = {
    ...r.fields,
    nSamples: matrix.rows,
    backend: await model.backendName(),
    adapter: await model.adapterDescription(),
    seconds: (performance.now() - started) / 1000,
  };
  if (r.warning !== null && !o.quiet) run.streams.stderr(`webgpu-em: warning: ${r.warning}\n`);
  const lines = [header(result.backend, result.adapter, matrix, r.what), ...r.body(result.seconds)];
  return finish(o, run, outputs, result, labels, lines.join('\n') + '\n');
}

/** A fitted model as the CLI saves it: the model file, the data's column names, the producer. */
export async function modelJson(
  model: { featureNames: readonly string[] | null; toJSON(): Record<string, unknown> },
  columnNames: string[] | null,
) {
  model.featureNames = columnNames;
  return { ...model.toJSON(), producer: `webgpu-em ${await packageVersion()}` };
}

/**
 * A matrix as the output's extension asks: .npy, else CSV (with a header when names are given),
 * written in bounded pieces.
 */
export function matrixOutput(
  plan: OutputPlan,
  data: Float64Array | Int32Array,
  rows: number,
  cols: number,
  names: readonly string[] | null,
): OutputContents {
  return streamedOutput(
    plan,
    () => rows,
    cols,
    names,
    async function* () {
      yield data;
    },
  );
}

/** Where outputs to standard output go: the streams' byte writer, else their text one. */
export function stdoutSink(streams: CliStreams): ByteSink {
  if (streams.writeStdout) return streams.writeStdout;
  const decoder = new TextDecoder();
  return async (bytes) => streams.stdout(decoder.decode(bytes, { stream: true }));
}

export function header(
  backend: string,
  adapter: string | null,
  m: { readonly rows: number; readonly cols: number },
  what: string,
): string {
  return [
    `backend: ${backend}${adapter ? ` (${adapter})` : ''}`,
    `samples: ${m.rows}, features: ${m.cols}, ${what}`,
  ].join('\n');
}

export function featureNames(columns: string[] | null, d: number): string[] {
  return columns ?? Array.from({ length: d }, (_, i) => `mean[${i}]`);
}

export function table(head: string[], means: Float64Array, d: number, weights: Float64Array | null): string {
  const rows = means.length / d;
  // Column names come from the data file: escaped and clipped for the terminal.
  const lines = [head.map((h) => printable(h, 40)).join('\t')];
  for (let k = 0; k < rows; k++) {
    const cells = [String(k), ...(weights ? [weights[k].toFixed(4)] : [])];
    for (let i = 0; i < d; i++) cells.push(means[k * d + i].toPrecision(6));
    lines.push(cells.join('\t'));
  }
  return lines.join('\n');
}

let version: string | null = null;

export async function packageVersion(): Promise<string> {
  if (version) return version;
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(await readFile(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'webgpu-em' && pkg.version) return (version = pkg.version);
    } catch {
      // try the next location
    }
  }
  return (version = 'unknown');
}
