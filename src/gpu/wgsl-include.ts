/**
 * WGSL has no includes: a line `//!include other.wgsl` stands for that file's text (shared struct
 * declarations live once in their own file). Used when the kernels are generated from shaders/
 * (scripts/kernels.ts) and for kernels given by a custom loader.
 */
const INCLUDE = /^\/\/!include (\S+?)\r?$/gm;

/** `code` with each `//!include NAME` line replaced by `load(NAME)`, itself expanded. */
export async function expandIncludes(
  code: string,
  load: (name: string) => string | Promise<string>,
  seen: readonly string[] = [],
): Promise<string> {
  const parts = new Map<string, string>();
  for (const [, name] of code.matchAll(INCLUDE)) {
    if (parts.has(name)) continue;
    if (seen.includes(name)) throw new Error(`WGSL include cycle: ${[...seen, name].join(' -> ')}`);
    parts.set(name, await expandIncludes(await load(name), load, [...seen, name]));
  }
  return code.replace(INCLUDE, (_, name: string) => parts.get(name)!);
}
