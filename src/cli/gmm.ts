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
import { GMM_OPTIONS } from './usage.js';

export async function runGmm(argv: readonly string[], run: Run): Promise<number> {
  const { streams } = run;
  const input = await commandInput('gmm', argv, GMM_OPTIONS, run);
  if (!input) return help(streams, 'gmm');
  const { o, dataPath, data, shape, columnNames } = input;
  try {
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
    const gmm = new GaussianMixture({
      nComponents: k,
      covarianceType,
      ...fitOptions(o),
      init,
    });
    const progress = new Progress(run, o, 'gmm', 'lower bound', gmm.options.maxIter, gmm.options.nInit);
    try {
      try {
        await gmm.fit(data, {
          signal: run.signal,
          sampleWeight: input.sampleWeight,
          onIteration: (r) => progress.update({ ...r, value: r.lowerBound }),
        });
      } finally {
        progress.end();
      }
      const fields = {
        model: await modelJson(gmm, columnNames),
        converged: gmm.converged,
        nIter: gmm.nIter,
        lowerBound: gmm.lowerBound,
      };
      const notConverged = !gmm.converged && gmm.options.tol !== 0;
      return await report(run, input, gmm, {
        fields,
        labels: input.streamed ? undefined : gmm.labels,
        what: `components: ${k} (${covarianceType})`,
        warning: notConverged
          ? `EM did not converge in ${gmm.nIter} iterations; raise --max-iter, raise --tol or check the data`
          : null,
        body: (seconds) => [
          `converged: ${gmm.converged} after ${gmm.nIter} iterations, lower bound (mean log-likelihood): ${gmm.lowerBound.toFixed(6)}`,
          `time: ${seconds.toFixed(3)} s`,
          '',
          table(
            ['component', 'weight', ...featureNames(columnNames, shape.cols)],
            gmm.means.data,
            shape.cols,
            gmm.weights,
          ),
        ],
      });
    } finally {
      gmm.dispose();
    }
  } finally {
    await input.release();
  }
}
