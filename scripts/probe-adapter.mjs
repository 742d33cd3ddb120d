// Prints the WebGPU adapter Dawn finds in Node, or exits 1 when there is none.
import { create } from 'webgpu';

const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.error('no WebGPU adapter');
  process.exit(1);
}
const info = adapter.info ?? {};
console.log(
  [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') ||
    'unknown adapter',
);
process.exit(0);
