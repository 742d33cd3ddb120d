import { WebGpuBackend } from '../src/backends/webgpu/webgpu-backend.js';
import { makeBlobs } from '../src/data/synthetic.js';
import { parametersFromCentres, randomFromDataCentres } from '../src/models/init.js';
import { toComponentParameters, shiftsFor } from '../src/models/gmm-parameters.js';
import { Random } from '../src/models/random.js';
const [n, d, k] = process.argv.slice(2).map(Number);
const x = makeBlobs({ n, d, k, seed: 1 });
const init = parametersFromCentres(x, randomFromDataCentres(x, k, new Random(7)), 1e-6);
const cp = toComponentParameters(init); const sh = shiftsFor(init);
const b = await WebGpuBackend.create({ timestamps: true });
const bound = await b.bindData(x);
await bound.prepare(k);
for (let i = 0; i < 3; i++) {
  let t = performance.now(); await bound.eStep(cp, { responsibilities: false }); const e = performance.now() - t;
  t = performance.now(); await bound.sufficientStatistics(cp, sh); const s = performance.now() - t;
  console.log(`estep-only+readback ${e.toFixed(1)} ms; estep+stats ${s.toFixed(1)} ms (gpu ${(bound.lastGpuSeconds!*1000).toFixed(1)})`);
}
bound.dispose(); b.dispose();
