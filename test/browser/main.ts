// Runs in headless Chromium (test/browser.gpu.test.ts): the library through navigator.gpu, its
// kernels inside the JavaScript, against the float64 CPU backend in the same page.
import { GaussianMixture, KMeans, makeBlobs } from '../../src/index.js';

declare global {
  interface Window {
    webgpuEmResult?: Record<string, unknown>;
  }
}

async function run(): Promise<Record<string, unknown>> {
  const x = makeBlobs({ n: 4000, d: 3, k: 3, seed: 2 });
  const options = { nComponents: 3, tol: 0, maxIter: 5, seed: 1 };
  const gpu = new GaussianMixture({ ...options, backend: 'webgpu' });
  await gpu.fit(x);
  const cpu = new GaussianMixture({ ...options, backend: 'cpu' });
  await cpu.fit(x);
  const km = new KMeans({ nClusters: 3, backend: 'webgpu', seed: 1 });
  await km.fit(x);
  const kmCpu = new KMeans({ nClusters: 3, backend: 'cpu', seed: 1 });
  await kmCpu.fit(x);
  const result = {
    backend: await gpu.backendName(),
    adapter: await gpu.adapterDescription(),
    gpuLowerBound: gpu.lowerBound,
    cpuLowerBound: cpu.lowerBound,
    gpuLabels: Array.from(await gpu.predict(x)),
    cpuLabels: Array.from(await cpu.predict(x)),
    gpuInertia: km.inertia,
    cpuInertia: kmCpu.inertia,
  };
  gpu.dispose();
  km.dispose();
  return result;
}

run().then(
  (result) => {
    window.webgpuEmResult = result;
    document.getElementById('out')!.textContent = JSON.stringify(result, null, 1).slice(0, 2000);
  },
  (error: unknown) => {
    window.webgpuEmResult = { error: error instanceof Error ? error.message : String(error) };
  },
);
