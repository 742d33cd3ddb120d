// A strict TypeScript consumer: the package's declarations, WebGPU types included, must check
// with skipLibCheck off.
import { GaussianMixture, KMeans, WebGpuEmError, createBackend, makeBlobs, type GpuOptions } from 'webgpu-em';

export async function fit(device?: GPUDevice): Promise<number> {
  const options: GpuOptions = device ? { device } : {};
  const backend = await createBackend('cpu', options);
  const x = makeBlobs({ n: 100, d: 2, k: 2, seed: 1 });
  const gmm = new GaussianMixture({ nComponents: 2, backend: backend.name === 'cpu' ? 'cpu' : 'auto' });
  await gmm.fit(x);
  const km = new KMeans({ nClusters: 2 });
  await km.fit(x);
  const err: unknown = new WebGpuEmError('usage', 'x');
  return gmm.lowerBound + km.inertia + (err instanceof WebGpuEmError ? 0 : 1);
}

// A saved model, loaded in a `using` block: the declarations carry the disposable type.
export function features(saved: string): number {
  using model = GaussianMixture.fromJSON(saved, { backend: 'cpu' });
  return model.nFeatures + (model.featureNames?.length ?? 0);
}
