// The fault hunt's cases that open Dawn: environment variables that point the adapter search
// nowhere. The messages must name the variable and what to do with it.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireGpu } from './helpers/gpu.js';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'bin/webgpu-em.js');
const iris = join(root, 'data/iris.csv');

function cli(args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    timeout: 120_000,
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** The run's last stderr line (Dawn's own native warnings may come before it). */
function lastLine(stderr: string): string {
  return stderr.trimEnd().split('\n').at(-1) ?? '';
}

describe('environment that points the adapter search nowhere', () => {
  beforeAll(async () => {
    await requireGpu(); // the adapter list below is only meaningful with one
  });

  it('WEBGPU_EM_ADAPTER naming no adapter: said as the variable, with the adapters there are', () => {
    const r = cli(['gmm', iris, '-k', '2', '--backend', 'webgpu'], { WEBGPU_EM_ADAPTER: 'no-such-adapter' });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toBe('');
    expect(lastLine(r.stderr)).toMatch(
      /^webgpu-em: error: no WebGPU adapter matches 'no-such-adapter', which the environment variable WEBGPU_EM_ADAPTER names; the adapters here are: '[^']+' \(\w+\); set WEBGPU_EM_ADAPTER to one of these names, or unset it for the first$/,
    );
  });

  it('--adapter wins over WEBGPU_EM_ADAPTER and is named as the option', () => {
    const r = cli(['gmm', iris, '-k', '2', '--backend', 'webgpu', '--adapter', 'other-name'], {
      WEBGPU_EM_ADAPTER: 'no-such-adapter',
    });
    expect(r.code, r.stderr).toBe(1);
    expect(lastLine(r.stderr)).toMatch(
      /no WebGPU adapter matches 'other-name'; .* pass one of these names to --adapter/,
    );
  });

  it('VK_ICD_FILENAMES naming a missing file: the message names it and what to do', () => {
    const r = cli(['gmm', iris, '-k', '2', '--backend', 'webgpu'], {
      VK_ICD_FILENAMES: '/nowhere/icd.json',
      VK_DRIVER_FILES: '',
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toBe('');
    expect(lastLine(r.stderr)).toMatch(
      /^webgpu-em: error: no WebGPU adapter found: the environment variable VK_ICD_FILENAMES names \/nowhere\/icd\.json, which does not exist; unset VK_ICD_FILENAMES or point it at a Vulkan driver's ICD file/,
    );
  });
});
