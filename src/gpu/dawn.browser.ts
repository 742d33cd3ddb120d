import { WebGpuEmError } from '../errors.js';
import type { Dawn } from './dawn.js';

/** Stands in for dawn.ts in browser bundles (package.json `browser`): there is no Dawn there. */
export function loadDawn(): Promise<Dawn> {
  return Promise.reject(
    new WebGpuEmError('gpu', 'Dawn (the webgpu package) is for Node; in a browser use navigator.gpu'),
  );
}

/** Browsers have no Vulkan loader environment to check. */
export function vulkanDriverProblem(): Promise<string | null> {
  return Promise.resolve(null);
}
