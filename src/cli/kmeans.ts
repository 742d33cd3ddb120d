import { KMEANS_INIT_METHODS, type KMeansInit } from '../core/names.js';
import { WebGpuEmError } from '../errors.js';
import { KMeans } from '../models/kmeans.js';
import {
  commandInput,
  featureNames,
  fitOptions,
  help,
  initModel,
  modelJson,
  report,
  table,
  type Run,
} from './common.js';
import { Progress } from './progress.js';
import { KMEANS_OPTIONS } from './usage.js';

export async function runKMeans(argv: readonly string[], run: Run): Promise<number> {
  const { streams } = run;
  const input = await commandInput('kmeans', argv, KMEANS_OPTIONS, run);
  if (!input) return help(streams, 'kmeans');
  const { o, dataPath, data, shape, columnNames } = input;
  try {
    const spec = await initModel(o, dataPath, shape, run);
    const k = spec ? spec.nComponents : (o.k as number | undefined);
    if (k === undefined)
      throw new WebGpuEmError('usage', 'kmeans needs -k K (the number of clusters) or --init-model FILE');
    const km = new KMeans({
      nClusters: k,
      init: spec ? { means: spec.means } : ((o.init as KMeansInit | undefined) ?? KMEANS_INIT_METHODS[0]),
      ...fitOptions(o),
    });
    const progress = new Progress(run, o, 'kmeans', 'inertia', km.options.maxIter, km.options.nInit);
    let previous = Infinity;
    try {
      try {
        await km.fit(data, {
          signal: run.signal,
          sampleWeight: input.sampleWeight,
          onIteration: (r) => {
            progress.update({
              ...r,
              value: r.inertia,
              change: r.iteration === 1 ? Infinity : r.inertia - previous,
            });
            previous = r.inertia;
          },
        });
      } finally {
        progress.end();
      }
      const fields = {
        model: await modelJson(km, columnNames),
        inertia: km.inertia,
        nIter: km.nIter,
        converged: km.converged,
      };
      return await report(run, input, km, {
        fields,
        labels: input.streamed ? undefined : km.labels,
        what: `clusters: ${k}`,
        warning: km.converged
          ? null
          : `k-means did not converge in ${km.nIter} iterations; raise --max-iter or --tol`,
        body: (seconds) => [
          `converged: ${km.converged} after ${km.nIter} iterations, inertia: ${km.inertia.toPrecision(8)}`,
          `time: ${seconds.toFixed(3)} s`,
          '',
          table(
            ['cluster', ...featureNames(columnNames, shape.cols)],
            km.clusterCenters.data,
            shape.cols,
            null,
          ),
        ],
      });
    } finally {
      km.dispose();
    }
  } finally {
    await input.release();
  }
}
