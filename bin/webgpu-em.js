#!/usr/bin/env node
// Command-line entry point of webgpu-em; the code is in src/cli/main.ts (built into dist/).
let cli;
try {
  cli = await import('../dist/src/cli/main.js');
} catch (error) {
  if (
    error &&
    error.code === 'ERR_MODULE_NOT_FOUND' &&
    String(error.message).includes('dist/src/cli/main.js')
  ) {
    process.stderr.write(
      'webgpu-em: error: the package is not built; run `npm run build` (or bash scripts/setup.sh)\n',
    );
    process.exit(1);
  }
  throw error;
}
const code = await cli.main(process.argv.slice(2));
// Flush stdout before exiting: a pipe may still hold the JSON result.
process.stdout.write('', () => process.exit(code));
