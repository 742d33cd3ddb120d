import type { OptionSpec } from './args.js';
import {
  BGMM_OPTIONS,
  GMM_OPTIONS,
  INFO_OPTIONS,
  KMEANS_OPTIONS,
  MSTEP_OPTIONS,
  PREDICT_OPTIONS,
  SAMPLE_OPTIONS,
  SCORE_OPTIONS,
  SELECT_OPTIONS,
  STATS_OPTIONS,
} from './usage.js';

// Each command's own help: what it does, an example, and its flags (from its option table).

interface CommandHelp {
  readonly synopsis: string;
  readonly about: string;
  readonly example: string;
  readonly options: readonly OptionSpec[];
}

export const COMMAND_HELP: Record<string, CommandHelp> = {
  gmm: {
    synopsis: 'webgpu-em gmm <data> -k K [options]',
    about: 'Fits a Gaussian mixture with EM; --out saves the model for predict, score and sample.',
    example: 'webgpu-em gmm data.csv -k 3 --out model.json --labels labels.txt',
    options: GMM_OPTIONS,
  },
  bgmm: {
    synopsis: 'webgpu-em bgmm <data> -k KMAX [options]',
    about:
      "Fits a Bayesian Gaussian mixture by variational inference (scikit-learn's BayesianGaussianMixture):\n" +
      'at most KMAX components, those the data does not need left with weight near 0; --out saves the\n' +
      'posterior (webgpu-em/bgmm@1) for predict, score and sample.',
    example: 'webgpu-em bgmm data.csv -k 10 --weight-concentration-prior 0.01 --out model.json',
    options: BGMM_OPTIONS,
  },
  kmeans: {
    synopsis: 'webgpu-em kmeans <data> -k K [options]',
    about: "Fits k-means (Lloyd's algorithm); --out saves the centres for predict.",
    example: 'webgpu-em kmeans data.npy -k 8 --out centres.json',
    options: KMEANS_OPTIONS,
  },
  select: {
    synopsis: 'webgpu-em select <data> --k-range A..B [options]',
    about: 'Fits a mixture for each K (and covariance type) and keeps the best by BIC or AIC.',
    example: 'webgpu-em select data.csv --k-range 1..8 --covariance full,diag --out best.json',
    options: SELECT_OPTIONS,
  },
  predict: {
    synopsis: 'webgpu-em predict <model> <data> [--proba] [--out FILE]',
    about:
      'The most likely component (k-means: the nearest centre) of each row, one a line; --proba writes\n' +
      'each row\'s component probabilities as CSV. --out FILE.npy writes .npy. "-" is stdin/stdout.\n' +
      "When the model has column names and the data a header, the model's columns are picked by name.",
    example:
      'webgpu-em predict model.json new.csv --out labels.txt\n  cat new.csv | webgpu-em predict model.json - --proba > proba.csv',
    options: PREDICT_OPTIONS,
  },
  score: {
    synopsis: 'webgpu-em score <model> <data> [--per-sample FILE]',
    about:
      'Prints the mean log-likelihood of the rows under the model, a bare number (k-means: minus the\n' +
      'mean squared distance to the nearest centre); --per-sample FILE writes one value a row.',
    example: 'webgpu-em score model.json test.csv --per-sample loglik.csv',
    options: SCORE_OPTIONS,
  },
  sample: {
    synopsis: 'webgpu-em sample <model> -n N [--seed S] [--out FILE]',
    about: "Draws N rows from a saved mixture (seeded), as CSV with the model's column names, or .npy.",
    example: 'webgpu-em sample model.json -n 1000 --seed 7 --out synthetic.csv',
    options: SAMPLE_OPTIONS,
  },
  stats: {
    synopsis: 'webgpu-em stats <model> <shard> [--weights FILE] [--out FILE]',
    about:
      "One shard's E-step sums under the model's parameters (webgpu-em/stats@1 JSON, float64, with a\n" +
      'hash of the parameters): the worker side of EM over many machines; mstep merges them.',
    example: 'webgpu-em stats model.json shard-07.npy --out stats-07.json',
    options: STATS_OPTIONS,
  },
  mstep: {
    synopsis: 'webgpu-em mstep <stats files...> [--model FILE] [--out FILE]',
    about:
      'Merges the statistics of every shard (float64; all of one model, D and family) and takes the\n' +
      'M-step: the next model, saved as the fit commands save theirs, with the lower bound.',
    example: 'webgpu-em mstep stats-*.json --model model.json --out next.json',
    options: MSTEP_OPTIONS,
  },
  info: {
    synopsis: 'webgpu-em info [model] [--backend B] [--adapter NAME] [--json]',
    about:
      'Lists every WebGPU adapter Dawn sees and the sizes the chosen one supports; with a model\n' +
      'file, describes the model.',
    example: 'webgpu-em info\n  webgpu-em info model.json',
    options: INFO_OPTIONS,
  },
};

/** A command's help text. */
export function commandHelp(name: string): string {
  const h = COMMAND_HELP[name];
  const flags = h.options.map((o) => {
    const value = o.value
      ? ` ${o.choices ? o.choices.join('|') : o.value === 'string' ? 'VALUE' : o.value.toUpperCase()}`
      : '';
    return `  ${o.flags.join(', ')}${value}`;
  });
  return [
    `Usage: ${h.synopsis}`,
    '',
    h.about,
    '',
    'Example:',
    `  ${h.example}`,
    '',
    'Options (webgpu-em help describes each):',
    ...flags,
  ].join('\n');
}
