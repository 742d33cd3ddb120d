import { WebGpuEmError } from '../errors.js';
import { loadCommandModel, resultLimit, writePlanned } from './apply.js';
import { streamedOutput } from './stream-data.js';
import type { Run } from './common.js';
import type { ParsedArgs } from './args.js';

/** Most values one `sample` run draws (n x D; about 6 GB of CSV): more is several runs with other seeds. */
const MAX_SAMPLE_VALUES = 2 ** 28;

/** `sample <model> -n N`: N rows drawn from a saved mixture. */
export async function runSample(args: ParsedArgs, run: Run): Promise<number> {
  const input = await loadCommandModel('sample', args, run, 1, (o) => [
    ['--out', (o.out as string | undefined) ?? '-'],
  ]);
  const { o, model, plans } = input;
  try {
    const n = o.n as number | undefined;
    if (n === undefined) throw new WebGpuEmError('usage', 'sample needs -n N, the number of rows to draw');
    if (!model.sampleChunks) {
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
    const plan = plans.get('--out')!;
    // Drawn a bounded piece at a time as it is written: the same rows as one draw of n.
    const sample = model.sampleChunks;
    const chunkRows = Math.max(1, Math.floor(resultLimit.values / model.nFeatures));
    const contents = streamedOutput(
      plan,
      () => n,
      model.nFeatures,
      model.featureNames,
      async function* () {
        for (const { x } of sample(n, chunkRows)) yield x.data;
      },
    );
    await writePlanned(run, [[plan, () => contents]]);
    return 0;
  } finally {
    model.dispose();
  }
}
