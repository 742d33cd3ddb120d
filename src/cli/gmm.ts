import { family } from '../core/families.js';
import { defaultOf } from '../core/option-schema.js';
import { WebGpuEmError } from '../errors.js';
import { GAUSSIAN_MIXTURE_SCHEMA, type GaussianMixtureOptions } from '../models/gaussian-mixture-options.js';
import { GaussianMixture } from '../models/gaussian-mixture.js';
import { initModel } from './common.js';
import type { FitCommand } from './fit.js';
import { schemaOptions } from './schema-flags.js';

/** `gmm <data> -k K`: a Gaussian mixture fitted with EM. */
export const GMM: FitCommand<GaussianMixture> = {
  name: 'gmm',
  streamable: true,
  objective: 'lower bound',
  async create(input, run) {
    const { o, dataPath, shape } = input;
    const given = schemaOptions(o, GAUSSIAN_MIXTURE_SCHEMA);
    let { nComponents: k, covarianceType, init } = given;
    if (input.initLabels) init = { labels: input.initLabels };
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
          family(covarianceType ?? defaultOf(GAUSSIAN_MIXTURE_SCHEMA, 'covarianceType')).fromFullMatrices(
            spec.covariances,
            k,
            spec.nFeatures,
          ),
      };
    }
    if (k === undefined)
      throw new WebGpuEmError('usage', 'gmm needs -k K (the number of components) or --init-model FILE');
    const options: GaussianMixtureOptions = { ...given, nComponents: k, covarianceType, init };
    const model = new GaussianMixture(options);
    return { model, what: `components: ${k} (${model.options.covarianceType})` };
  },
  fit: (gmm, data, { signal, sampleWeight, labels, progress }) =>
    gmm.fit(data, {
      signal,
      sampleWeight,
      labels,
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
