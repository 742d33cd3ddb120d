/**
 * The demo as a user's app: it imports `webgpu-em` by name, resolved to the package's built
 * entry point (`npm run build` makes it; the package's `exports` says where), so the demo runs
 * the same JavaScript a user installs, with the package's `browser` field swapping Dawn's loader
 * out, never the TypeScript sources.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
  name: string;
  exports: { '.': { default: string } };
};
const entry = `${root}${pkg.exports['.'].default.replace(/^\.\//, '')}`;

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  logLevel: 'warn',
  resolve: { alias: [{ find: new RegExp(`^${pkg.name}$`), replacement: entry }] },
  // Module workers: the library splits its WebGPU backend into a chunk of its own.
  worker: { format: 'es' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  plugins: [
    {
      name: 'built-package',
      buildStart() {
        if (!existsSync(entry))
          this.error(`${entry} is missing: run \`npm run build\` first (npm run demo does)`);
      },
    },
  ],
});
