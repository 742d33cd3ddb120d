import { printable, WebGpuEmError } from '../errors.js';

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

/**
 * When VK_ICD_FILENAMES or VK_DRIVER_FILES (the Vulkan loader's list of drivers) names a file that
 * is not there, what to say (the likely reason Dawn found no adapter); else null.
 */
export async function vulkanDriverProblem(): Promise<string | null> {
  const { access } = await import('node:fs/promises');
  for (const variable of ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES']) {
    for (const file of (process.env[variable] ?? '').split(':').filter((f) => f !== '')) {
      const missing = await access(file).then(
        () => false,
        () => true,
      );
      if (missing) {
        return `the environment variable ${variable} names ${printable(file, 120)}, which does not exist; unset ${variable} or point it at a Vulkan driver's ICD file (e.g. /usr/share/vulkan/icd.d/lvp_icd.x86_64.json)`;
      }
    }
  }
  return null;
}
