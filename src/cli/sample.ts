import { WebGpuEmError } from '../errors.js';
import { loadCommandModel, matrixOutput, writePlanned } from './apply.js';
import { help, type Run } from './common.js';
import { SAMPLE_OPTIONS } from './usage.js';

/** Most values `sample` draws at once (n x D, held in float64): 2 GiB. */
const MAX_SAMPLE_VALUES = 2 ** 28;

/** `sample <model> -n N`: N rows drawn from a saved mixture. */
export async function runSample(argv: readonly string[], run: Run): Promise<number> {
  const input = await loadCommandModel('sample', argv, SAMPLE_OPTIONS, run, 1, (o) => [
    ['--out', (o.out as string | undefined) ?? '-'],
  ]);
  if (!input) return help(run.streams, 'sample');
  const { o, model, plans } = input;
  try {
    const n = o.n as number | undefined;
    if (n === undefined) throw new WebGpuEmError('usage', 'sample needs -n N, the number of rows to draw');
    if (!model.sample) {
      throw new WebGpuEmError(
        'usage',
        `a ${model.format} model (${model.description}) is not a distribution to sample from; use a mixture model (webgpu-em gmm --out)`,
      );
    }
    if (n * model.nFeatures > MAX_SAMPLE_VALUES) {
      throw new WebGpuEmError(
        'usage',
        `-n ${n} rows of ${model.nFeatures} features is over ${MAX_SAMPLE_VALUES} values; draw fewer rows per run (with different --seed values)`,
      );
    }
    const { x } = model.sample(n);
    const plan = plans.get('--out')!;
    await writePlanned(run, [[plan, () => matrixOutput(plan, x.data, x.rows, x.cols, model.featureNames)]]);
    return 0;
  } finally {
    model.dispose();
  }
}
