// Prints the WebGPU adapter Dawn finds in Node (as the library asks for it), or exits 1 when there
// is none. --json prints its info as one JSON object, with `software` true for CPU emulations.
import { create } from 'webgpu';

const gpu = create([]);
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) {
  console.error('no WebGPU adapter');
  process.exit(1);
}
const info = adapter.info ?? {};
const fields = [info.vendor, info.architecture, info.device, info.description].filter(Boolean);
if (process.argv.includes('--json')) {
  const software =
    Boolean(adapter.isFallbackAdapter || info.isFallbackAdapter) ||
    /llvmpipe|lavapipe|swiftshader|softpipe|software/i.test(fields.join(' '));
  console.log(
    JSON.stringify({
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      software,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      features: [...adapter.features].sort(),
    }),
  );
} else {
  console.log(fields.join(' / ') || 'unknown adapter');
}
process.exit(0);
