// Run by test/faults.gpu.test.ts as `node --expose-gc memory-child.mjs <mode>`: prints one JSON
// line of memory figures. Imports the built package (npm test builds it first).
import { GaussianMixture, KMeans, makeBlobs } from '../../dist/src/index.js';

const mode = process.argv[2];
const mb = (n) => n / 2 ** 20;

function settle() {
  for (let i = 0; i < 3; i++) globalThis.gc();
  const m = process.memoryUsage();
  return { heap: mb(m.heapUsed), external: mb(m.external), rss: mb(m.rss) };
}

if (mode === 'calls') {
  // Every predict, predictProba and scoreSamples result must be collectable after the call.
  const x = makeBlobs({ n: 20_000, d: 4, k: 3, seed: 1 });
  const g = new GaussianMixture({ nComponents: 3, backend: 'webgpu', maxIter: 5 });
  await g.fit(x);
  const calls = Number(process.argv[3] ?? 150);
  for (let i = 0; i < 6; i++) await g.predictProba(x);
  const before = settle();
  for (let i = 0; i < calls; i++) {
    if (i % 3 === 0) await g.predict(x);
    else if (i % 3 === 1) await g.predictProba(x);
    else await g.scoreSamples(x);
  }
  const after = settle();
  g.dispose();
  const disposed = settle();
  console.log(JSON.stringify({ calls, before, after, disposed }));
} else if (mode === 'models') {
  // Models created and disposed one after another share one device: the process stays flat.
  const x = makeBlobs({ n: 2_000, d: 4, k: 3, seed: 2 });
  const cycles = Number(process.argv[3] ?? 100);
  const cycle = async (i) => {
    const m =
      i % 2 === 0
        ? new GaussianMixture({ nComponents: 3, backend: 'webgpu', maxIter: 3 })
        : new KMeans({ nClusters: 3, backend: 'webgpu', maxIter: 3 });
    await m.fit(x);
    m.dispose();
  };
  for (let i = 0; i < 6; i++) await cycle(i);
  const before = settle();
  for (let i = 0; i < cycles; i++) await cycle(i);
  const after = settle();
  console.log(JSON.stringify({ cycles, before, after }));
} else {
  throw new Error(`unknown mode ${mode}`);
}
