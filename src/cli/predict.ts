import { WebGpuEmError } from '../errors.js';
import { dataFor, loadCommandModel, matrixOutput, writePlanned } from './apply.js';
import { help, type Run } from './common.js';
import { PREDICT_OPTIONS } from './usage.js';

/** `predict <model> <data>`: each row's component (or cluster), or with --proba its probabilities. */
export async function runPredict(argv: readonly string[], run: Run): Promise<number> {
  const input = await loadCommandModel('predict', argv, PREDICT_OPTIONS, run, 2, (o) => [
    ['--out', (o.out as string | undefined) ?? '-'],
  ]);
  if (!input) return help(run.streams, 'predict');
  const { o, model, plans } = input;
  try {
    if (o.proba && !model.predictProba) {
      throw new WebGpuEmError(
        'usage',
        `--proba: a ${model.format} model has no probabilities (${model.description}); leave out --proba, or use a mixture model`,
      );
    }
    const matrix = await dataFor(model, input.dataPath, input.read, o, run, input.modelPath);
    const plan = plans.get('--out')!;
    if (o.proba) {
      const p = await model.predictProba!(matrix);
      const names = Array.from({ length: p.cols }, (_, k) => `p${k}`);
      await writePlanned(run, [[plan, () => matrixOutput(plan, p.data, p.rows, p.cols, names)]]);
    } else {
      const labels = await model.predict(matrix);
      await writePlanned(run, [[plan, () => matrixOutput(plan, labels, labels.length, 1, null)]]);
    }
    return 0;
  } finally {
    model.dispose();
  }
}
