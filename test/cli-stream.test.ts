/**
 * The command line on streamed data (CPU backend): --stream, and a file larger than
 * --max-gpu-memory, give the results of the same data read whole, and per-row outputs written
 * chunk by chunk equal those written at once. The float64 CPU backend sums each chunk in float64
 * and merges in float64, so the two differ by the order of additions only (1e-12 asserted).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { makeBlobs } from '../src/data/synthetic.js';
import { encodeNpy } from '../src/io/npy.js';

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'webgpu-em-cli-stream-'));
const x = makeBlobs({ n: 3000, d: 3, k: 3, seed: 8, offset: 5 });
const npy = join(dir, 'x.npy');
writeFileSync(npy, encodeNpy(x.data, x.rows, x.cols));
const csv = join(dir, 'x.csv');
writeFileSync(
  csv,
  [
    'u,v,w',
    ...Array.from({ length: x.rows }, (_, r) => Array.from(x.data.slice(r * 3, r * 3 + 3)).join(',')),
  ].join('\n') + '\n',
);
const base = ['--backend', 'cpu', '--json', '--quiet'];

describe('streamed data on the command line', () => {
  for (const [name, file] of [
    ['.npy', npy],
    ['CSV', csv],
  ]) {
    for (const command of ['gmm', 'kmeans']) {
      it(`${command} of a ${name} file: --stream and a small --max-gpu-memory give the whole read's fit`, async () => {
        const whole = await cli(
          command,
          file,
          '-k',
          '3',
          ...base,
          '--labels',
          join(dir, `${command}-l0.txt`),
        );
        expect(whole.code).toBe(0);
        const streamed = await cli(
          command,
          file,
          '-k',
          '3',
          ...base,
          '--stream',
          '--labels',
          join(dir, `${command}-l1.txt`),
        );
        const budget = await cli(
          command,
          file,
          '-k',
          '3',
          ...base,
          '--max-gpu-memory',
          '64K',
          '--labels',
          join(dir, `${command}-l2.npy`),
        );
        for (const r of [streamed, budget]) {
          expect(r.code).toBe(0);
          const a = JSON.parse(whole.stdout);
          const b = JSON.parse(r.stdout);
          expect(b.nSamples).toBe(3000);
          expect(b.nIter).toBe(a.nIter);
          b.model.means
            .flat()
            .forEach((v: number, i: number) => expect(v).toBeCloseTo(a.model.means.flat()[i], 10));
          if (name === 'CSV') expect(b.model.columns).toEqual(['u', 'v', 'w']);
        }
        const l0 = readFileSync(join(dir, `${command}-l0.txt`), 'utf8');
        expect(readFileSync(join(dir, `${command}-l1.txt`), 'utf8')).toBe(l0);
        // The .npy labels: a header with the row count, then int32 labels.
        const l2 = readFileSync(join(dir, `${command}-l2.npy`));
        expect(l2.subarray(0, 128).toString('latin1')).toContain("'shape': (3000, 1)");
        const labels = new Int32Array(
          l2.buffer.slice(l2.byteOffset + l2.length - 3000 * 4, l2.byteOffset + l2.length),
        );
        expect(Array.from(labels).join('\n') + '\n').toBe(l0);
      });
    }
  }

  it('predict and score stream a file as they read it whole', async () => {
    const model = join(dir, 'model.json');
    expect((await cli('gmm', csv, '-k', '3', '--backend', 'cpu', '--quiet', '--out', model)).code).toBe(0);
    for (const args of [[], ['--proba']]) {
      const whole = await cli('predict', model, csv, '--backend', 'cpu', ...args);
      const streamed = await cli('predict', model, csv, '--backend', 'cpu', '--stream', ...args);
      expect(streamed.code).toBe(0);
      expect(streamed.stdout).toBe(whole.stdout);
    }
    const whole = await cli('score', model, npy, '--backend', 'cpu', '--no-header');
    const perSample = join(dir, 'll.npy');
    const streamed = await cli(
      'score',
      model,
      csv,
      '--backend',
      'cpu',
      '--stream',
      '--per-sample',
      perSample,
    );
    expect(Number(streamed.stdout)).toBeCloseTo(Number(whole.stdout), 10);
    const wholeLl = join(dir, 'll0.npy');
    await cli('score', model, csv, '--backend', 'cpu', '--per-sample', wholeLl);
    expect(readFileSync(perSample)).toEqual(readFileSync(wholeLl));
  });

  it('--stream with select is refused, and a bad --max-gpu-memory', async () => {
    const r = await cli('select', csv, '--k-range', '1..2', '--backend', 'cpu', '--stream');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--stream: this command reads its data in memory/);
    const m = await cli('gmm', csv, '-k', '2', '--backend', 'cpu', '--max-gpu-memory', '12');
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/--max-gpu-memory needs a size of at least 64K/);
  });

  it('--weights go with a stream', async () => {
    const weights = join(dir, 'w.txt');
    writeFileSync(
      weights,
      Array.from({ length: 3000 }, (_, r) => (r % 7 === 0 ? 0 : 1 + (r % 2))).join('\n'),
    );
    const a = JSON.parse((await cli('gmm', npy, '-k', '3', ...base, '--weights', weights)).stdout);
    const b = JSON.parse(
      (await cli('gmm', npy, '-k', '3', ...base, '--weights', weights, '--stream')).stdout,
    );
    b.model.means
      .flat()
      .forEach((v: number, i: number) => expect(v).toBeCloseTo(a.model.means.flat()[i], 10));
    writeFileSync(weights, '1\n2\n');
    const c = await cli('gmm', npy, '-k', '3', ...base, '--weights', weights, '--stream');
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/has 2 weights but .* rows; give one weight per row/);
  });
});
