import type { Matrix } from '../data/matrix.js';
import {
  DEFAULT_COVARIANCE_TYPE,
  GMM_INIT_METHODS,
  type CovarianceType,
  type InitMethod,
} from '../core/names.js';
import { WebGpuEmError } from '../errors.js';
import { BayesianGaussianMixture } from '../models/bayesian-mixture.js';
import type { WeightConcentrationPriorType } from '../models/variational.js';
import { fitOptions } from './common.js';
import type { ParsedOptions } from './args.js';
import type { FitCommand } from './fit.js';

/** Weight above which `bgmm` counts a component as used. */
const USED_WEIGHT = 0.01;

/** `bgmm <data> -k KMAX`: a Bayesian Gaussian mixture by variational inference, in memory. */
export const BGMM: FitCommand<BayesianGaussianMixture> = {
  name: 'bgmm',
  streamable: false,
  objective: 'lower bound',
  check(o) {
    numberList(o, 'meanPrior', '--mean-prior');
    numberList(o, 'covariancePrior', '--covariance-prior');
  },
  async create(input) {
    const { o } = input;
    const k = o.k as number | undefined;
    if (k === undefined) throw new WebGpuEmError('usage', 'bgmm needs -k KMAX (the most components)');
    if (o.maxGpuMemory !== undefined)
      throw new WebGpuEmError('usage', '--max-gpu-memory: bgmm reads its data in memory; leave it out');
    // The variational fit does not stream, so it takes no device-memory budget.
    const { maxGpuBytes: _inMemory, ...fit } = fitOptions(o);
    const covarianceType = (o.covariance as CovarianceType | undefined) ?? DEFAULT_COVARIANCE_TYPE;
    const covariancePrior = numberList(o, 'covariancePrior', '--covariance-prior');
    const meanPrior = numberList(o, 'meanPrior', '--mean-prior');
    const model = new BayesianGaussianMixture({
      nComponents: k,
      covarianceType,
      ...fit,
      init: input.initLabels
        ? { labels: input.initLabels }
        : ((o.init as InitMethod | undefined) ?? GMM_INIT_METHODS[0]),
      ...defined({
        weightConcentrationPriorType: o.weightConcentrationPriorType as
          WeightConcentrationPriorType | undefined,
        weightConcentrationPrior: o.weightConcentrationPrior as number | undefined,
        meanPrecisionPrior: o.meanPrecisionPrior as number | undefined,
        degreesOfFreedomPrior: o.degreesOfFreedomPrior as number | undefined,
        meanPrior,
        // The prior's values in scikit-learn's shape, flat (full and tied: D x D row-major).
        covariancePrior,
      }),
    });
    const what = `components: at most ${k} (${covarianceType}, ${model.options.weightConcentrationPriorType})`;
    return { model, what };
  },
  fit: (model, data, { signal, sampleWeight, progress }) =>
    model.fit(data as Matrix, {
      signal,
      sampleWeight,
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

/** A comma-separated list of finite numbers, or undefined when the option is absent. */
function numberList(o: ParsedOptions, name: string, flag: string): number[] | undefined {
  const text = o[name] as string | undefined;
  if (text === undefined) return undefined;
  const values = text.split(',').map((cell) => Number(cell.trim()));
  if (values.some((v, i) => !Number.isFinite(v) || text.split(',')[i].trim() === '')) {
    throw new WebGpuEmError(
      'usage',
      `${flag} takes comma-separated finite numbers, got '${text.slice(0, 60)}'`,
    );
  }
  return values;
}

/** The entries whose value is defined (the model's defaults apply to the others). */
function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
