import type {
  Assignments,
  BoundData,
  ComponentParameters,
  DataUse,
  EStepOptions,
  EStepResult,
  KMeansStatistics,
  SeedingStep,
  SufficientStatistics,
} from '../backends/backend.js';
import type { LazyBackend } from '../backends/select.js';
import { Random } from '../core/random.js';
import type { Matrix } from '../data/matrix.js';
import { joinedChunks, sourceChunks, type CheckedChunk, type RowSource } from '../data/row-source.js';
import { dataError, usageError } from '../errors.js';
import { farthestSamples } from './statistics-m-step.js';
import { mergeStatistics } from './statistics-merge.js';
import {
  STATISTICS_FORMAT,
  type KMeansShardStatistics,
  type MixtureShardStatistics,
} from './statistics-records.js';

// Out-of-core EM: data that is read chunk by chunk on every pass. Each chunk is bound to the
// backend, evaluated, and its statistics merged in float64 (mergeStatistics); the next chunk is
// read and uploaded while the backend works on the current one.

/** Rows of the initialisation sample at most (fewer when D is large: at most 64 MiB of float32). */
export const STREAM_INIT_ROWS = 100_000;

/**
 * Mixed into a model's seed for its initialisation sample, so that the sample leaves the model's
 * own draws alone: a source of at most {@link initSampleRows} rows is sampled whole, in order,
 * and its fit starts exactly as the fit of the same rows in memory.
 */
export const STREAM_SEED = 0x2545f491;

/** What one pass over a source learns besides the rows: its size and an initialisation sample. */
export interface SourceScan {
  readonly rows: number;
  readonly cols: number;
  /** Rows of positive weight (every row without weights). */
  readonly positiveRows: number;
  readonly weightSum: number;
  /** Mean over features of the weighted per-feature variance (k-means' tolerance scale). */
  readonly meanVariance: number;
  /** A seeded uniform sample of the rows of positive weight (reservoir sampling), and their weights. */
  readonly sample: Matrix;
  readonly sampleWeights: Float64Array | null;
}

/** Rows of the initialisation sample for K components of D features. */
export function initSampleRows(k: number, d: number): number {
  return Math.max(10 * k, Math.min(STREAM_INIT_ROWS, Math.floor(2 ** 26 / (4 * d))));
}

/**
 * One pass over the source: its size, the weighted per-feature variance (float64 sums around
 * the first row), and a reservoir sample of {@link initSampleRows} rows of positive weight drawn with the
 * seed (Vitter's algorithm R: every row equally likely, whatever the chunking).
 */
export async function scanSource(
  source: RowSource,
  k: number,
  seed: number,
  signal?: AbortSignal,
): Promise<SourceScan> {
  const rng = new Random(seed);
  let sampleRows = 0;
  let rows = 0;
  let seen = 0;
  let weightSum = 0;
  let weighted = false;
  let cols = 0;
  let sample = new Float32Array(0);
  let sampleW = new Float64Array(0);
  let origin: Float64Array | null = null;
  let s1 = new Float64Array(0);
  let s2 = new Float64Array(0);
  for await (const { matrix: m, weights } of sourceChunks(source, Number.MAX_SAFE_INTEGER, null, signal)) {
    if (!origin) {
      cols = m.cols;
      sampleRows = initSampleRows(k, cols);
      origin = Float64Array.from(m.data.subarray(0, cols));
      s1 = new Float64Array(cols);
      s2 = new Float64Array(cols);
      sample = new Float32Array(sampleRows * cols);
      sampleW = new Float64Array(sampleRows);
    }
    weighted ||= weights !== null;
    for (let r = 0; r < m.rows; r++) {
      const w = weights ? weights[r] : 1;
      if (w === 0) continue;
      weightSum += w;
      const at = r * cols;
      for (let i = 0; i < cols; i++) {
        const x = m.data[at + i] - origin[i];
        s1[i] += w * x;
        s2[i] += w * x * x;
      }
      const slot = seen < sampleRows ? seen : rng.integer(seen + 1);
      seen++;
      if (slot < sampleRows) {
        sample.set(m.data.subarray(at, at + cols), slot * cols);
        sampleW[slot] = w;
      }
    }
    rows += m.rows;
  }
  if (rows === 0) throw dataError('the row source gave no rows; give at least one chunk with rows');
  if (!(weightSum > 0))
    throw dataError('every row of the source has weight 0; give some rows a positive weight');
  let variance = 0;
  for (let i = 0; i < cols; i++) variance += Math.max(0, s2[i] / weightSum - (s1[i] / weightSum) ** 2);
  const kept = Math.min(seen, sampleRows);
  return {
    rows,
    cols,
    positiveRows: seen,
    weightSum,
    meanVariance: variance / cols,
    sample: { data: sample.subarray(0, kept * cols), rows: kept, cols },
    sampleWeights: weighted ? sampleW.subarray(0, kept) : null,
  };
}

/** Bytes of float32 samples a streamed chunk holds at least (but the last), when the budget allows. */
export const JOINED_CHUNK_BYTES = 16 * 2 ** 20;

/**
 * Rows per chunk for a device-memory budget: two chunks are in flight (one computed, the next
 * uploaded), each row taking its D values, K responsibilities or distances, its weight and its
 * label and distance (4 bytes each).
 */
export function chunkRowsFor(budgetBytes: number, d: number, k: number): number {
  return Math.max(1, Math.floor(budgetBytes / (2 * 4 * (d + k + 3))));
}

/**
 * Streamed samples as {@link BoundData}: every call is one pass over the source, chunk by chunk,
 * so the EM and Lloyd loops run on them unchanged. Initialisation does not run here (k-means++
 * would need K passes): it runs on the {@link SourceScan} sample.
 */
export class StreamedData implements BoundData {
  readonly weights = null;
  lastGpuSeconds: number | null = null;
  /** Centres of the last k-means pass: labels can only have changed when the centres did. */
  private lastCentres: Float64Array | null = null;

  constructor(
    private readonly source: RowSource,
    private readonly backend: LazyBackend,
    private readonly scan: SourceScan,
    private readonly purpose: DataUse,
    /** Rows bound at a time. */
    readonly chunkRows: number,
    private readonly signal?: AbortSignal,
  ) {}

  get rows(): number {
    return this.scan.rows;
  }

  get cols(): number {
    return this.scan.cols;
  }

  async prepare(): Promise<void> {
    // Limits are checked when the initialisation sample is bound; each chunk is made on the fly.
  }

  async sufficientStatistics(p: ComponentParameters, shifts: Float64Array): Promise<SufficientStatistics> {
    const header = {
      format: STATISTICS_FORMAT as typeof STATISTICS_FORMAT,
      kind: 'mixture' as const,
      covarianceType: p.covarianceType,
      nComponents: p.nComponents,
      nFeatures: p.nFeatures,
      parameterHash: 'streamed',
      shifts,
    };
    const acc: { total: MixtureShardStatistics | null } = { total: null };
    let layout: SufficientStatistics['secondMomentLayout'] = 'packed';
    // Not part of the mergeable statistics (EM's M-step does not need it): summed here in float64.
    let respLogRespSum = 0;
    await this.each(
      (data) => data.sufficientStatistics(p, shifts),
      (s, chunk) => {
        layout = s.secondMomentLayout;
        respLogRespSum += s.respLogRespSum;
        const part: MixtureShardStatistics = { ...header, ...s, rows: chunk.matrix.rows };
        acc.total = acc.total ? mergeStatistics(acc.total, part) : part;
      },
    );
    const t = this.nonEmpty(acc.total);
    return { ...t, secondMomentLayout: layout, respLogRespSum };
  }

  async kmeansStatistics(centres: Float64Array, k: number): Promise<KMeansStatistics> {
    const header = {
      format: STATISTICS_FORMAT as typeof STATISTICS_FORMAT,
      kind: 'kmeans' as const,
      nClusters: k,
      nFeatures: this.cols,
      parameterHash: 'streamed',
      shifts: centres,
      farthest: { distances: new Float64Array(0), samples: new Float64Array(0) },
    };
    const acc: { total: KMeansShardStatistics | null } = { total: null };
    await this.each(
      (data) => data.kmeansStatistics(centres, k),
      (s, chunk) => {
        const part: KMeansShardStatistics = { ...header, ...s, rows: chunk.matrix.rows, weightSum: 0 };
        acc.total = acc.total ? mergeStatistics(acc.total, part) : part;
      },
    );
    const t = this.nonEmpty(acc.total);
    // Each chunk is bound afresh, so it reports every row as changed: the centres tell instead.
    const same =
      this.lastCentres?.length === centres.length && this.lastCentres.every((v, i) => v === centres[i]);
    this.lastCentres = Float64Array.from(centres);
    return { ...t, nClusters: k, changed: same ? 0 : t.changed };
  }

  /** The `count` rows of positive weight farthest from their nearest centre (count x D), farthest first. */
  async farthest(centres: Float64Array, k: number, count: number): Promise<Float64Array> {
    const d = this.cols;
    let best: { dist: number; row: Float64Array }[] = [];
    await this.each(
      (data) => data.assign(centres, k, { allDistances: false }),
      (a, chunk) => {
        const f = farthestSamples(chunk.matrix, chunk.weights, a.minDistances, count);
        for (let i = 0; i < f.distances.length; i++) {
          best.push({ dist: f.distances[i], row: f.samples.subarray(i * d, i * d + d) });
        }
        // Stable: an earlier row wins a tie, as in memory.
        best = best.sort((x, y) => y.dist - x.dist).slice(0, count);
      },
    );
    const out = new Float64Array(best.length * d);
    best.forEach((b, i) => out.set(b.row, i * d));
    return out;
  }

  async eStep(p: ComponentParameters, options: EStepOptions): Promise<EStepResult> {
    const parts: EStepResult[] = [];
    await this.each(
      (data) => data.eStep(p, options),
      (r) => void parts.push(r),
      true,
    );
    return concatEStep(parts, options);
  }

  async assign(centres: Float64Array, k: number, options: { allDistances: boolean }): Promise<Assignments> {
    const parts: Assignments[] = [];
    await this.each(
      (data) => data.assign(centres, k, options),
      (r) => void parts.push(r),
      true,
    );
    return {
      labels: concatResults(
        parts.map((r) => r.labels),
        Int32Array,
      ),
      minDistances: concatResults(
        parts.map((r) => r.minDistances),
        Float64Array,
      ),
      distances: options.allDistances
        ? concatResults(
            parts.map((r) => r.distances!),
            Float64Array,
          )
        : null,
    };
  }

  seedingStep(): Promise<SeedingStep> {
    throw usageError(
      'k-means++ seeding runs on the initialisation sample of streamed data, not on the stream',
    );
  }

  dispose(): void {
    this.lastCentres = null;
  }

  /**
   * One pass: each chunk bound, evaluated by `work`, its result given to `use` in order; the
   * next chunk is read and bound while the current one is evaluated (two chunks in flight).
   * Chunks whose every weight is 0 count nowhere and are skipped.
   */
  private async each<T>(
    work: (data: BoundData) => Promise<T>,
    use: (result: T, chunk: CheckedChunk) => void,
    /** Per-row results: every chunk, bound without its weights (they only weigh sums). */
    perRow = false,
  ): Promise<void> {
    // Small blocks of a reader joined into chunks of about JOINED_CHUNK_BYTES: fewer bindings.
    const joinRows = Math.min(this.chunkRows, Math.ceil(JOINED_CHUNK_BYTES / (4 * this.cols)));
    const chunks = joinedChunks(sourceChunks(this.source, this.chunkRows, this.cols, this.signal), joinRows);
    const values = this.rows * this.cols;
    const bindNext = async (): Promise<{ data: BoundData; chunk: CheckedChunk } | null> => {
      for (;;) {
        const next = await chunks.next();
        if (next.done) return null;
        const chunk = next.value;
        rows += chunk.matrix.rows;
        if (!perRow && chunk.weights && !chunk.weights.some((w) => w > 0)) continue;
        const weights = perRow ? null : chunk.weights;
        const options = { purpose: this.purpose, weights, signal: this.signal };
        return { data: await this.backend.bind(chunk.matrix, options, values), chunk };
      }
    };
    let rows = 0;
    let next: Promise<{ data: BoundData; chunk: CheckedChunk } | null> | null = bindNext();
    try {
      for (;;) {
        const current = await next;
        next = null;
        if (!current) break;
        try {
          const pending = work(current.data);
          next = bindNext();
          // An error of the read-ahead surfaces when it is awaited, after this chunk's.
          next.catch(() => {});
          use(await pending, current.chunk);
        } finally {
          current.data.dispose();
        }
      }
    } finally {
      if (next) (await next.catch(() => null))?.data.dispose();
      await chunks.return(undefined);
    }
    if (rows !== this.rows) {
      throw dataError(
        `the row source gave ${rows} rows on this pass but ${this.rows} on the first; a row source must give the same rows on every pass`,
      );
    }
  }

  private nonEmpty<S>(total: S | null): S {
    if (!total) throw dataError('the row source gave no rows of positive weight on this pass');
    return total;
  }
}

/** The per-row results of a source's chunks, end to end. */
export function concatResults<A extends Float64Array | Int32Array>(
  parts: A[],
  kind: { new (n: number): A },
): A {
  const out = new kind(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Data a fit does not hold on the host (a row source, a caller's GPU buffer): what a scan of it
 * learnt (size, an initialisation sample), the bound data its passes run on, and where k-means
 * finds the samples farthest from their centres (count x D).
 */
export interface OpenedData {
  readonly scan: SourceScan;
  readonly data: BoundData;
  farthest(centres: Float64Array, k: number, count: number): Promise<Float64Array>;
}

/** Streamed data ready for a fit: its scan (size, initialisation sample) and its passes. */
export async function openSource(
  source: RowSource,
  backend: LazyBackend,
  o: { k: number; purpose: DataUse; seed: number; signal?: AbortSignal },
): Promise<OpenedData & { data: StreamedData }> {
  const scan = await scanSource(source, o.k, o.seed, o.signal);
  const rows = chunkRowsFor(await backend.memoryBudget(), scan.cols, o.k);
  const data = new StreamedData(source, backend, scan, o.purpose, rows, o.signal);
  return { scan, data, farthest: (c, k, count) => data.farthest(c, k, count) };
}

/**
 * Runs `evaluate` on each chunk of the source in turn (at most the rows the memory budget
 * allows at a time; `k` sizes them) and returns the results in order: predict and score of a
 * row source.
 */
export async function mapSource<T>(
  source: RowSource,
  backend: LazyBackend,
  k: number,
  evaluate: (chunk: CheckedChunk) => Promise<T>,
  signal?: AbortSignal,
): Promise<T[]> {
  const budget = await backend.memoryBudget();
  const out: T[] = [];
  let maxRows = 0;
  for await (const chunk of sourceChunks(source, Number.MAX_SAFE_INTEGER, null, signal)) {
    maxRows ||= chunkRowsFor(budget, chunk.matrix.cols, k);
    const { matrix: m, weights } = chunk;
    for (let r = 0; r < m.rows; r += maxRows) {
      const end = Math.min(m.rows, r + maxRows);
      const piece = { data: m.data.subarray(r * m.cols, end * m.cols), rows: end - r, cols: m.cols };
      out.push(await evaluate({ matrix: piece, weights: weights?.subarray(r, end) ?? null }));
    }
  }
  if (out.length === 0) throw dataError('the row source gave no rows; give at least one chunk with rows');
  return out;
}

/** The E-step results of a source's chunks, end to end: each output the options asked for. */
export function concatEStep(parts: readonly EStepResult[], options: EStepOptions): EStepResult {
  const joined = <A extends Float64Array | Int32Array>(
    asked: boolean,
    part: (r: EStepResult) => A | null,
    kind: { new (n: number): A },
  ): A | null =>
    asked
      ? concatResults(
          parts.map((r) => part(r)!),
          kind,
        )
      : null;
  return {
    logLikelihood: joined(options.logLikelihood !== false, (r) => r.logLikelihood, Float64Array),
    responsibilities: joined(Boolean(options.responsibilities), (r) => r.responsibilities, Float64Array),
    labels: joined(Boolean(options.labels), (r) => r.labels, Int32Array),
  };
}
