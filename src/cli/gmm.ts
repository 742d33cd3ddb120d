import { family } from '../core/families.js';
import {
  DEFAULT_COVARIANCE_TYPE,
  GMM_INIT_METHODS,
  type CovarianceType,
  type InitMethod,
} from '../core/names.js';
import { WebGpuEmError } from '../errors.js';
import { GaussianMixture } from '../models/gaussian-mixture.js';
import type { InitialModel } from '../models/init.js';
import type { InitialLabels } from '../models/init-labels.js';
import { fitOptions, initModel } from './common.js';
import type { FitCommand } from './fit.js';

/** `gmm <data> -k K`: a Gaussian mixture fitted with EM. */
export const GMM: FitCommand<GaussianMixture> = {
  name: 'gmm',
  streamable: true,
  objective: 'lower bound',
  async create(input, run) {
    const { o, dataPath, shape } = input;
    let init: InitMethod | InitialModel | InitialLabels = input.initLabels
      ? { labels: input.initLabels }
      : ((o.init as InitMethod | undefined) ?? GMM_INIT_METHODS[0]);
    let k = o.k as number | undefined;
    let covarianceType = o.covariance as CovarianceType | undefined;
    const spec = await initModel(o, dataPath, shape, run);
    if (spec) {
      if (spec.covariances && spec.covarianceType) {
        if (covarianceType && covarianceType !== spec.covarianceType) {
          throw new WebGpuEmError(
            'usage',
            `--covariance ${covarianceType} contradicts ${o.initModel}, which has '${spec.covarianceType}' covariances; drop --covariance or use another model`,
          );
        }
        covarianceType = spec.covarianceType;
      }
      k = spec.nComponents;
      init = {
        means: spec.means,
        weights: spec.weights,
        covariances:
          spec.covariances &&
          family(covarianceType ?? DEFAULT_COVARIANCE_TYPE).fromFullMatrices(
            spec.covariances,
            k,
            spec.nFeatures,
          ),
      };
    }
    if (k === undefined)
      throw new WebGpuEmError('usage', 'gmm needs -k K (the number of components) or --init-model FILE');
    covarianceType ??= DEFAULT_COVARIANCE_TYPE;
    const model = new GaussianMixture({ nComponents: k, covarianceType, ...fitOptions(o), init });
    return { model, what: `components: ${k} (${covarianceType})` };
  },
  fit: (gmm, data, { signal, sampleWeight, progress }) =>
    gmm.fit(data, {
      signal,
      sampleWeight,
      onIteration: (r) => progress({ ...r, value: r.lowerBound }),
    }),
  report: (gmm) => ({
    fields: { converged: gmm.converged, nIter: gmm.nIter, lowerBound: gmm.lowerBound },
    warning:
      !gmm.converged && gmm.options.tol !== 0
        ? `EM did not converge in ${gmm.nIter} iterations; raise --max-iter, raise --tol or check the data`
        : null,
    lines: [
      `converged: ${gmm.converged} after ${gmm.nIter} iterations, lower bound (mean log-likelihood): ${gmm.lowerBound.toFixed(6)}`,
    ],
    rows: { name: 'component', means: gmm.means.data, weights: gmm.weights },
  }),
};
