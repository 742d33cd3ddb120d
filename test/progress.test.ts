import { afterEach, describe, expect, it, vi } from 'vitest';
import { Progress } from '../src/cli/progress.js';

/** A Progress on a fake clock: `at(ms, iteration)` reports an iteration at that time. */
function harness(options: { tty: boolean; quiet?: boolean; maxIter?: number; nInit?: number }) {
  let now = 1000;
  vi.spyOn(performance, 'now').mockImplementation(() => now);
  let stderr = '';
  const run = {
    streams: { stdout: () => {}, stderr: (t: string) => (stderr += t), stderrIsTTY: options.tty },
    signal: new AbortController().signal,
  };
  const p = new Progress(
    run,
    { quiet: options.quiet },
    'gmm',
    'lower bound',
    options.maxIter ?? 100,
    options.nInit ?? 1,
  );
  return {
    at(ms: number, iteration: number, initIndex = 0) {
      now = 1000 + ms;
      p.update({ iteration, initIndex, value: -1.5 + iteration / 1000, change: 1 / iteration });
    },
    end: () => p.end(),
    get stderr() {
      return stderr;
    },
  };
}

afterEach(() => vi.restoreAllMocks());

describe('progress of a long fit', () => {
  it('not a terminal: nothing for a short fit, then a plain line every 3 s with rate and time left', () => {
    const h = harness({ tty: false });
    for (let i = 1; i <= 5; i++) h.at(i * 500, i); // 2.5 s: a short fit says nothing
    expect(h.stderr).toBe('');
    h.at(3000, 6);
    h.at(4000, 8); // within 3 s of the last line
    h.at(6000, 12);
    h.end();
    expect(h.stderr).toBe(
      'webgpu-em: gmm: iteration 6/100, lower bound -1.4940000, change 1.67e-1, 2.00 it/s, at most 47 s left\n' +
        'webgpu-em: gmm: iteration 12/100, lower bound -1.4880000, change 8.33e-2, 2.00 it/s, at most 44 s left\n',
    );
  });

  it('a terminal: one line redrawn in place, cleared at the end', () => {
    const h = harness({ tty: true, maxIter: 10, nInit: 2 });
    h.at(500, 1);
    h.at(1100, 2);
    h.at(1200, 3); // within 200 ms of the last redraw
    h.at(1500, 4);
    h.end();
    const draws = h.stderr.split('\r\x1b[K');
    expect(draws).toEqual([
      '',
      'webgpu-em: gmm: init 1/2, iteration 2/10, lower bound -1.4980000, change 5.00e-1, 1.82 it/s, at most 10 s left',
      'webgpu-em: gmm: init 1/2, iteration 4/10, lower bound -1.4960000, change 2.50e-1, 2.67 it/s, at most 6 s left',
      '',
    ]);
  });

  it("select's candidates: counted as such, the time left an estimate", () => {
    let now = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    let stderr = '';
    const run = {
      streams: { stdout: () => {}, stderr: (t: string) => (stderr += t) },
      signal: new AbortController().signal,
    };
    const p = new Progress(run, {}, 'select', 'BIC', 10, 1, 'candidate');
    now = 4000;
    p.update({ iteration: 2, initIndex: 0, value: 1234.5, change: -10 });
    expect(stderr).toBe(
      'webgpu-em: select: candidate 2/10, BIC 1234.5000, change -1.00e+1, 0.50 candidates/s, about 16 s left\n',
    );
  });

  it('--quiet prints nothing', () => {
    const h = harness({ tty: false, quiet: true });
    for (let i = 1; i <= 20; i++) h.at(i * 1000, i);
    h.end();
    expect(h.stderr).toBe('');
  });
});
