import { dataFor, loadCommandModel, matrixOutput, writePlanned } from './apply.js';
import { help, type Run } from './common.js';
import { SCORE_OPTIONS } from './usage.js';

/** `score <model> <data>`: the mean per-sample score on stdout, a bare number. */
export async function runScore(argv: readonly string[], run: Run): Promise<number> {
  const input = await loadCommandModel('score', argv, SCORE_OPTIONS, run, 2, (o) => [
    ['--per-sample', o.perSample as string | undefined],
  ]);
  if (!input) return help(run.streams, 'score');
  const { o, model, plans } = input;
  try {
    const matrix = await dataFor(model, input.dataPath, input.read, o, run, input.modelPath);
    const values = await model.scoreSamples(matrix);
    let sum = 0;
    for (const v of values) sum += v;
    const plan = plans.get('--per-sample')!;
    await writePlanned(run, [[plan, () => matrixOutput(plan, values, values.length, 1, null)]]);
    if (plan?.mode !== 'stdout') run.streams.stdout(`${sum / values.length}\n`);
    return 0;
  } finally {
    model.dispose();
  }
}
