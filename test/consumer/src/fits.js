// The same fits wherever the package is loaded (a Vite page, its Worker, a page with an import
// map and no bundler, Node): a Gaussian mixture and k-means on one seeded data set.
import { GaussianMixture, KMeans, makeBlobs } from 'webgpu-em';

export async function fits(backend) {
  const x = makeBlobs({ n: 600, d: 3, k: 3, seed: 4 });
  const gmm = new GaussianMixture({ nComponents: 3, backend, tol: 0, maxIter: 8, seed: 1 });
  await gmm.fit(x);
  const km = new KMeans({ nClusters: 3, backend, seed: 1 });
  await km.fit(x);
  const result = {
    backend: await gmm.backendName(),
    lowerBound: gmm.lowerBound,
    labels: Array.from(await gmm.predict(x)),
    inertia: km.inertia,
  };
  gmm.dispose();
  km.dispose();
  return result;
}

/** Each backend's fits, or the error message of the first that failed. */
export async function allFits(backends) {
  try {
    const out = {};
    for (const b of backends) out[b] = await fits(b);
    return out;
  } catch (error) {
    return { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}
