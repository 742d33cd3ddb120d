import { allFits } from './fits.js';

const page = await allFits(['cpu', 'webgpu']);
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const inWorker = await new Promise((resolve) => {
  worker.onmessage = (event) => resolve(event.data);
  worker.onerror = (event) => resolve({ error: event.message || 'worker failed to load' });
});
window.result = { page, worker: inWorker };
