import type { Matrix } from '../data/matrix.js';
import { countRows, dataFor, loadCommandModel, matrixOutput, perChunk, writePlanned } from './apply.js';
import { streamedOutput } from './stream-data.js';
import type { Run } from './common.js';
import type { ParsedArgs } from './args.js';

/**
 * `score <model> <data>`: the model's score on stdout, a bare number: the mean log-likelihood of
 * a mixture, minus the inertia (a sum) of k-means, as each model's `score(X)`.
 */
export async function runScore(args: ParsedArgs, run: Run): Promise<number> {
  const input = await loadCommandModel('score', args, run, 2, (o) => [
    ['--per-sample', o.perSample as string | undefined],
  ]);
  const { o, model, plans } = input;
  try {
    const data = await dataFor(model, input.dataPath, input.read, o, run, input.modelPath);
    const plan = plans.get('--per-sample')!;
    let sum = 0;
    let rows = 0;
    const scored = async (m: Matrix) => {
      const values = await model.scoreSamples(m);
      for (const v of values) sum += v;
      rows += values.length;
      return values;
    };
    try {
      if (data.streamed) {
        // One pass: the per-sample output (when asked) is written as the sum is taken.
        if (plan && plan.mode !== 'stdout' && plan.file.toLowerCase().endsWith('.npy')) await countRows(data);
        if (plan) {
          const contents = streamedOutput(
            plan,
            () => data.shape.rows,
            1,
            null,
            () => perChunk(data, scored),
          );
          await writePlanned(run, [[plan, () => contents]]);
        } else for await (const values of perChunk(data, scored)) void values;
      } else {
        const values = await scored(data.data as Matrix);
        await writePlanned(run, [[plan, () => matrixOutput(plan, values, values.length, 1, null)]]);
      }
    } finally {
      await data.release();
    }
    if (plan?.mode !== 'stdout') run.streams.stdout(`${model.scoreBy === 'sum' ? sum : sum / rows}\n`);
    return 0;
  } finally {
    model.dispose();
  }
}
