/**
 * The adapter's limits for the bench's roofline, measured in the same run as the rows:
 * float32 multiply-add throughput (bench/peak_fma.wgsl) and memory read bandwidth
 * (bench/peak_bandwidth.wgsl). Each is the best of a few dispatches, timed on the wall clock
 * around submit and completion (what the rows' ms/iter also include).
 */
import { readFileSync } from 'node:fs';
import { BufferUsage } from '../src/gpu/constants.js';
import type { GpuContext } from '../src/gpu/context.js';

export interface Peaks {
  /** float32 FLOP per second (a multiply-add is 2). */
  readonly flops: number;
  /** Bytes read per second. */
  readonly bytesPerSecond: number;
}

const FMA_ITERS = 2048;
const FMA_WORKGROUPS = 256;
const THREADS = 64;
const BW_PER_THREAD = 256;
/** Bytes the bandwidth kernel streams (at most, and at most one binding): far beyond any cache. */
const BW_MAX_BYTES = 256 * 1024 * 1024;

/** A file next to this script, from bench/ (tsx) or dist-bench/bench/ (compiled). */
export function benchFile(name: string): string {
  for (const rel of [`./${name}`, `../../bench/${name}`]) {
    const url = new URL(rel, import.meta.url);
    try {
      readFileSync(url, { flag: 'r' });
      return url.pathname;
    } catch {
      // try the next location
    }
  }
  throw new Error(`bench file ${name} not found next to ${new URL('.', import.meta.url).pathname}`);
}

/** Measures both peaks; `reps` dispatches each, the fastest counts. */
export async function measurePeaks(gpu: GpuContext, reps = 3): Promise<Peaks> {
  const device = gpu.device;
  const pipeline = (file: string, constants: Record<string, number>) =>
    device.createComputePipelineAsync({
      label: file,
      layout: 'auto',
      compute: {
        module: device.createShaderModule({ label: file, code: readFileSync(benchFile(file), 'utf8') }),
        entryPoint: 'main',
        constants,
      },
    });
  const fma = await pipeline('peak_fma.wgsl', { ITERS: FMA_ITERS });
  const bw = await pipeline('peak_bandwidth.wgsl', { PER_THREAD: BW_PER_THREAD });
  const slice = 16 * THREADS * BW_PER_THREAD;
  const bwGroups = Math.floor(Math.min(BW_MAX_BYTES, gpu.limits.maxStorageBufferBindingSize) / slice);
  const bwBytes = bwGroups * slice;
  const data = device.createBuffer({ size: bwBytes, usage: BufferUsage.STORAGE });
  const out = device.createBuffer({
    size: Math.max(FMA_WORKGROUPS, bwGroups) * THREADS * 4,
    usage: BufferUsage.STORAGE,
  });
  try {
    const fmaGroup = device.createBindGroup({
      layout: fma.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: out } }],
    });
    const bwGroup = device.createBindGroup({
      layout: bw.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: data } },
        { binding: 1, resource: { buffer: out } },
      ],
    });
    const time = async (p: GPUComputePipeline, g: GPUBindGroup, groups: number) => {
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(p);
      pass.setBindGroup(0, g);
      pass.dispatchWorkgroups(groups);
      pass.end();
      const started = performance.now();
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      return (performance.now() - started) / 1000;
    };
    await time(fma, fmaGroup, 1); // first dispatch pays any lazy set-up
    await time(bw, bwGroup, 1);
    let best = { fma: Infinity, bw: Infinity };
    for (let r = 0; r < reps; r++) {
      best = {
        fma: Math.min(best.fma, await time(fma, fmaGroup, FMA_WORKGROUPS)),
        bw: Math.min(best.bw, await time(bw, bwGroup, bwGroups)),
      };
    }
    return {
      flops: (FMA_WORKGROUPS * THREADS * FMA_ITERS * 8 * 4 * 2) / best.fma,
      bytesPerSecond: bwBytes / best.bw,
    };
  } finally {
    data.destroy();
    out.destroy();
  }
}
