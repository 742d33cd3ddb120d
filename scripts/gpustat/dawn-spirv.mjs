// Child process of gpustat: compiles WGSL compute pipelines with Dawn (the npm package `webgpu`)
// on the software Vulkan adapter (lavapipe) with the dump_shaders toggle, so that Dawn prints the
// SPIR-V it hands to the Vulkan driver. The dumps go to this process's stdout; radv.ts parses
// them. The pipelines are made one after another, each between a begin and an end line, so that
// every dump can be told apart (radv.ts checks that each job got exactly one).
//
// usage: node dawn-spirv.mjs WEBGPU_INDEX_JS JOBS_JSON_FILE
//   JOBS_JSON_FILE: {"robustness": true, "jobs": [{"id": "...", "code": "WGSL",
//                    "entryPoint": "main", "constants": {"K": 32}}, ...]}
// Output lines of its own: '@@gpustat-begin ID', '@@gpustat-end ID', '@@gpustat-error ID MESSAGE'.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [webgpuIndex, jobsFile] = process.argv.slice(2);
const { robustness, jobs } = JSON.parse(readFileSync(jobsFile, 'utf8'));
const { create, globals } = await import(pathToFileURL(webgpuIndex).href);
Object.assign(globalThis, globals);

const toggles = ['dump_shaders', 'disable_symbol_renaming'];
if (!robustness) toggles.unshift('allow_unsafe_apis');
if (!robustness) toggles.push('disable_robustness');
const gpu = create([`enable-dawn-features=${toggles.join(',')}`]);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.error('gpustat: no WebGPU adapter (is lavapipe installed? mesa-vulkan-drivers)');
  process.exit(3);
}
// The features and limits a device of the library asks for (src/gpu/adapter.ts).
const requiredFeatures = ['subgroups', 'shader-f16'].filter((f) => adapter.features.has(f));
const requiredLimits = {};
for (const name of [
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupSizeX',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
]) {
  if (typeof adapter.limits[name] === 'number') requiredLimits[name] = adapter.limits[name];
}
const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
let uncaptured = null;
device.addEventListener('uncapturederror', (e) => {
  uncaptured = e.error.message;
});

let failed = 0;
for (const job of jobs) {
  const say = (line) => process.stdout.write(`${line}\n`);
  say(`@@gpustat-begin ${job.id}`);
  let problem = null;
  device.pushErrorScope('validation');
  try {
    const module = device.createShaderModule({ code: job.code, label: job.id });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length > 0) {
      problem = errors.map((m) => `WGSL error at ${m.lineNum}:${m.linePos}: ${m.message}`).join('; ');
    } else {
      await device.createComputePipelineAsync({
        label: job.id,
        layout: 'auto',
        compute: { module, entryPoint: job.entryPoint, constants: job.constants },
      });
    }
  } catch (e) {
    problem = e instanceof Error ? e.message : String(e);
  }
  const error = await device.popErrorScope();
  problem ??= error?.message ?? uncaptured;
  uncaptured = null;
  if (problem) {
    failed++;
    say(`@@gpustat-error ${job.id} ${problem.replace(/\s+/g, ' ')}`);
  }
  say(`@@gpustat-end ${job.id}`);
}
device.destroy();
process.exit(failed > 0 ? 5 : 0);
