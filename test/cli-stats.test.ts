// The worker and driver halves of distributed EM on the command line: `stats` per shard, `mstep`
// over their statistics, against the single-process fit of the whole (CPU backend).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';

const iris = new URL('../data/iris.csv', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'webgpu-em-stats-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string) => join(dir, name);
const cpuJson = ['--backend', 'cpu', '--json', '--quiet'];

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

async function ok(...args: string[]) {
  const r = await cli(...args);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

const lines = readFileSync(iris, 'utf8').trim().split('\n');
// Three shards of unequal size, rows dealt out of order: the union is iris.
const shards = [0, 1, 2].map((s) => {
  const rows = lines.slice(1).filter((_, i) => i % 3 === s || (s === 2 && i % 7 === 0 && i % 3 !== 2));
  return rows;
});
// Rows dealt twice above are taken out of the shards they first landed in.
const seen = new Set<number>();
const shardFiles = shards.map((_, s) => {
  const rows: string[] = [];
  lines.slice(1).forEach((row, i) => {
    const owner = i % 7 === 0 ? 2 : i % 3;
    if (owner === s && !seen.has(i)) {
      seen.add(i);
      rows.push(row);
    }
  });
  const file = at(`shard-${s}.csv`);
  writeFileSync(file, [lines[0], ...rows].join('\n') + '\n');
  return file;
});

function close(a: number[], b: number[], tol: number) {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(b[i]))));
}

describe('stats and mstep', () => {
  it('every iris row is in exactly one shard', () => {
    expect(seen.size).toBe(150);
  });

  it.each(['full', 'diag'])(
    '%s: three shards merged and stepped equal three EM iterations over the whole',
    async (covariance) => {
      const init = at(`init-${covariance}.json`);
      await ok(
        'gmm',
        iris,
        '-k',
        '3',
        '--covariance',
        covariance,
        '--max-iter',
        '1',
        '--backend',
        'cpu',
        '--out',
        init,
        '--quiet',
      );
      let model = init;
      let lowerBound = NaN;
      for (let it = 0; it < 3; it++) {
        const parts = [];
        for (const [s, shard] of shardFiles.entries()) {
          parts.push(at(`s${s}-${covariance}-${it}.json`));
          await ok('stats', model, shard, '--backend', 'cpu', '--out', parts[s]);
        }
        const next = at(`m${it}-${covariance}.json`);
        await ok('mstep', ...parts, '--model', model, '--out', next);
        lowerBound = JSON.parse(readFileSync(next, 'utf8')).lowerBound;
        model = next;
      }
      const whole = JSON.parse(
        await ok(
          'gmm',
          iris,
          '--init-model',
          init,
          '--max-iter',
          '3',
          '--tol',
          '0',
          '--backend',
          'cpu',
          '--json',
        ),
      );
      const got = JSON.parse(readFileSync(model, 'utf8'));
      expect(Math.abs(lowerBound - whole.lowerBound)).toBeLessThan(1e-12 * Math.abs(whole.lowerBound));
      close(got.model.means.flat(), whole.model.means.flat(), 1e-12);
      close(got.model.weights, whole.model.weights, 1e-12);
      close(got.model.covariances.flat(2), whole.model.covariances.flat(2), 1e-10);
      // The model mstep writes is a model like any other: its columns carried over, it predicts.
      expect(got.model.columns).toEqual(lines[0].split(','));
      expect(got.model.covarianceType).toBe(covariance);
      const labels = (await ok('predict', model, iris)).trim().split('\n');
      expect(labels).toHaveLength(150);
    },
  );

  it('k-means: shards merged and stepped equal Lloyd over the whole', async () => {
    const init = at('km-init.json');
    await ok('kmeans', iris, '-k', '4', '--max-iter', '1', '--backend', 'cpu', '--out', init, '--quiet');
    const parts = [];
    for (const [s, shard] of shardFiles.entries()) {
      parts.push(at(`km-s${s}.json`));
      await ok('stats', init, shard, '--backend', 'cpu', '--out', parts[s]);
    }
    const step = JSON.parse(await ok('mstep', ...parts, '--model', init, '--json'));
    const whole = JSON.parse(
      await ok('kmeans', iris, '--init-model', init, '--max-iter', '1', '--tol', '0', ...cpuJson),
    );
    expect(step.model.format).toBe('webgpu-em/kmeans@1');
    // KMeans keeps its centres in float32 (the GPU's), mstep in float64: one float32 rounding apart.
    close(step.model.means.flat().map(Math.fround), whole.model.means.flat(), 1.2e-7);
    expect(step.nSamples).toBe(150);
    expect(step.shards).toBe(3);
  });

  it('weights travel with a shard: weight 2 equals the row twice', async () => {
    const init = at('init-full.json');
    const doubled = at('doubled.csv');
    const rows = readFileSync(shardFiles[0], 'utf8').trim().split('\n');
    writeFileSync(doubled, [...rows, ...rows.slice(1)].join('\n') + '\n');
    writeFileSync(
      at('w2.txt'),
      rows
        .slice(1)
        .map(() => '2')
        .join('\n') + '\n',
    );
    const a = JSON.parse(
      await ok('stats', init, shardFiles[0], '--weights', at('w2.txt'), '--backend', 'cpu'),
    );
    const b = JSON.parse(await ok('stats', init, doubled, '--backend', 'cpu'));
    expect(a.weightSum).toBe(b.weightSum);
    expect(a.rows * 2).toBe(b.rows);
    close(a.nk, b.nk, 1e-12);
    close(a.secondMoment, b.secondMoment, 1e-12);
  });

  it('mstep refuses statistics of other parameters, another family or another D, naming the file', async () => {
    await ok('stats', at('init-full.json'), shardFiles[0], '--backend', 'cpu', '--out', at('a.json'));
    await ok('stats', at('m0-full.json'), shardFiles[1], '--backend', 'cpu', '--out', at('b.json'));
    await ok('stats', at('init-diag.json'), shardFiles[1], '--backend', 'cpu', '--out', at('c.json'));
    // Three columns and no header: a model without column names, so widths are compared as they are.
    const three = at('three.csv');
    writeFileSync(
      three,
      lines
        .slice(1)
        .map((l) => l.split(',').slice(0, 3).join(','))
        .join('\n') + '\n',
    );
    await ok(
      'gmm',
      three,
      '-k',
      '3',
      '--max-iter',
      '1',
      '--backend',
      'cpu',
      '--out',
      at('d3.json'),
      '--quiet',
    );
    await ok('stats', at('d3.json'), three, '--backend', 'cpu', '--out', at('d.json'));
    writeFileSync(at('next.json'), 'earlier\n');
    const cases: Array<[string[], RegExp]> = [
      [[at('a.json'), at('b.json')], /b\.json: cannot merge statistics computed under different parameters/],
      [
        [at('a.json'), at('c.json')],
        /c\.json: cannot merge statistics of a 'full' mixture .* with statistics of a 'diag' mixture/,
      ],
      [
        [at('a.json'), at('d.json')],
        /d\.json: cannot merge statistics of .*D = 4 with statistics of .*D = 3/,
      ],
      [
        [at('b.json'), '--model', at('init-full.json')],
        /b\.json: the statistics were computed under parameters of hash [0-9a-f]{16}, not those of .*init-full\.json/,
      ],
      [
        [at('init-full.json')],
        /init-full\.json: statistics have format undefined, expected "webgpu-em\/stats@1"/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await cli('mstep', ...args, '--out', at('next.json'));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      // Nothing written over the earlier file.
      expect(readFileSync(at('next.json'), 'utf8')).toBe('earlier\n');
    }
    const none = await cli('mstep');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/mstep needs one or more statistics files/);
  });

  it('stats refuses a shard of another width and names a bad row', async () => {
    const wide = await cli('stats', at('init-full.json'), at('three.csv'), '--backend', 'cpu');
    expect(wide.code).toBe(1);
    expect(wide.stderr).toMatch(/three\.csv has 3 columns but the model .*init-full\.json has 4 features/);
    writeFileSync(at('bad.csv'), [lines[0], lines[1], '5.0,3.1,oops,0.2'].join('\n') + '\n');
    const bad = await cli('stats', at('init-full.json'), at('bad.csv'), '--backend', 'cpu');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bad\.csv.*line 3/);
  });

  it('help lists both commands and their options', async () => {
    expect(await ok('stats', '--help')).toMatch(/--weights VALUE[\s\S]*--out VALUE/);
    expect(await ok('mstep', '--help')).toMatch(/--model VALUE[\s\S]*--reg-covar NUMBER/);
    expect(await ok('help')).toMatch(/stats <model> <shard>[\s\S]*mstep <stats\.\.\.>/);
  });
});
