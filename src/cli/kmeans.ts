import { WebGpuEmError } from '../errors.js';
import { KMEANS_SCHEMA } from '../models/kmeans-options.js';
import { KMeans } from '../models/kmeans.js';
import { initModel } from './common.js';
import type { FitCommand } from './fit.js';
import { schemaOptions } from './schema-flags.js';

/** `kmeans <data> -k K`: k-means by Lloyd's algorithm. */
export const KMEANS: FitCommand<KMeans> = {
  name: 'kmeans',
  streamable: true,
  objective: 'inertia',
  async create(input, run) {
    const { o, dataPath, shape } = input;
    const spec = await initModel(o, dataPath, shape, run);
    const given = schemaOptions(o, KMEANS_SCHEMA);
    const k = spec ? spec.nComponents : given.nClusters;
    if (k === undefined)
      throw new WebGpuEmError('usage', 'kmeans needs -k K (the number of clusters) or --init-model FILE');
    const model = new KMeans({ ...given, nClusters: k, ...(spec ? { init: { means: spec.means } } : {}) });
    return { model, what: `clusters: ${k}` };
  },
  fit(km, data, { signal, sampleWeight, labels, progress }) {
    let previous = Infinity;
    return km.fit(data, {
      signal,
      sampleWeight,
      labels,
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
