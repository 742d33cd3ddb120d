// `--dims` reads raw float32 only (a .npy or text file given with it is refused, on every command
// that reads data, whole and streamed), and shards of weight 0 add nothing to distributed EM; run
// as a shell runs them: the built bin/webgpu-em.js, on the CPU backend.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeBlobs } from '../src/data/synthetic.js';
import { nonRawFormat } from '../src/io/raw-float32.js';
import { parseCsv } from '../src/io/csv.js';
import { encodeNpy } from '../src/io/npy.js';
import { GaussianMixture, StatisticsShard } from '../src/index.js';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'bin/webgpu-em.js');
const iris = join(root, 'data/iris.csv');
const work = mkdtempSync(join(tmpdir(), 'webgpu-em-dims-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const at = (name: string) => join(work, name);

/** Runs a shell script in the work folder with $CLI set to the command; a hang is a failure. */
function sh(script: string) {
  const r = spawnSync('bash', ['-c', `set -o pipefail\n${script}`], {
    cwd: work,
    env: { ...process.env, CLI: `"${process.execPath}" "${bin}"` },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(script: string): string {
  const r = sh(script);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

const irisText = readFileSync(iris, 'utf8');
const irisMatrix = parseCsv(irisText).matrix;
// The same rows in each format; the text padded with blank lines to a whole number of 16-byte
// rows, so that read as raw float32 it would parse (and fit garbage).
const padded = (text: string) => text + '\n'.repeat((16 - (text.length % 16)) % 16);
writeFileSync(at('iris.npy'), encodeNpy(irisMatrix.data, irisMatrix.rows, 4));
writeFileSync(at('iris.csv'), padded(irisText));
writeFileSync(at('iris-table'), padded(irisText)); // text with no extension: told by its content
writeFileSync(at('iris.f32'), new Uint8Array(irisMatrix.data.buffer));
writeFileSync(at('iris.bin'), new Uint8Array(irisMatrix.data.buffer));
ok('eval $CLI gmm iris.csv -k 3 --backend cpu --max-iter 5 --out model.json --quiet');
ok('eval $CLI kmeans iris.csv -k 3 --backend cpu --max-iter 5 --out centres.json --quiet');

describe('--dims reads raw float32 only', () => {
  const notRaw = [
    ['iris.npy', /a \.npy file \(it starts with the \.npy magic string\)/],
    ['iris.csv', /a text file \(by its name, \.csv\)/],
    ['iris-table', /delimited text \(CSV\)/],
  ] as const;
  const commands = [
    ['gmm', 'eval $CLI gmm FILE -k 3'],
    ['kmeans', 'eval $CLI kmeans FILE -k 3'],
    ['bgmm', 'eval $CLI bgmm FILE -k 3'],
    ['predict', 'eval $CLI predict model.json FILE'],
    ['score', 'eval $CLI score model.json FILE'],
    ['stats', 'eval $CLI stats model.json FILE'],
    ['select', 'eval $CLI select FILE --k-range 1..2'],
  ] as const;
  for (const [command, script] of commands) {
    for (const stream of ['stats', 'select', 'bgmm'].includes(command) ? [''] : ['', ' --stream']) {
      it.each(notRaw)(
        `${command}${stream} of %s with --dims: a usage error naming the file and what it is`,
        (file, what) => {
          const r = sh(`${script.replace('FILE', file)} --dims 4 --backend cpu${stream}`);
          expect(r.code).toBe(2);
          expect(r.stdout).toBe('');
          expect(r.stderr).toMatch(
            new RegExp(`^webgpu-em: error: ${file}: --dims 4 reads raw little-endian float32, but this is `),
          );
          expect(r.stderr).toMatch(what);
          expect(r.stderr).toMatch(/drop --dims/);
          expect(r.stderr.trim().split('\n')).toHaveLength(1);
        },
      );
    }
  }

  it.each(['', ' --stream'])('standard input%s: .npy and CSV told by their content', (stream) => {
    for (const [file, what] of [
      ['iris.npy', /a \.npy file/],
      ['iris.csv', /delimited text \(CSV\)/],
    ] as const) {
      const r = sh(`cat ${file} | eval $CLI kmeans - -k 3 --dims 4 --backend cpu${stream}`);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^webgpu-em: error: standard input: --dims 4 reads raw little-endian float32/);
      expect(r.stderr).toMatch(what);
    }
  });

  it.each(['iris.f32', 'iris.bin'])(
    'raw float32 (%s) is read as before, whole, streamed and piped',
    (file) => {
      const want = JSON.parse(ok('eval $CLI kmeans iris.csv -k 3 --seed 2 --backend cpu --json --quiet'));
      for (const how of [`${file}`, `${file} --stream`, `- < ${file}`]) {
        const got = JSON.parse(
          ok(`eval $CLI kmeans ${how} --dims 4 -k 3 --seed 2 --backend cpu --json --quiet`),
        );
        expect(got.model.means).toEqual(want.model.means);
      }
      expect(ok(`eval $CLI score model.json ${file} --dims 4 --backend cpu`)).toBe(
        ok('eval $CLI score model.json iris.csv --backend cpu'),
      );
    },
  );

  it.each(['', ' --stream'])('raw float32 of a size not a whole number of rows is refused%s', (stream) => {
    writeFileSync(at('short.f32'), new Uint8Array(irisMatrix.data.buffer).subarray(0, 2397));
    const r = sh(`eval $CLI gmm short.f32 -k 3 --dims 4 --backend cpu${stream}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^webgpu-em: error: short\.f32: 2397 bytes is not a whole number of rows of 4 float32 values \(16 bytes each\); check --dims/,
    );
  });

  it.each(['', ' --stream'])('raw NaN and Infinity are refused naming the row and column%s', (stream) => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const x = Float32Array.from(irisMatrix.data);
      x[7 * 4 + 2] = bad;
      writeFileSync(at('bad.f32'), new Uint8Array(x.buffer));
      const r = sh(`eval $CLI kmeans bad.f32 -k 3 --dims 4 --backend cpu${stream}`);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(
          `^webgpu-em: error: bad\\.f32: non-finite value ${bad} at row 7( \\(0-based\\))?, column 2 \\(0-based\\)`,
        ),
      );
    }
  });

  it('float32 data of any scale is never taken for text; text tables always are', () => {
    const blobs = makeBlobs({ n: 4000, d: 5, k: 4, seed: 3, offset: 0 });
    for (const scale of [1e-30, 1e-6, 1, 7.5, 1e3, 1e12, 1e30]) {
      const x = Float32Array.from(blobs.data, (v) => v * scale);
      for (let start = 0; start < x.length; start += 997) {
        const bytes = new Uint8Array(x.buffer, start * 4, Math.min(1024, x.length - start) * 4);
        expect(nonRawFormat('x.bin', bytes)).toBeNull();
      }
    }
    // Small integers (0 to 255) as float32: 0x00 bytes in every value.
    expect(
      nonRawFormat('x.raw', new Uint8Array(Float32Array.from({ length: 64 }, (_, i) => i).buffer)),
    ).toBeNull();
    const enc = new TextEncoder();
    for (const text of ['1,2,3\n4,5,6\n', 'a;b\r\n1;2\r\n', 'é\tü\n1\t2\n', '5.1 3.5\n']) {
      expect(nonRawFormat('data', enc.encode(text))).toBe('delimited text (CSV)');
    }
  });
});

describe('shards whose weights are all 0 add nothing', () => {
  // Three shards of iris (50 rows each); shard 1's weights all 0.
  const lines = irisText.trim().split('\n');
  for (let s = 0; s < 3; s++) {
    writeFileSync(
      at(`shard-${s}.csv`),
      [lines[0], ...lines.slice(1 + 50 * s, 51 + 50 * s)].join('\n') + '\n',
    );
    writeFileSync(at(`w-${s}.txt`), (s === 1 ? '0\n' : '1\n').repeat(50));
  }
  writeFileSync(at('w-zero.txt'), '0\n'.repeat(50));

  it.each(['model.json', 'centres.json'])(
    'stats of a weight-0 shard under %s: zero sums, and the merge equals the merge without it',
    (model) => {
      for (let s = 0; s < 3; s++)
        ok(`eval $CLI stats ${model} shard-${s}.csv --weights w-${s}.txt --backend cpu --out s-${s}.json`);
      const zero = JSON.parse(readFileSync(at('s-1.json'), 'utf8'));
      expect(zero.rows).toBe(50);
      expect(zero.weightSum).toBe(0);
      for (const key of ['nk', 'counts', 'firstMoment', 'secondMoment'])
        if (key in zero) expect((zero[key] as number[]).every((v) => v === 0)).toBe(true);
      if (zero.kind === 'kmeans') expect(zero.farthest.distances).toEqual([]);
      const all = JSON.parse(
        ok(`eval $CLI mstep s-0.json s-1.json s-2.json --model ${model} --json --quiet`),
      );
      const two = JSON.parse(ok(`eval $CLI mstep s-0.json s-2.json --model ${model} --json --quiet`));
      expect(all.model).toEqual(two.model);
      expect(all.weightSum).toBe(100);
      expect(all.nSamples).toBe(150);
    },
  );

  it('statistics of weight 0 only: mstep says that every shard weighs 0', () => {
    for (let s = 0; s < 2; s++)
      ok(`eval $CLI stats model.json shard-${s}.csv --weights w-zero.txt --backend cpu --out z-${s}.json`);
    const r = sh('eval $CLI mstep z-0.json z-1.json --model model.json --out next.json');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^webgpu-em: error: all 2 statistics files: every shard's weights sum to 0 \(100 rows, none of positive weight\)/,
    );
    expect(sh('test -e next.json').code).toBe(1);
  });

  it('in the library: a shard of weight 0 gives zero sums; bad weights are still refused', async () => {
    const x = irisMatrix;
    const gmm = new GaussianMixture({ nComponents: 2, backend: 'cpu', maxIter: 2 });
    await gmm.fit(x);
    const shard = await StatisticsShard.create(x, { backend: 'cpu', sampleWeight: new Float64Array(x.rows) });
    try {
      const s = await shard.mixture(gmm.parameters);
      expect(s.weightSum).toBe(0);
      expect([...s.nk, ...s.firstMoment, ...s.secondMoment].every((v) => v === 0)).toBe(true);
      const k = await shard.kmeans([x.data.slice(0, 4), x.data.slice(4, 8)].map((r) => Array.from(r)));
      expect(k.counts).toEqual(new Float64Array(2));
      expect(k.inertia).toBe(0);
    } finally {
      shard.dispose();
      gmm.dispose();
    }
    const bad = new Float64Array(x.rows);
    bad[3] = -1;
    await expect(StatisticsShard.create(x, { backend: 'cpu', sampleWeight: bad })).rejects.toThrow(
      /negative/,
    );
    await expect(
      StatisticsShard.create(x, { backend: 'cpu', sampleWeight: new Float64Array(x.rows - 1) }),
    ).rejects.toThrow(/one weight per sample/);
  });
});

describe('mstep over statistics of different D', () => {
  it('names the file that differs, its D and the others', () => {
    writeFileSync(
      at('three.csv'),
      [
        'a,b,c',
        ...irisText
          .trim()
          .split('\n')
          .slice(1)
          .map((l) => l.split(',').slice(0, 3).join(',')),
      ].join('\n'),
    );
    ok('eval $CLI gmm three.csv -k 3 --backend cpu --max-iter 2 --out model3.json --quiet');
    ok('eval $CLI stats model3.json three.csv --backend cpu --out d3.json');
    for (let s = 0; s < 2; s++)
      ok(`eval $CLI stats model.json shard-${s}.csv --backend cpu --out d4-${s}.json`);
    // The odd file first: it is the one named, not the two that agree.
    const r = sh('eval $CLI mstep d3.json d4-0.json d4-1.json');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "webgpu-em: error: d3.json: cannot merge statistics of a 'full' mixture of K = 3, D = 4 with statistics of a 'full' mixture of K = 3, D = 3: this file holds the second, the other 2 files the first; compute every shard's statistics under the same model, with the same columns\n",
    );
  });
});
