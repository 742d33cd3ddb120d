import { KMEANS_INIT_METHODS, type KMeansInit } from '../core/names.js';
import { WebGpuEmError } from '../errors.js';
import { KMeans } from '../models/kmeans.js';
import { fitOptions, initModel } from './common.js';
import type { FitCommand } from './fit.js';

/** `kmeans <data> -k K`: k-means by Lloyd's algorithm. */
export const KMEANS: FitCommand<KMeans> = {
  name: 'kmeans',
  streamable: true,
  objective: 'inertia',
  async create(input, run) {
    const { o, dataPath, shape } = input;
    const spec = await initModel(o, dataPath, shape, run);
    const k = spec ? spec.nComponents : (o.k as number | undefined);
    if (k === undefined)
      throw new WebGpuEmError('usage', 'kmeans needs -k K (the number of clusters) or --init-model FILE');
    const model = new KMeans({
      nClusters: k,
      init: spec ? { means: spec.means } : ((o.init as KMeansInit | undefined) ?? KMEANS_INIT_METHODS[0]),
      ...fitOptions(o),
    });
    return { model, what: `clusters: ${k}` };
  },
  fit(km, data, { signal, sampleWeight, progress }) {
    let previous = Infinity;
    return km.fit(data, {
      signal,
      sampleWeight,
      onIteration: (r) => {
        progress({ ...r, value: r.inertia, change: r.iteration === 1 ? Infinity : r.inertia - previous });
        previous = r.inertia;
      },
    });
  },
  report: (km) => ({
    fields: { inertia: km.inertia, nIter: km.nIter, converged: km.converged },
    warning: km.converged
      ? null
      : `k-means did not converge in ${km.nIter} iterations; raise --max-iter or --tol`,
    lines: [`converged: ${km.converged} after ${km.nIter} iterations, inertia: ${km.inertia.toPrecision(8)}`],
    rows: { name: 'cluster', means: km.clusterCenters.data, weights: null },
  }),
};
