// Large outputs are written in bounded pieces: the writer never holds more than its bound,
// predict --proba and sample compute and write a piece at a time (checked row by row against the
// whole computation), and a write that fails half-way leaves no partial file and one error line.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { perChunk, resultLimit, rowsPerEvaluation } from '../src/cli/apply.js';
import { makeBlobs } from '../src/data/synthetic.js';
import { BoundedWriter } from '../src/io/bounded-writer.js';
import { parseNpy } from '../src/io/npy.js';
import { planOutput, writeOptions, writeOutputs } from '../src/io/outputs.js';
import { GaussianMixture } from '../src/index.js';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'bin/webgpu-em.js');
const work = mkdtempSync(join(tmpdir(), 'webgpu-em-outputs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const defaults = { buffer: writeOptions.bufferBytes, values: resultLimit.values };
afterEach(() => {
  writeOptions.bufferBytes = defaults.buffer;
  resultLimit.values = defaults.values;
});

/** Runs the CLI in this process; stdout arrives through writeStdout in pieces, each recorded. */
async function cli(...args: string[]) {
  const pieces: number[] = [];
  const chunks: Buffer[] = [];
  let stderr = '';
  let text = '';
  const code = await main(args, {
    stdout: (t) => (text += t),
    writeStdout: async (bytes) => {
      pieces.push(bytes.length);
      chunks.push(Buffer.from(bytes));
      await new Promise((r) => setImmediate(r));
    },
    stderr: (t) => (stderr += t),
  });
  return { code, stdout: Buffer.concat(chunks).toString('utf8') + text, stderr, pieces };
}

/** Runs the built command as a shell runs it. */
function sh(script: string) {
  const r = spawnSync('bash', ['-c', script], {
    cwd: work,
    env: { ...process.env, CLI: `"${process.execPath}" "${bin}"` },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// A model of K = 8 components on D = 3, and 20,000 rows to apply it to.
const K = 8;
const x = makeBlobs({ n: 20_000, d: 3, k: K, seed: 4, offset: 3 });
const dataCsv = join(work, 'x.csv');
writeFileSync(
  dataCsv,
  [
    'a,b,c',
    ...Array.from({ length: x.rows }, (_, r) => Array.from(x.data.slice(r * 3, r * 3 + 3)).join(',')),
  ].join('\n') + '\n',
);
const modelFile = join(work, 'model.json');
const fitted = new GaussianMixture({ nComponents: K, backend: 'cpu', seed: 1, maxIter: 20 });
const ready = fitted.fit(x).then(() => {
  fitted.featureNames = ['a', 'b', 'c'];
  writeFileSync(modelFile, JSON.stringify(fitted));
});

describe('the bounded writer', () => {
  it('never holds more than its bound, and writes exactly what one string would hold', async () => {
    const bound = 64;
    const pieces: Uint8Array[] = [];
    const out = new BoundedWriter(async (b) => {
      pieces.push(b.slice());
    }, bound);
    // The longest cells String() makes, a wide row, text longer than the bound with characters of 2 to 4 bytes.
    const values = new Float64Array([
      -0.0000012345678901234567,
      -1.7976931348623157e308,
      -2.2250738585072014e-308,
      1,
      0,
      -0.5,
      123456789012345680000,
      Math.PI,
      -Math.E,
      1e-7,
    ]);
    const header = 'é,ü,名前,😀'.repeat(12) + '\n';
    await out.text(header);
    await out.rows(values, 5);
    await out.rows(new Int32Array([-2147483648, 7, 2147483647]), 1);
    await out.flush();
    expect(out.peak).toBeLessThanOrEqual(bound);
    expect(pieces.length).toBeGreaterThan(4);
    for (const p of pieces) expect(p.length).toBeLessThanOrEqual(bound);
    const lines = [0, 1].map((r) => Array.from(values.slice(r * 5, r * 5 + 5), String).join(','));
    const expected = header + lines.join('\n') + '\n-2147483648\n7\n2147483647\n';
    expect(Buffer.concat(pieces).toString('utf8')).toBe(expected);
  });

  it('a sink that fails half-way stops the writer with its error', async () => {
    let writes = 0;
    const out = new BoundedWriter(async () => {
      if (++writes === 3) throw new Error('disk gone');
    }, 64);
    await expect(out.rows(new Float64Array(1000).fill(Math.PI), 4)).rejects.toThrow('disk gone');
    expect(writes).toBe(3);
  });
});

describe('outputs of any size in bounded pieces', () => {
  it('predict --proba on standard output: pieces of at most the bound, each row the whole computation', async () => {
    await ready;
    writeOptions.bufferBytes = 4096;
    resultLimit.values = 16_384; // 2,048 rows of 8 probabilities an evaluation
    const r = await cli('predict', modelFile, dataCsv, '--proba', '--backend', 'cpu');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.pieces.length).toBeGreaterThan(100);
    expect(Math.max(...r.pieces)).toBeLessThanOrEqual(4096);
    const whole = await fitted.predictProba(x);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('p0,p1,p2,p3,p4,p5,p6,p7');
    expect(lines.length).toBe(x.rows + 2);
    expect(lines[x.rows + 1]).toBe('');
    for (let row = 0; row < x.rows; row++) {
      const expected = Array.from(whole.data.subarray(row * K, (row + 1) * K), String).join(',');
      if (lines[row + 1] !== expected) expect(`${row}: ${lines[row + 1]}`).toBe(`${row}: ${expected}`);
    }
  });

  it('predict --proba --stream --out x.npy and a CSV file: the same probabilities', async () => {
    await ready;
    writeOptions.bufferBytes = 4096;
    resultLimit.values = 16_384;
    const whole = await fitted.predictProba(x);
    for (const stream of [[], ['--stream']]) {
      const npy = join(work, `p${stream.length}.npy`);
      const csv = join(work, `p${stream.length}.csv`);
      for (const out of [npy, csv]) {
        const r = await cli(
          'predict',
          modelFile,
          dataCsv,
          '--proba',
          '--backend',
          'cpu',
          '--out',
          out,
          ...stream,
        );
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
      }
      const m = parseNpy(readFileSync(npy));
      expect([m.rows, m.cols]).toEqual([x.rows, K]);
      const text = readFileSync(csv, 'utf8').split('\n');
      // .npy as float32 when parsed: to its precision; the CSV exactly.
      let worst = 0;
      for (let i = 0; i < whole.data.length; i++)
        worst = Math.max(worst, Math.abs(m.data[i] - whole.data[i]));
      expect(worst).toBeLessThan(1e-7);
      for (let row = 0; row < x.rows; row++) {
        const expected = whole.data.subarray(row * K, (row + 1) * K);
        const want = Array.from(expected, String).join(',');
        if (text[row + 1] !== want) expect(`${row}: ${text[row + 1]}`).toBe(`${row}: ${want}`);
      }
    }
  });

  it('sample: drawn and written a piece at a time, the rows of one whole draw', async () => {
    await ready;
    writeOptions.bufferBytes = 4096;
    resultLimit.values = 3000; // 1,000 rows of 3 a draw
    const n = 30_000;
    const r = await cli('sample', modelFile, '-n', String(n), '--seed', '11');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(Math.max(...r.pieces)).toBeLessThanOrEqual(4096);
    const model = GaussianMixture.fromJSON(JSON.parse(readFileSync(modelFile, 'utf8')), {
      seed: 11,
      backend: 'cpu',
    });
    const whole = model.sample(n).x.data;
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('a,b,c');
    expect(lines.length).toBe(n + 2);
    for (let row = 0; row < n; row++) {
      const expected = Array.from(whole.subarray(row * 3, (row + 1) * 3), String).join(',');
      if (lines[row + 1] !== expected) expect(`${row}: ${lines[row + 1]}`).toBe(`${row}: ${expected}`);
    }
    // The library's chunked draw is the same rows whatever the chunk.
    const pieces = [...model.sampleChunks(n, 7_001)];
    expect(pieces.map((p) => p.x.rows)).toEqual([7001, 7001, 7001, 7001, 1996]);
    expect(Array.from(new Float64Array(pieces.flatMap((p) => Array.from(p.x.data))))).toEqual(
      Array.from(whole),
    );
  });

  it('in-memory data is evaluated in pieces of bounded results, never moved to the CPU by the cut', async () => {
    resultLimit.values = 1 << 21;
    const o = { backend: 'auto' };
    // K = 15,000 probabilities a row at D = 64: 139 rows bound the result, but 139 x 64 values
    // would be small enough for 'auto' to take the CPU; the floor keeps pieces above 10,000 values.
    expect(rowsPerEvaluation(15_000, 64, { backend: 'webgpu' })).toBe(139);
    expect(rowsPerEvaluation(15_000, 64, o)).toBe(2 * 157);
    expect(rowsPerEvaluation(64, 4, o)).toBe(32_768);
    const m = { data: new Float32Array(1000 * 2).map((_, i) => i), rows: 1000, cols: 2 };
    const sizes: number[] = [];
    const input = { data: m, streamed: false, shape: m, columnNames: null, release: async () => {} };
    for await (const piece of perChunk(input, async (p) => p, 300)) {
      expect(piece.data.buffer).toBe(m.data.buffer); // views, not copies
      expect(piece.data[0]).toBe(2 * sizes.reduce((a, b) => a + b, 0));
      sizes.push(piece.rows);
    }
    expect(sizes).toEqual([250, 250, 250, 250]);
  });
});

describe('a write that fails half-way', () => {
  it('a producer that fails after some pieces leaves the earlier file and no temporary file', async () => {
    const dir = mkdtempSync(join(work, 'fail-'));
    const target = join(dir, 'out.csv');
    writeFileSync(target, 'previous\n');
    writeOptions.bufferBytes = 64;
    const plan = await planOutput(target, '--out', []);
    await expect(
      writeOutputs(
        [
          {
            plan,
            contents: async (out) => {
              await out.rows(new Float64Array(500).fill(1.5), 5);
              throw new Error('the data ended early');
            },
          },
        ],
        () => {},
      ),
    ).rejects.toThrow('the data ended early');
    expect(readFileSync(target, 'utf8')).toBe('previous\n');
    expect(readdirSync(dir)).toEqual(['out.csv']);
  });

  it('a file size limit (EFBIG) half-way through sample: one line, the earlier file kept, no temporary file', async () => {
    await ready;
    const dir = mkdtempSync(join(work, 'efbig-'));
    writeFileSync(join(dir, 'out.csv'), 'previous\n');
    // 64 KiB at most per file: the 20,000 rows (about 1.5 MB) fail part-way through.
    const r = sh(`cd "${dir}" && ulimit -f 64 && eval $CLI sample "${modelFile}" -n 20000 --out out.csv`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^webgpu-em: error: cannot write out\.csv: .*EFBIG.*the previous file, if any, is unchanged\)\n$/,
    );
    expect(readFileSync(join(dir, 'out.csv'), 'utf8')).toBe('previous\n');
    expect(readdirSync(dir)).toEqual(['out.csv']);
  });

  it('/dev/full (written in place) and a reader that closes the pipe: one error line each, no stack trace', async () => {
    await ready;
    const full = sh(`eval $CLI sample "${modelFile}" -n 20000 --out /dev/full`);
    expect(full.code).toBe(1);
    expect(full.stderr).toMatch(
      /^webgpu-em: error: cannot write \/dev\/full: no space left on device \(ENOSPC\)[^\n]*\n$/,
    );
    const pipe = sh(
      `eval $CLI sample "${modelFile}" -n 200000 | head -c 100 >/dev/null; echo "\${PIPESTATUS[0]}" >&2`,
    );
    expect(pipe.stderr).toBe(
      'webgpu-em: error: cannot write standard output: its reader closed the pipe (EPIPE); the output is incomplete\n1\n',
    );
  });
});
