/**
 * Writes src/gpu/kernels.generated.ts: the text of every shaders/*.wgsl with its `//!include`
 * lines expanded, so that the kernels travel inside the JavaScript (no fetch, no file read, no
 * bundler plugin). shaders/ stays the one source; `--check` fails when the file is out of date.
 *   npx tsx scripts/kernels.ts [--check]
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { expandIncludes } from '../src/gpu/wgsl-include.js';

const shaders = new URL('../shaders/', import.meta.url);
const target = new URL('../src/gpu/kernels.generated.ts', import.meta.url);

/** The generated module's text, from the current shaders/. */
export async function generatedKernels(): Promise<string> {
  const read = (name: string) => readFileSync(new URL(name, shaders), 'utf8');
  const files = readdirSync(shaders)
    .filter((f) => f.endsWith('.wgsl'))
    .sort();
  const entries: string[] = [];
  for (const f of files)
    entries.push(`  ${JSON.stringify(f)}: ${JSON.stringify(await expandIncludes(read(f), read))},`);
  return [
    '// Generated from shaders/*.wgsl by scripts/kernels.ts (`npm run kernels`); do not edit.',
    '',
    '/** The WGSL text of each kernel in shaders/, by file name, with its includes expanded. */',
    'export const KERNEL_SOURCES: Readonly<Record<string, string>> = {',
    ...entries,
    '};',
    '',
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const text = await generatedKernels();
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // not generated yet
  }
  if (process.argv.includes('--check')) {
    if (current !== text) {
      console.error('src/gpu/kernels.generated.ts is out of date with shaders/: run `npm run kernels`');
      process.exit(1);
    }
  } else if (current !== text) {
    writeFileSync(target, text);
    console.error('wrote src/gpu/kernels.generated.ts');
  }
}
