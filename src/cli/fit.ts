import type { Matrix } from '../data/matrix.js';
import type { RowChunk, RowSource } from '../data/row-source.js';
import type { ParsedArgs, ParsedOptions } from './args.js';
import { commandInput, featureNames, modelJson, report, table, type Run } from './common.js';
import { Progress, type ProgressRecord } from './progress.js';

// The one runner of the fit commands (gmm, bgmm, kmeans): options and data in, the model made
// and fitted with progress on stderr, then the report, --out and --labels. Each command is a
// FitCommand: its options (usage.ts) and what differs.

/** The data and options of a fit command, read and checked. */
export type FitInput = NonNullable<Awaited<ReturnType<typeof commandInput>>>;

/** What the runner asks of a model. */
export interface FitModel {
  readonly options: { readonly maxIter: number; readonly nInit: number };
  readonly labels: Int32Array;
  featureNames: readonly string[] | null;
  toJSON(): Record<string, unknown>;
  predict(x: Matrix | RowChunk): Promise<Int32Array>;
  backendName(): Promise<string>;
  adapterDescription(): Promise<string | null>;
  dispose(): void;
}

/** What a fit command reports beyond what every one does. */
export interface FitReport {
  /** The JSON result's fields after `model`. */
  readonly fields: Record<string, unknown>;
  /** A line for stderr (a fit that did not converge), or null. */
  readonly warning: string | null;
  /** The text report's lines above the time and the table. */
  readonly lines: string[];
  /** The table's rows: what a row is ('component'), the means and the weights (or null). */
  readonly rows: {
    readonly name: string;
    readonly means: Float64Array;
    readonly weights: Float64Array | null;
  };
}

export interface FitCommand<M extends FitModel> {
  readonly name: string;
  /** Whether the data may be streamed (false: read in memory). */
  readonly streamable: boolean;
  /** What the progress line calls the objective: 'lower bound', 'inertia'. */
  readonly objective: string;
  /** Checks of the options before the data is read. */
  readonly check?: (o: ParsedOptions) => void;
  /** The model to fit, and what the report's header says it is ('components: 3 (full)'). */
  create(input: FitInput, run: Run): Promise<{ model: M; what: string }>;
  /**
   * Fits it, each iteration's objective and change to `progress`; `labels` is the model's fit
   * option of that name (keep the training samples' labels: one more pass over the data, made
   * only for --labels on data in memory).
   */
  fit(
    model: M,
    data: Matrix | RowSource,
    options: {
      signal: AbortSignal;
      sampleWeight: Float64Array | null;
      progress: (r: ProgressRecord) => void;
      labels: boolean;
    },
  ): Promise<unknown>;
  report(model: M): FitReport;
}

/** Runs a fit command on its parsed command line. */
export async function runFit<M extends FitModel>(
  command: FitCommand<M>,
  args: ParsedArgs,
  run: Run,
): Promise<number> {
  const input = await commandInput(command.name, args, run, command.check, command.streamable);
  try {
    const { model, what } = await command.create(input, run);
    try {
      const { o } = input;
      // The training samples' labels only for --labels; a stream's are written chunk by chunk
      // after the fit, by report().
      const keepLabels = Boolean(o.labels) && !input.streamed;
      const progress = new Progress(
        run,
        o,
        command.name,
        command.objective,
        model.options.maxIter,
        model.options.nInit,
      );
      try {
        await command.fit(model, input.data, {
          signal: run.signal,
          sampleWeight: input.sampleWeight,
          progress: (r) => progress.update(r),
          labels: keepLabels,
        });
      } finally {
        progress.end();
      }
      const r = command.report(model);
      const names = featureNames(input.columnNames, input.shape.cols);
      return await report(run, input, model, {
        fields: { model: await modelJson(model, input.columnNames), ...r.fields },
        labels: keepLabels ? model.labels.slice() : undefined, // a plain copy: read at full speed as it is written
        what,
        warning: r.warning,
        body: (seconds) => [
          ...r.lines,
          `time: ${seconds.toFixed(3)} s`,
          '',
          table(
            [r.rows.name, ...(r.rows.weights ? ['weight'] : []), ...names],
            r.rows.means,
            input.shape.cols,
            r.rows.weights,
          ),
        ],
      });
    } finally {
      model.dispose();
    }
  } finally {
    await input.release();
  }
}
