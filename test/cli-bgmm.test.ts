import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { BGMM_CASES, maxDiff } from './helpers/bgmm-fixtures.js';

const iris = new URL('../data/iris.csv', import.meta.url).pathname;

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe('webgpu-em bgmm', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webgpu-em-bgmm-'));
  const sk = BGMM_CASES.find((c) => c.data === 'iris' && c.nComponents === 8)!;
  const labels = join(dir, 'labels.txt');
  writeFileSync(labels, sk.labels.join('\n') + '\n');

  it("--init-labels gives scikit-learn's fit from the same labels; the model predicts, scores, samples", async () => {
    const model = join(dir, 'model.json');
    const r = await cli(
      'bgmm',
      iris,
      '-k',
      '8',
      '--init-labels',
      labels,
      '--backend',
      'cpu',
      '--json',
      '--out',
      model,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = JSON.parse(readFileSync(model, 'utf8')) as {
      model: { format: string; weights: number[] };
      lowerBound: number;
      nIter: number;
      componentsUsed: number;
    };
    expect(result.model.format).toBe('webgpu-em/bgmm@1');
    expect(result.nIter).toBe(sk.nIter);
    expect(Math.abs(result.lowerBound - sk.lowerBound)).toBeLessThan(1e-9 * Math.abs(sk.lowerBound));
    expect(maxDiff(result.model.weights, sk.weights)).toBeLessThan(1e-9);
    expect(result.componentsUsed).toBe(sk.weights.filter((w) => w > 0.01).length);
    const predicted = await cli('predict', model, iris, '--backend', 'cpu');
    expect(predicted.code).toBe(0);
    expect(predicted.stdout.trim().split('\n').map(Number)).toEqual(sk.predict);
    const score = await cli('score', model, iris, '--backend', 'cpu');
    expect(Number.isFinite(Number(score.stdout))).toBe(true);
    const info = await cli('info', model);
    expect(info.stdout).toMatch(/Bayesian Gaussian mixture \(dirichlet_process\), 8 components at most/);
    const sample = await cli('sample', model, '-n', '4');
    expect(sample.stdout.trim().split('\n')).toHaveLength(5);
  });

  it('flags from the option names reach the model', async () => {
    const r = await cli(
      'bgmm',
      iris,
      '-k',
      '4',
      '--covariance',
      'diag',
      '--backend',
      'cpu',
      '--json',
      '--weight-concentration-prior-type',
      'dirichlet_distribution',
      '--weight-concentration-prior',
      '0.5',
      '--mean-precision-prior',
      '2',
      '--mean-prior',
      '5,3,3.7,1.2',
      '--degrees-of-freedom-prior',
      '6',
      '--covariance-prior',
      '0.5,0.2,3,0.5',
    );
    expect(r.code).toBe(0);
    const m = (JSON.parse(r.stdout) as { model: Record<string, unknown> }).model;
    expect(m.weightConcentrationPriorType).toBe('dirichlet_distribution');
    expect(m.priors).toEqual({
      weightConcentrationPrior: 0.5,
      meanPrecisionPrior: 2,
      meanPrior: [5, 3, 3.7, 1.2],
      degreesOfFreedomPrior: 6,
      covariancePrior: [0.5, 0.2, 3, 0.5],
    });
    expect((m.weightConcentration as number[]).length).toBe(4);
  });

  it('bad input is one clear line', async () => {
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, '0\n1\n');
    const cases: Array<[string[], RegExp]> = [
      [['-k', '3', '--init-labels', bad], /has 2 labels but .* has 150 rows; give one label per row/],
      [
        ['-k', '3', '--init-labels', labels],
        /initial label \d+ is [3-7]; labels must be integers from 0 to K - 1 = 2/,
      ],
      [['-k', '3', '--init', 'random', '--init-labels', labels], /--init and --init-labels contradict/],
      [['-k', '3', '--mean-prior', '1,x'], /--mean-prior takes comma-separated finite numbers/],
      [
        ['-k', '3', '--degrees-of-freedom-prior', '2'],
        /degreesOfFreedomPrior must be greater than D - 1 = 3/,
      ],
      [['-k', '3', '--weight-concentration-prior-type', 'dp'], /--weight-concentration-prior-type/],
      [[], /bgmm needs -k KMAX/],
    ];
    for (const [args, message] of cases) {
      const r = await cli('bgmm', iris, '--backend', 'cpu', ...args);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('gmm --init-labels starts EM from the labels (one iteration of EM from them)', async () => {
    const three = join(dir, 'three.txt');
    const c = BGMM_CASES.find((x) => x.data === 'iris' && x.nComponents === 3)!;
    writeFileSync(three, c.labels.join('\n'));
    const a = await cli('gmm', iris, '-k', '3', '--init-labels', three, '--backend', 'cpu', '--json');
    const b = await cli(
      'gmm',
      iris,
      '-k',
      '3',
      '--init-labels',
      three,
      '--backend',
      'cpu',
      '--json',
      '--seed',
      '9',
    );
    expect(a.code).toBe(0);
    // The labels fix the start: the seed changes nothing.
    expect(JSON.parse(a.stdout).lowerBound).toBe(JSON.parse(b.stdout).lowerBound);
  });
});
