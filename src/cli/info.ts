import type { BackendChoice } from '../core/names.js';
import { parseArgs } from './args.js';
import { help, type CliStreams } from './common.js';
import { INFO_OPTIONS } from './usage.js';
import { maxFeatures } from '../backends/webgpu/layout.js';

export async function runInfo(argv: readonly string[], streams: CliStreams): Promise<number> {
  const { options: o } = parseArgs(argv, INFO_OPTIONS);
  if (o.help) return help(streams);
  const { createBackend } = await import('../backends/select.js');
  const backend = await createBackend((o.backend as BackendChoice | undefined) ?? 'webgpu', {
    adapter: o.adapter as string | undefined,
  });
  try {
    const info: Record<string, unknown> = { backend: backend.name, adapter: backend.adapterDescription };
    if ('context' in backend) {
      const limits = (backend as { context: { limits: GPUSupportedLimits } }).context.limits;
      info.maxStorageBufferBindingSize = limits.maxStorageBufferBindingSize;
      info.maxBufferSize = limits.maxBufferSize;
      info.maxComputeWorkgroupsPerDimension = limits.maxComputeWorkgroupsPerDimension;
      info.maxFeaturesFull = maxFeatures('full');
      info.maxFeaturesDiagonal = maxFeatures('diag');
      info.maxFeaturesKMeans = maxFeatures('kmeans');
    }
    streams.stdout(
      o.json
        ? JSON.stringify(info) + '\n'
        : Object.entries(info)
            .map(([key, v]) => `${key}: ${v}`)
            .join('\n') + '\n',
    );
    return 0;
  } finally {
    backend.dispose();
  }
}
