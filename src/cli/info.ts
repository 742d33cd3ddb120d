import type { BackendChoice } from '../core/names.js';
import { parseArgs } from './args.js';
import type { CliStreams } from './common.js';
import { INFO_OPTIONS, USAGE } from './usage.js';

export async function runInfo(argv: readonly string[], streams: CliStreams): Promise<number> {
  const { options: o } = parseArgs(argv, INFO_OPTIONS);
  if (o.help) {
    streams.stdout(USAGE + '\n');
    return 0;
  }
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
      info.maxFeaturesFull = 64;
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
