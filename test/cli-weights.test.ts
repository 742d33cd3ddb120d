import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';

const iris = new URL('../data/iris.csv', import.meta.url).pathname;

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

/** A 1-D float64 .npy file of `values`. */
function npy1d(values: number[]): Uint8Array {
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': (${values.length},), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + values.length * 8);
  out.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  const view = new DataView(out.buffer, 10 + header.length);
  values.forEach((v, i) => view.setFloat64(i * 8, v, true));
  return out;
}

describe('--weights', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webgpu-em-weights-'));
  const lines = readFileSync(iris, 'utf8').trim().split('\n');
  const rows = lines.slice(1);
  const weights = rows.map((_, r) => (r % 4 === 0 ? 0 : 1 + (r % 3)));
  const repeated = [lines[0], ...rows.flatMap((row, r) => Array<string>(weights[r]).fill(row))].join('\n');
  const repeatedCsv = join(dir, 'repeated.csv');
  writeFileSync(repeatedCsv, repeated + '\n');
  const weightsTxt = join(dir, 'w.txt');
  writeFileSync(weightsTxt, weights.join('\n') + '\n\n');
  const weightsNpy = join(dir, 'w.npy');
  writeFileSync(weightsNpy, npy1d(weights));

  it('gmm and kmeans: weights (text or 1-D .npy) fit as the repeated and dropped rows', async () => {
    const base = ['-k', '3', '--backend', 'cpu', '--json', '--tol', '0', '--max-iter', '20'];
    for (const command of ['gmm', 'kmeans']) {
      const a = JSON.parse((await cli(command, iris, ...base, '--weights', weightsTxt)).stdout);
      const b = JSON.parse((await cli(command, iris, ...base, '--weights', weightsNpy)).stdout);
      const c = JSON.parse((await cli(command, repeatedCsv, ...base)).stdout);
      const means = (r: { model: { means: number[][] } }) => r.model.means.flat();
      expect(means(a)).toEqual(means(b));
      means(a).forEach((v: number, i: number) => expect(v).toBeCloseTo(means(c)[i], 9));
    }
    const select = ['--k-range', '1..3', '--backend', 'cpu', '--json', '--max-iter', '10'];
    const s = JSON.parse((await cli('select', iris, ...select, '--weights', weightsTxt)).stdout);
    const t = JSON.parse((await cli('select', repeatedCsv, ...select)).stdout);
    s.scores.forEach((score: { bic: number }, i: number) =>
      expect(Math.abs(score.bic - t.scores[i].bic)).toBeLessThan(1e-8 * Math.abs(score.bic)),
    );
  });

  it('refuses bad weights with the file and the row', async () => {
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, weights.map((w, r) => (r === 7 ? -1 : w)).join('\n'));
    let r = await cli('gmm', iris, '-k', '2', '--backend', 'cpu', '--weights', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.txt: the weight of row 7 \(0-based\) is -1; weights must be >= 0/);
    writeFileSync(bad, weights.slice(1).join('\n'));
    r = await cli('kmeans', iris, '-k', '2', '--backend', 'cpu', '--weights', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/has 149 weights but .*iris\.csv has 150 rows/);
    writeFileSync(bad, '1\n2\nabc\n');
    r = await cli('gmm', iris, '-k', '2', '--backend', 'cpu', '--weights', bad);
    expect(r.stderr).toMatch(/line 3 is 'abc', not a finite number/);
    writeFileSync(bad, '1\nNaN\n');
    r = await cli('gmm', iris, '-k', '2', '--backend', 'cpu', '--weights', bad);
    expect(r.stderr).toMatch(/line 2 is 'NaN', not a finite number/);
    r = await cli('gmm', iris, '-k', '2', '--backend', 'cpu', '--weights', join(dir, 'missing.txt'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/missing\.txt/);
  });
});
