import { WebGpuEmError } from '../errors.js';
import type { Matrix } from '../data/matrix.js';
import {
  countRows,
  dataFor,
  loadCommandModel,
  matrixOutput,
  perChunk,
  rowsPerEvaluation,
  writePlanned,
} from './apply.js';
import { streamedOutput } from './stream-data.js';
import type { Run } from './common.js';
import type { ParsedArgs } from './args.js';

/** `predict <model> <data>`: each row's component (or cluster), or with --proba its probabilities. */
export async function runPredict(args: ParsedArgs, run: Run): Promise<number> {
  const input = await loadCommandModel('predict', args, run, 2, (o) => [
    ['--out', (o.out as string | undefined) ?? '-'],
  ]);
  const { o, model, plans } = input;
  try {
    if (o.proba && !model.predictProba) {
      throw new WebGpuEmError(
        'usage',
        `--proba: a ${model.format} model has no probabilities (${model.description}); leave out --proba, or use a mixture model`,
      );
    }
    const data = await dataFor(model, input.dataPath, input.read, o, run, input.modelPath);
    const plan = plans.get('--out')!;
    try {
      if (plan.mode !== 'stdout' && plan.file.toLowerCase().endsWith('.npy')) await countRows(data);
      const rows = () => data.shape.rows;
      const k = model.nComponents;
      let contents;
      if (o.proba) {
        // In memory too, N x K probabilities are computed a bounded piece at a time as they are written.
        const maxRows = rowsPerEvaluation(k, model.nFeatures, o);
        contents = streamedOutput(plan, rows, k, probaNames(k), () =>
          perChunk(data, async (m) => (await model.predictProba!(m)).data, maxRows),
        );
      } else if (data.streamed) {
        // Each chunk's labels written as they are computed.
        contents = streamedOutput(plan, rows, 1, null, () => perChunk(data, (m) => model.predict(m)));
      } else {
        const labels = await model.predict(data.data as Matrix);
        contents = matrixOutput(plan, labels, labels.length, 1, null);
      }
      await writePlanned(run, [[plan, () => contents]]);
    } finally {
      await data.release();
    }
    return 0;
  } finally {
    model.dispose();
  }
}

/** The header of --proba's CSV: p0, p1, ... */
function probaNames(k: number): string[] {
  return Array.from({ length: k }, (_, c) => `p${c}`);
}
