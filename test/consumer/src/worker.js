import { allFits } from './fits.js';

self.postMessage(await allFits(['cpu', 'webgpu']));
