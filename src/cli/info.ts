import type { BackendChoice, BackendName } from '../core/names.js';
import { printable } from '../errors.js';
import { readModelJson } from '../io/files.js';
import { loadModel } from '../models/formats.js';
import type { ParsedArgs } from './args.js';
import type { CliStreams, Run } from './common.js';
import { maxFeatures } from '../backends/webgpu/layout.js';

/** The backend `info` describes without --backend: the GPU, since listing adapters is its point. */
export const INFO_BACKEND: BackendName = 'webgpu';

/** `info`: the adapters and the chosen one's limits; `info <model>`: what a saved model is. */
export async function runInfo(args: ParsedArgs, run: Run): Promise<number> {
  const { streams } = run;
  const { options: o, positionals } = args;
  if (positionals.length > 0) return modelInfo(positionals, o.json === true, run);
  const { createBackend } = await import('../backends/select.js');
  const { listAdapters } = await import('../gpu/adapter.js');
  const backend = await createBackend((o.backend as BackendChoice | undefined) ?? INFO_BACKEND, {
    adapter: o.adapter as string | undefined,
  });
  try {
    const info: Record<string, unknown> = { backend: backend.name, adapter: backend.adapterDescription };
    if ('context' in backend) {
      info.adapters = await listAdapters();
      const limits = (backend as { context: { limits: GPUSupportedLimits } }).context.limits;
      info.maxStorageBufferBindingSize = limits.maxStorageBufferBindingSize;
      info.maxBufferSize = limits.maxBufferSize;
      info.maxComputeWorkgroupsPerDimension = limits.maxComputeWorkgroupsPerDimension;
      info.maxFeaturesFull = maxFeatures('full');
      info.maxFeaturesDiagonal = maxFeatures('diag');
      info.maxFeaturesKMeans = maxFeatures('kmeans');
    }
    print(streams, info, o.json === true);
    return 0;
  } finally {
    backend.dispose();
  }
}

async function modelInfo(files: string[], json: boolean, run: Run): Promise<number> {
  for (const file of files) {
    const model = loadModel(await readModelJson(file, { signal: run.signal }), {
      source: file,
      backend: 'cpu',
    });
    try {
      print(
        run.streams,
        {
          file,
          format: model.format,
          model: model.description,
          nFeatures: model.nFeatures,
          columns: model.featureNames,
          predict: model.predictProba ? 'labels, --proba' : 'labels',
          score: model.scoreName,
          sample: model.sample !== null,
        },
        json,
      );
    } finally {
      model.dispose();
    }
  }
  return 0;
}

function print(streams: CliStreams, info: Record<string, unknown>, json: boolean): void {
  // A model's column names and a file name are untrusted text: escaped and clipped.
  const text = (v: unknown) =>
    Array.isArray(v) ? v.map((e) => printable(String(e), 40)).join(', ') : printable(String(v));
  streams.stdout(
    json
      ? JSON.stringify(info) + '\n'
      : Object.entries(info)
          .map(([key, v]) => `${key}: ${text(v)}`)
          .join('\n') + '\n',
  );
}
