import type { ParsedOptions } from './args.js';
import type { Run } from './common.js';

// Progress of a long fit on stderr: one updating line on a terminal, a plain line every few
// seconds otherwise, nothing with --quiet. Short fits print nothing at all.

/** A line is printed once a fit has run this long, then at most this often (not a terminal). */
const PLAIN_PERIOD_MS = 3000;
/** A terminal's line is redrawn at most this often, once the fit has run this long. */
const TTY_PERIOD_MS = 200;

/** One iteration as the progress line shows it. */
export interface ProgressRecord {
  readonly iteration: number;
  readonly initIndex: number;
  /** The objective's value (the lower bound, the inertia) and its change from the last iteration. */
  readonly value: number;
  readonly change: number;
}

/** Reports the iterations of a fit; call `end()` when it stops (clears a terminal's line). */
export class Progress {
  private readonly started = performance.now();
  private last = this.started;
  private shown = false;
  private readonly tty: boolean;

  constructor(
    private readonly run: Run,
    private readonly o: ParsedOptions,
    /** 'gmm', 'kmeans'. */
    private readonly command: string,
    /** What the value is: 'lower bound', 'inertia'. */
    private readonly valueName: string,
    private readonly maxIter: number,
    private readonly nInit: number,
    /** What is counted: 'iteration', 'candidate'. */
    private readonly unit = 'iteration',
  ) {
    this.tty = run.streams.stderrIsTTY === true;
  }

  /** The fit's onIteration callback. */
  readonly update = (r: ProgressRecord): void => {
    if (this.o.quiet) return;
    const now = performance.now();
    const period = this.tty ? TTY_PERIOD_MS : PLAIN_PERIOD_MS;
    if (now - this.last < period || now - this.started < PLAIN_PERIOD_MS / (this.tty ? 3 : 1)) return;
    const rate = r.iteration / ((now - this.started) / 1000 / (r.initIndex + 1));
    const left = (this.maxIter - r.iteration + (this.nInit - r.initIndex - 1) * this.maxIter) / rate;
    const init = this.nInit > 1 ? `init ${r.initIndex + 1}/${this.nInit}, ` : '';
    const line =
      `webgpu-em: ${this.command}: ${init}${this.unit} ${r.iteration}/${this.maxIter}, ${this.valueName} ` +
      `${r.value.toPrecision(8)}, change ${Number.isFinite(r.change) ? r.change.toExponential(2) : '-'}, ` +
      `${rate.toFixed(rate < 10 ? 2 : 1)} ${this.unit === 'iteration' ? 'it' : this.unit + 's'}/s, ` +
      // Iterations stop at maxIter at the latest; larger candidates take longer than the first.
      `${this.unit === 'iteration' ? 'at most' : 'about'} ${formatSeconds(left)} left`;
    this.last = now;
    this.shown = true;
    this.run.streams.stderr(this.tty ? `\r\x1b[K${line}` : `${line}\n`);
  };

  /** Ends the progress: a terminal's line is cleared so the report starts on a clean line. */
  end(): void {
    if (this.shown && this.tty) this.run.streams.stderr('\r\x1b[K');
  }
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 90) return `${Math.ceil(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
