import { WebGpuEmError } from '../errors.js';
import { KERNEL_SOURCES } from './kernels.generated.js';
import { expandIncludes } from './wgsl-include.js';

/**
 * The kernels are compiled into the JavaScript (src/gpu/kernels.generated.ts, generated from
 * shaders/ by scripts/kernels.ts): nothing is fetched or read from disk, in Node, a browser, a
 * Worker or any bundle.
 */
export type ShaderLoader = (name: string) => string | Promise<string>;

const cache = new Map<string, Promise<string>>();
let customLoader: ShaderLoader | null = null;

/**
 * Replaces the built-in kernels by the ones `loader` returns (`null` restores the built-in
 * ones), for trying out an edited `shaders/*.wgsl` without rebuilding; `//!include` lines are
 * expanded as usual.
 * @deprecated Not needed to load the kernels anywhere: they ship inside the package.
 */
export function setShaderLoader(loader: ShaderLoader | null): void {
  customLoader = loader;
  cache.clear();
}

/** The WGSL source of `shaders/<name>`, with each `//!include other.wgsl` line expanded. */
export function loadShader(name: string): Promise<string> {
  if (!customLoader) {
    const code = KERNEL_SOURCES[name];
    if (code === undefined) {
      return Promise.reject(
        new WebGpuEmError(
          'gpu',
          `no WGSL kernel named '${name}' in this build of webgpu-em (shaders/${name})`,
        ),
      );
    }
    return Promise.resolve(code);
  }
  let source = cache.get(name);
  if (!source) {
    const loader = customLoader;
    source = Promise.resolve()
      .then(() => loader(name))
      .then((code) => expandIncludes(code, loader, [name]));
    cache.set(name, source);
    source.catch(() => cache.delete(name));
  }
  return source;
}
