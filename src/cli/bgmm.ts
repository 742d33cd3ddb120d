import type { Matrix } from '../data/matrix.js';
import { WebGpuEmError } from '../errors.js';
import { BAYESIAN_MIXTURE_SCHEMA } from '../models/bayesian-mixture-options.js';
import { BayesianGaussianMixture } from '../models/bayesian-mixture.js';
import type { FitCommand } from './fit.js';
import { schemaOptions } from './schema-flags.js';

/** Weight above which `bgmm` counts a component as used. */
const USED_WEIGHT = 0.01;

/** `bgmm <data> -k KMAX`: a Bayesian Gaussian mixture by variational inference, in memory. */
export const BGMM: FitCommand<BayesianGaussianMixture> = {
  name: 'bgmm',
  streamable: false,
  objective: 'lower bound',
  async create(input) {
    const { o } = input;
    const given = schemaOptions(o, BAYESIAN_MIXTURE_SCHEMA);
    if (given.nComponents === undefined)
      throw new WebGpuEmError('usage', 'bgmm needs -k KMAX (the most components)');
    // The variational fit does not stream, so it takes no device-memory budget.
    if (o.maxGpuMemory !== undefined)
      throw new WebGpuEmError('usage', '--max-gpu-memory: bgmm reads its data in memory; leave it out');
    const model = new BayesianGaussianMixture({
      ...given,
      nComponents: given.nComponents,
      ...(input.initLabels ? { init: { labels: input.initLabels } } : {}),
    });
    const { nComponents: k, covarianceType, weightConcentrationPriorType } = model.options;
    const what = `components: at most ${k} (${covarianceType}, ${weightConcentrationPriorType})`;
    return { model, what };
  },
  fit: (model, data, { signal, sampleWeight, labels, progress }) =>
    model.fit(data as Matrix, {
      signal,
      sampleWeight,
      labels,
      onIteration: (r) => progress({ ...r, value: r.lowerBound }),
    }),
  report(model) {
    const weights = model.weights;
    const used = weights.filter((w) => w > USED_WEIGHT).length;
    return {
      fields: {
        converged: model.converged,
        nIter: model.nIter,
        lowerBound: model.lowerBound,
        componentsUsed: used,
      },
      warning:
        !model.converged && model.options.tol !== 0
          ? `the variational fit did not converge in ${model.nIter} iterations; raise --max-iter, raise --tol or check the data`
          : null,
      lines: [
        `converged: ${model.converged} after ${model.nIter} iterations, lower bound (ELBO, a total): ${model.lowerBound.toFixed(6)}`,
        `components with weight above ${USED_WEIGHT}: ${used} of ${model.options.nComponents}`,
      ],
      rows: { name: 'component', means: model.means.data, weights },
    };
  },
};
