// The Dask driver (python/webgpu_em_dask) on a LocalCluster of two worker processes, each running
// `webgpu-em stats` on the WebGPU adapter: its own unittest suite, run with Debian's Python.
// With CI=true a missing python3-distributed fails (the Python suite raises); otherwise it skips.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const python = '/usr/bin/python3';
const ci = process.env.CI === 'true';
const hasDask = spawnSync(python, ['-c', 'import distributed'], { stdio: 'ignore' }).status === 0;

describe('the Dask driver', () => {
  it.skipIf(!hasDask && !ci)(
    'fits 4 shards on 2 workers as one process fits their concatenation, also with a worker killed',
    () => {
      const r = spawnSync(python, ['-m', 'unittest', 'discover', '-s', 'python/tests', '-v'], {
        cwd: root,
        env: { ...process.env, PYTHONPATH: 'python', PYTHONDONTWRITEBYTECODE: '1' },
        encoding: 'utf8',
        timeout: 280_000,
      });
      const report = `${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}`;
      expect(r.status, report).toBe(0);
      expect(report).toMatch(/^Ran 15 tests in /m);
      expect(report).toMatch(/test_1_equals_single_process_fit .*\n(.*\n)*?ok$/m);
      expect(report).toMatch(/test_2_survives_a_killed_worker .* ok$/m);
      expect(report).toMatch(/^OK$/m);
      expect(report).not.toMatch(/skipped/);
    },
    300_000,
  );
});
