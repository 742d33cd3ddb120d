import { isNode } from '../core/env.js';

/**
 * Loads WGSL kernels from the package's `shaders/` folder: one source for Node and the browser.
 * In Node they are read from disk; in a browser they are fetched next to the module (bundlers
 * such as Vite see the `new URL(..., import.meta.url)` pattern and ship the files).
 */
export type ShaderLoader = (name: string) => string | Promise<string>;

const cache = new Map<string, Promise<string>>();
let customLoader: ShaderLoader | null = null;

/** Replaces how kernels are found (for bundlers that inline them). Clears the cache. */
export function setShaderLoader(loader: ShaderLoader | null): void {
  customLoader = loader;
  cache.clear();
}

/**
 * The WGSL source of `shaders/<name>`, with each `//!include other.wgsl` line replaced by that
 * file (WGSL has no includes; shared struct declarations live once in their own file).
 */
export function loadShader(name: string): Promise<string> {
  let source = cache.get(name);
  if (!source) {
    const loader = customLoader ?? defaultLoader;
    source = Promise.resolve()
      .then(() => loader(name))
      .then(expandIncludes);
    cache.set(name, source);
    source.catch(() => cache.delete(name));
  }
  return source;
}

const INCLUDE = /^\/\/!include (\S+?)\r?$/gm;

async function expandIncludes(code: string): Promise<string> {
  const names = [...code.matchAll(INCLUDE)].map((m) => m[1]);
  const parts = new Map<string, string>();
  for (const n of names) parts.set(n, await loadShader(n));
  return code.replace(INCLUDE, (_, n: string) => parts.get(n)!);
}

async function defaultLoader(name: string): Promise<string> {
  if (isNode) {
    const { readFile } = await import('node:fs/promises');
    // src/gpu/ (sources) and dist/src/gpu/ (build) sit at different depths below the package root.
    const candidates = [
      new URL(`../../shaders/${name}`, import.meta.url),
      new URL(`../../../shaders/${name}`, import.meta.url),
    ];
    for (const url of candidates) {
      try {
        return await readFile(url, 'utf8');
      } catch {
        // try the next location
      }
    }
    throw new Error(`WGSL kernel ${name} not found in ${candidates.map((u) => u.pathname).join(' or ')}`);
  }
  const response = await fetch(new URL(`../../shaders/${name}`, import.meta.url));
  if (!response.ok) throw new Error(`WGSL kernel ${name} could not be fetched: HTTP ${response.status}`);
  return response.text();
}
