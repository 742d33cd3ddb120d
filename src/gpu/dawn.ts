import { WebGpuEmError } from '../errors.js';

/** What webgpu-em uses of Dawn: `create(['adapter=NAME'])` gives a GPU like navigator.gpu. */
export interface Dawn {
  create(flags: string[]): GPU;
}

/**
 * Dawn, WebGPU for Node: the optional peer dependency `webgpu`. Bundles for browsers get
 * dawn.browser.ts instead (package.json `browser`), so they neither carry nor resolve it.
 */
export async function loadDawn(): Promise<Dawn> {
  try {
    return await import('webgpu');
  } catch (e) {
    const missing = (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND';
    throw new WebGpuEmError(
      'gpu',
      missing
        ? "WebGPU in Node needs Dawn, the 'webgpu' package, which is not installed: run `npm install webgpu` (or use the CPU backend)"
        : `the 'webgpu' package (Dawn for Node) could not be loaded: ${(e as Error).message}; reinstall it with \`npm install webgpu\``,
      { cause: e },
    );
  }
}
