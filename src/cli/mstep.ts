import { family } from '../core/families.js';
import { WebGpuEmError } from '../errors.js';
import { readModelJson, readStatisticsJson } from '../io/files.js';
import { GMM_FORMAT, KMEANS_FORMAT } from '../models/model-file.js';
import { loadModel, mergeableStatistics, type LoadedModel } from '../models/formats.js';
import { GaussianMixture } from '../models/gaussian-mixture.js';
import { defaultOf } from '../core/option-schema.js';
import { GAUSSIAN_MIXTURE_SCHEMA } from '../models/gaussian-mixture-options.js';
import { KMeans } from '../models/kmeans.js';
import {
  checkMergeable,
  kmeansMStep,
  mergeStatistics,
  mixtureMStep,
  type ShardStatistics,
} from '../models/shard-statistics.js';
import { statisticsFromJSON } from '../models/statistics-json.js';
import type { ParsedArgs } from './args.js';
import { finish, modelJson, planOutputs, type Run } from './common.js';

/**
 * `mstep <stats...>`: merges the statistics of every shard (float64) and takes the M-step (a
 * mixture's EM step, k-means' Lloyd update), the driver's half of distributed EM. The result
 * is saved as the fit commands save theirs, so it starts `stats`, `gmm --init-model` and `predict`.
 */
export async function runMstep(args: ParsedArgs, run: Run): Promise<number> {
  const { options: o, positionals: files } = args;
  if (files.length === 0)
    throw new WebGpuEmError(
      'usage',
      'mstep needs one or more statistics files (webgpu-em stats --out); see --help',
    );
  const modelPath = o.model as string | undefined;
  const outputs = await planOutputs(o, [...files, ...(modelPath ? [modelPath] : [])]);
  const started = performance.now();
  const parts: ShardStatistics[] = [];
  for (const file of files) {
    const json = await readStatisticsJson(file, { signal: run.signal });
    parts.push(annotated(file, () => statisticsFromJSON(json)));
  }
  checkAll(parts, files);
  const model = modelPath ? await parametersModel(modelPath, run) : null;
  try {
    const modelStats = model ? mergeableStatistics(model, modelPath!) : null;
    if (modelStats) {
      parts.forEach((p, i) => {
        if (p.parameterHash !== modelStats.parameterHash) {
          throw new WebGpuEmError(
            'data',
            `${files[i]}: the statistics were computed under parameters of hash ${p.parameterHash}, not those of ${modelPath} (${modelStats.parameterHash}); run stats with ${modelPath}`,
          );
        }
      });
    }
    const merged = mergeStatistics(...parts);
    if (!(merged.weightSum > 0)) {
      const which = parts.length === 1 ? files[0] : `all ${parts.length} statistics files`;
      throw new WebGpuEmError(
        'data',
        `${which}: every shard's weights sum to 0 (${merged.rows} rows, none of positive weight), so there is nothing to fit; give some rows a positive weight`,
      );
    }
    const columns = model?.featureNames ? [...model.featureNames] : null;
    const common = { nSamples: merged.rows, weightSum: merged.weightSum, shards: parts.length };
    const seconds = () => ((performance.now() - started) / 1000).toFixed(3);
    if (merged.kind === 'mixture') {
      const regCovar =
        (o.regCovar as number | undefined) ??
        modelStats?.regCovar ??
        defaultOf(GAUSSIAN_MIXTURE_SCHEMA, 'regCovar');
      const { parameters, lowerBound } = mixtureMStep(merged, { regCovar });
      const { covarianceType, nComponents: k, nFeatures: d } = parameters;
      const gmm = GaussianMixture.fromParameters(
        { ...parameters, covariances: family(covarianceType).toArray(parameters.covariances, k, d) },
        { covarianceType, regCovar, backend: 'cpu' },
      );
      try {
        if (parameters.jittered && !o.quiet) {
          run.streams.stderr(
            `webgpu-em: warning: ${parameters.jittered} components needed diagonal jitter beyond --reg-covar ${regCovar} to stay positive definite; raise --reg-covar or check the data\n`,
          );
        }
        const result = { model: await modelJson(gmm, columns), lowerBound, ...common };
        const text = `${summary(merged, parts.length)}, '${merged.covarianceType}' covariances\nlower bound (mean log-likelihood under the parameters of the statistics): ${lowerBound}\ntime: ${seconds()} s\n`;
        return await finish(o, run, outputs, result, null, text);
      } finally {
        gmm.dispose();
      }
    }
    const step = kmeansMStep(merged);
    const km = KMeans.fromJSON(
      { format: KMEANS_FORMAT, nFeatures: merged.nFeatures, means: rows(step.centres, merged.nFeatures) },
      { backend: 'cpu' },
    );
    try {
      const result = {
        model: await modelJson(km, columns),
        inertia: step.inertia,
        centerShift: step.centerShift,
        relocated: step.relocated,
        ...common,
      };
      const text = `${summary(merged, parts.length)}\ninertia (of the centres of the statistics): ${step.inertia}, centre shift: ${step.centerShift}, relocated: ${step.relocated}\ntime: ${seconds()} s\n`;
      return await finish(o, run, outputs, result, null, text);
    } finally {
      km.dispose();
    }
  } finally {
    model?.dispose();
  }
}

/** The --model file: the parameters every statistics file must have been computed under. */
async function parametersModel(file: string, run: Run): Promise<LoadedModel> {
  const json = await readModelJson(file, { signal: run.signal });
  return loadModel(json, { source: file === '-' ? 'standard input' : file, backend: 'cpu' });
}

/**
 * Every part against the shape most of them share (kind, family, K, D), so that a refusal names
 * the file that differs rather than the first; then each against that one for its parameters.
 */
function checkAll(parts: readonly ShardStatistics[], files: readonly string[]): void {
  const shapes = parts.map(shapeOf);
  const counts = new Map<string, number>();
  for (const s of shapes) counts.set(s, (counts.get(s) ?? 0) + 1);
  // The most common shape; on a tie, the first file's.
  let common = shapes[0];
  for (const [s, n] of counts) if (n > counts.get(common)!) common = s;
  const odd = shapes.findIndex((s) => s !== common);
  if (odd >= 0) {
    const others = counts.get(common)!;
    const holders = others === 1 ? files[shapes.indexOf(common)] : `the other ${others} files`;
    throw new WebGpuEmError(
      'data',
      `${files[odd]}: cannot merge statistics of ${common} with statistics of ${shapes[odd]}: this file holds the second, ${holders} the first; compute every shard's statistics under the same model, with the same columns`,
    );
  }
  for (let i = 1; i < parts.length; i++) annotated(files[i], () => checkMergeable(parts[0], parts[i]));
}

function shapeOf(s: ShardStatistics): string {
  return s.kind === 'mixture'
    ? `a '${s.covarianceType}' mixture of K = ${s.nComponents}, D = ${s.nFeatures}`
    : `k-means of K = ${s.nClusters}, D = ${s.nFeatures}`;
}

function annotated<T>(file: string, f: () => T): T {
  try {
    return f();
  } catch (error) {
    if (error instanceof WebGpuEmError)
      throw new WebGpuEmError(error.kind, `${file}: ${error.message}`, { cause: error });
    throw error;
  }
}

function summary(s: ShardStatistics, shards: number): string {
  const what =
    s.kind === 'mixture' ? `${GMM_FORMAT}, K = ${s.nComponents}` : `${KMEANS_FORMAT}, K = ${s.nClusters}`;
  return `merged ${shards} shards: ${s.rows} rows (weight ${s.weightSum}), D = ${s.nFeatures}; next model: ${what}`;
}

function rows(flat: Float64Array, d: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < flat.length; i += d) out.push(Array.from(flat.subarray(i, i + d)));
  return out;
}
