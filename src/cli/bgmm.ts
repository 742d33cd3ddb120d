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
import {
  commandInput,
  featureNames,
  fitOptions,
  help,
  modelJson,
  report,
  table,
  type Run,
} from './common.js';
import type { ParsedOptions } from './args.js';
import { Progress } from './progress.js';
import { BGMM_OPTIONS } from './usage.js';

/** Weight above which `bgmm` counts a component as used. */
const USED_WEIGHT = 0.01;

export async function runBgmm(argv: readonly string[], run: Run): Promise<number> {
  const { streams } = run;
  const input = await commandInput(
    'bgmm',
    argv,
    BGMM_OPTIONS,
    run,
    (o) => {
      numberList(o, 'meanPrior', '--mean-prior');
      numberList(o, 'covariancePrior', '--covariance-prior');
    },
    false,
  );
  if (!input) return help(streams, 'bgmm');
  const { o, columnNames } = input;
  const matrix = input.data as Matrix;
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
      // A spherical prior is one number; the others are lists (full and tied: D x D row-major).
      covariancePrior:
        covariancePrior && covarianceType === 'spherical' ? covariancePrior[0] : covariancePrior,
    }),
  });
  const progress = new Progress(run, o, 'bgmm', 'lower bound', model.options.maxIter, model.options.nInit);
  try {
    try {
      await model.fit(matrix, {
        signal: run.signal,
        sampleWeight: input.sampleWeight,
        onIteration: (r) => progress.update({ ...r, value: r.lowerBound }),
      });
    } finally {
      progress.end();
    }
    const weights = model.weights;
    const used = weights.filter((w) => w > USED_WEIGHT).length;
    const fields = {
      model: await modelJson(model, columnNames),
      converged: model.converged,
      nIter: model.nIter,
      lowerBound: model.lowerBound,
      componentsUsed: used,
    };
    const notConverged = !model.converged && model.options.tol !== 0;
    return await report(run, input, model, {
      fields,
      labels: model.labels,
      what: `components: at most ${k} (${covarianceType}, ${model.options.weightConcentrationPriorType})`,
      warning: notConverged
        ? `the variational fit did not converge in ${model.nIter} iterations; raise --max-iter, raise --tol or check the data`
        : null,
      body: (seconds) => [
        `converged: ${model.converged} after ${model.nIter} iterations, lower bound (ELBO, a total): ${model.lowerBound.toFixed(6)}`,
        `components with weight above ${USED_WEIGHT}: ${used} of ${k}`,
        `time: ${seconds.toFixed(3)} s`,
        '',
        table(
          ['component', 'weight', ...featureNames(columnNames, matrix.cols)],
          model.means.data,
          matrix.cols,
          weights,
        ),
      ],
    });
  } finally {
    model.dispose();
  }
}

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
