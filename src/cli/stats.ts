import { WebGpuEmError } from '../errors.js';
import type { ReadOptions } from '../io/files.js';
import type { Matrix } from '../data/matrix.js';
import { mergeableStatistics, type LoadedModel } from '../models/formats.js';
import { StatisticsShard } from '../models/shard-statistics.js';
import { statisticsToJSON } from '../models/statistics-json.js';
import type { BackendChoice } from '../core/names.js';
import type { ParsedOptions } from './args.js';
import { dataFor, loadCommandModel, writePlanned } from './apply.js';
import { readSampleWeights, type Run } from './common.js';
import type { ParsedArgs } from './args.js';

/**
 * `stats <model> <shard>`: one shard's sufficient statistics under a saved model's parameters
 * (`webgpu-em/stats@1`), the worker's half of distributed EM; `mstep` merges them.
 */
export async function runStats(args: ParsedArgs, run: Run): Promise<number> {
  const input = await loadCommandModel('stats', args, run, 2, (o) => [
    ['--out', (o.out as string | undefined) ?? '-'],
  ]);
  const { o, model, plans } = input;
  try {
    const weightsPath = o.weights as string | undefined;
    if (weightsPath !== undefined && weightsPath === o.out)
      throw new WebGpuEmError('usage', `--out ${weightsPath} is the --weights file; give another path`);
    const statistics = mergeableStatistics(model, input.modelPath);
    const { matrix, sampleWeight } = await shardData(model, input, o, run);
    const shard = await StatisticsShard.create(matrix, {
      backend: o.backend as BackendChoice | undefined,
      adapter: o.adapter as string | undefined,
      sampleWeight,
      use: statistics.use,
    });
    let json: string;
    try {
      run.signal.throwIfAborted();
      json = JSON.stringify(statisticsToJSON(await statistics.of(shard))) + '\n';
    } finally {
      shard.dispose();
    }
    await writePlanned(run, [[plans.get('--out')!, () => json]]);
    return 0;
  } finally {
    model.dispose();
  }
}

/**
 * The shard's rows (the model's columns) and weights: the one place where `stats` reads its
 * data, so that a streaming source can take its place.
 */
async function shardData(
  model: LoadedModel,
  input: { dataPath: string; modelPath: string; read: ReadOptions | null },
  o: ParsedOptions,
  run: Run,
): Promise<{ matrix: Matrix; sampleWeight: Float64Array | null }> {
  // In memory: a shard is bound once for its statistics pass (StatisticsShard takes a matrix).
  const data = await dataFor(model, input.dataPath, input.read, o, run, input.modelPath, false);
  const matrix = data.data as Matrix;
  const weightsPath = o.weights as string | undefined;
  const sampleWeight = await readSampleWeights(weightsPath, input.dataPath, matrix.rows, input.read!);
  return { matrix, sampleWeight };
}
