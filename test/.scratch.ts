import { KMeans, GaussianMixture, makeBlobs } from '../src/index.js';
const t = performance.now();
try {
  const big = makeBlobs({ n: 16000, d: 64, k: 4, seed: 2 });
  const km = new GaussianMixture({ nComponents: 16000, backend: 'webgpu' });
  await km.fit(big);
} catch (e) { console.log('K16000', (e as Error).message, ((performance.now()-t)/1000).toFixed(1), 's'); }

const t2 = performance.now();
try {
  const big = makeBlobs({ n: 16000, d: 64, k: 4, seed: 2 });
  const km = new KMeans({ nClusters: 16000, backend: 'webgpu' });
  await km.fit(big);
} catch (e) { console.log('KM K16000', (e as Error).message, ((performance.now()-t2)/1000).toFixed(1), 's'); }
