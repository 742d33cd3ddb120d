/**
 * Out-of-core benchmark: the peak resident memory of `webgpu-em gmm` on files larger than its
 * device-memory budget, the CSV parsing rate beside the GPU's, and a fit on a device with
 * WebGPU's default limits against the float64 CPU reference from the same initial model.
 *
 *   npm run bench:stream -- [--rows 25000000] [--csv-rows 10000000] [--max-iter 3]
 *                           [--limits-rows 3000000] [--dir DIR] [--skip-limits] [--keep]
 *
 * The files are generated in a temporary folder a block at a time (bounded memory): 8 Gaussian
 * blobs in D = 16, float32 .npy (16 x 4 bytes a row) and CSV (3 decimals, about 150 bytes a row).
 * Each fit runs as its own process under /usr/bin/time -v (single process: WEBGPU_EM_DIRECT=1),
 * whose "Maximum resident set size" is the figure; on a software adapter device memory is host
 * memory, so the GPU budget is inside it.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RowChunk } from '../src/data/row-source.js';
import { Random } from '../src/core/random.js';
import { npyHeaderBytes } from '../src/io/npy.js';
import { openDataSource } from '../src/io/row-files.js';

const D = 16;
const K = 8;
const BLOCK = 65_536;
const root = fileURLToPath(new URL('..', import.meta.url));

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}
const flag = (name: string) => process.argv.includes(name);

/** Seeded blobs, a block of rows at a time: centres 6 apart, unit noise. */
function* blocks(rows: number, seed: number): Generator<Float32Array> {
  const rng = new Random(seed);
  const centres = Float64Array.from({ length: K * D }, () => rng.normal() * 6);
  for (let r = 0; r < rows; r += BLOCK) {
    const n = Math.min(BLOCK, rows - r);
    const out = new Float32Array(n * D);
    for (let i = 0; i < n; i++) {
      const c = (r + i) % K;
      for (let j = 0; j < D; j++) out[i * D + j] = centres[c * D + j] + rng.normal();
    }
    yield out;
  }
}

async function writeNpy(file: string, rows: number): Promise<void> {
  const handle = await fs.open(file, 'w');
  try {
    await handle.write(npyHeaderBytes('<f4', rows, D));
    for (const b of blocks(rows, 1)) await handle.write(new Uint8Array(b.buffer));
  } finally {
    await handle.close();
  }
}

async function writeCsv(file: string, rows: number): Promise<void> {
  const handle = await fs.open(file, 'w');
  try {
    await handle.write(Array.from({ length: D }, (_, j) => `x${j}`).join(',') + '\n');
    for (const b of blocks(rows, 2)) {
      const lines: string[] = [];
      for (let i = 0; i < b.length / D; i++) {
        const cells: string[] = [];
        for (let j = 0; j < D; j++) cells.push(b[i * D + j].toFixed(3));
        lines.push(cells.join(','));
      }
      await handle.write(lines.join('\n') + '\n');
    }
  } finally {
    await handle.close();
  }
}

/** One CLI fit under /usr/bin/time -v: peak RSS (MB), wall seconds, and the fit's JSON. */
function timedFit(file: string, maxIter: number) {
  const args = [
    '-v',
    'node',
    join(root, 'bin/webgpu-em.js'),
    'gmm',
    file,
    '-k',
    String(K),
    '--json',
    '--quiet',
  ];
  args.push('--max-iter', String(maxIter), '--backend', 'webgpu', '--stream');
  const r = spawnSync('/usr/bin/time', args, {
    env: { ...process.env, WEBGPU_EM_DIRECT: '1' },
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`fit of ${file} failed: ${r.stderr.slice(-2000)}`);
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)![1]) / 1024;
  const json = JSON.parse(r.stdout) as {
    nIter: number;
    seconds: number;
    lowerBound: number;
    nSamples: number;
  };
  return { rssMb: rss, ...json };
}

/** Rows per second of one pass of the CSV reader alone (parsing included), and MB/s. */
async function parseRate(file: string) {
  const size = (await fs.stat(file)).size;
  const opened = await openDataSource(file);
  const started = performance.now();
  let rows = 0;
  for await (const c of opened.source() as AsyncIterable<RowChunk>) rows += c.rows;
  const seconds = (performance.now() - started) / 1000;
  return { mbPerSecond: size / 2 ** 20 / seconds, rowsPerSecond: rows / seconds, seconds };
}

/**
 * A fit on a device with WebGPU's default limits (128 MiB a storage binding) of data larger
 * than one binding, against the float64 CPU reference from the same initial parameters.
 */
async function defaultLimits(rows: number) {
  const { create } = (await import('webgpu')) as unknown as { create(flags: string[]): GPU };
  const { GaussianMixture } = await import('../src/index.js');
  // The instance must outlive the device (a collected instance loses it).
  const instance = create([]);
  const adapter = await instance.requestAdapter();
  const device = await adapter!.requestDevice(); // no requiredLimits: the defaults
  const data = new Float32Array(rows * D);
  let at = 0;
  for (const b of blocks(rows, 3)) {
    data.set(b, at);
    at += b.length;
  }
  const x = { data, rows, cols: D };
  using starter = new GaussianMixture({ nComponents: K, backend: 'cpu' });
  await starter.initialize({ data: data.subarray(0, 100_000 * D), rows: 100_000, cols: D });
  const init = { parameters: starter.parameters };
  const options = { nComponents: K, init, maxIter: 20 };
  let started = performance.now();
  using gpu = new GaussianMixture({ ...options, backend: 'webgpu', device });
  await gpu.fit(x, { labels: false });
  const gpuSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  using cpu = new GaussianMixture({ ...options, backend: 'cpu' });
  await cpu.fit(x, { labels: false });
  const cpuSeconds = (performance.now() - started) / 1000;
  const relative = Math.abs(gpu.lowerBound - cpu.lowerBound) / Math.abs(cpu.lowerBound);
  device.destroy();
  void instance;
  return {
    maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
    dataBytes: data.byteLength,
    gpu: { lowerBound: gpu.lowerBound, nIter: gpu.nIter, seconds: gpuSeconds },
    cpu: { lowerBound: cpu.lowerBound, nIter: cpu.nIter, seconds: cpuSeconds },
    relative,
  };
}

async function main() {
  const rows = arg('--rows', 25_000_000);
  const csvRows = arg('--csv-rows', 10_000_000);
  const maxIter = arg('--max-iter', 3);
  const dir = process.argv.includes('--dir')
    ? process.argv[process.argv.indexOf('--dir') + 1]
    : await fs.mkdtemp(join(tmpdir(), 'webgpu-em-stream-bench-'));
  const npy = join(dir, `blobs-${rows}x${D}.npy`);
  const csv = join(dir, `blobs-${csvRows}x${D}.csv`);
  try {
    let t = performance.now();
    if (rows > 0) await writeNpy(npy, rows);
    if (csvRows > 0) await writeCsv(csv, csvRows);
    console.log(`generated in ${((performance.now() - t) / 1000).toFixed(1)} s in ${dir}`);
    if (rows > 0) {
      const size = (await fs.stat(npy)).size;
      t = performance.now();
      const fit = timedFit(npy, maxIter);
      console.log(
        `npy ${rows} x ${D} (${(size / 1e9).toFixed(2)} GB), K = ${K}, --max-iter ${maxIter}: ` +
          `peak RSS ${fit.rssMb.toFixed(0)} MB, ${fit.nIter} iterations, fit ${fit.seconds.toFixed(1)} s, ` +
          `${((size / 2 ** 20) * (fit.nIter + 1)) / fit.seconds} MB/s over ${fit.nIter + 1} passes (scan + EM)`,
      );
    }
    if (csvRows > 0) {
      const size = (await fs.stat(csv)).size;
      const parse = await parseRate(csv);
      console.log(
        `csv ${csvRows} x ${D} (${(size / 1e9).toFixed(2)} GB): parsing alone ${parse.mbPerSecond.toFixed(1)} MB/s ` +
          `(${(parse.rowsPerSecond / 1e6).toFixed(2)} M rows/s, ${parse.seconds.toFixed(1)} s a pass)`,
      );
      const fit = timedFit(csv, maxIter);
      const passRows = (csvRows * (fit.nIter + 1)) / fit.seconds;
      console.log(
        `csv fit, --max-iter ${maxIter}: peak RSS ${fit.rssMb.toFixed(0)} MB, ${fit.nIter} iterations, ` +
          `fit ${fit.seconds.toFixed(1)} s, ${(passRows / 1e6).toFixed(2)} M rows/s over ${fit.nIter + 1} passes`,
      );
    }
    if (!flag('--skip-limits')) {
      const r = await defaultLimits(arg('--limits-rows', 3_000_000));
      console.log(`default limits: ${JSON.stringify(r)}`);
    }
  } finally {
    if (!flag('--keep')) {
      await fs.rm(npy, { force: true });
      await fs.rm(csv, { force: true });
      if (!process.argv.includes('--dir')) await fs.rm(dir, { recursive: true, force: true });
    }
  }
}

await main();
