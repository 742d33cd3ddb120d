import { printable, WebGpuEmError } from '../errors.js';
import { removeTemporaryFiles } from '../io/files.js';
import { errorMessage, isAbort } from '../io/os-files.js';
import { streamSink } from '../io/bounded-writer.js';
import { packageVersion, type CliStreams, type Run } from './common.js';
import { dispatch } from './commands.js';

export type { CliStreams };

/** What stopped a run on SIGINT or SIGTERM. */
class Interrupted extends Error {
  constructor(readonly signalName: string) {
    super(`interrupted by ${signalName}`);
    this.name = 'AbortError';
  }
}

/**
 * Runs the command line; resolves to the process exit code. Without `streams` (the installed
 * command) SIGINT and SIGTERM stop the run: the fit stops at its next pass, nothing is written,
 * temporary files are removed and the code is 130 (143 for SIGTERM); a second signal exits at once.
 */
export async function main(
  argv: readonly string[],
  streams?: CliStreams,
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  const controller = new AbortController();
  const onAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const handlers: Array<[NodeJS.Signals, () => void]> = [];
  if (!streams) {
    for (const name of ['SIGINT', 'SIGTERM'] as const) {
      const handler = () => {
        if (controller.signal.aborted) {
          removeTemporaryFiles();
          process.stderr.write(
            `webgpu-em: interrupted by ${name} again; stopped at once, its temporary files removed (earlier files are unchanged)\n`,
          );
          process.exit(exitCodeOf(name));
        }
        controller.abort(new Interrupted(name));
      };
      process.on(name, handler);
      handlers.push([name, handler]);
    }
  }
  const run: Run = { streams: streams ?? processStreams(), signal: controller.signal };
  try {
    return await runArgv(argv, run);
  } catch (error) {
    return report(controller.signal.aborted ? controller.signal.reason : error, run.streams);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    for (const [name, handler] of handlers) process.off(name, handler);
  }
}

function exitCodeOf(signalName: string): number {
  return signalName === 'SIGTERM' ? 143 : 130;
}

/** The command, or the flags that stand for none (--version). */
async function runArgv(argv: readonly string[], run: Run): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-V') {
    run.streams.stdout((await packageVersion()) + '\n');
    return 0;
  }
  return dispatch(argv, run);
}

function report(error: unknown, streams: CliStreams): number {
  if (error instanceof Interrupted) {
    streams.stderr(
      `webgpu-em: ${error.message}; stopped before writing any output (earlier files are unchanged)\n`,
    );
    return exitCodeOf(error.signalName);
  }
  if (error instanceof WebGpuEmError) {
    // WebGPU messages span lines; the contract is one line per error.
    // Names from files and the environment may carry terminal escapes: escaped, and bounded.
    streams.stderr(`webgpu-em: error: ${printable(error.message.replace(/\s*\n\s*/g, ' '), 4000)}\n`);
    return error.kind === 'usage' ? 2 : 1;
  }
  if (isAbort(error)) {
    streams.stderr('webgpu-em: aborted; stopped before writing any output (earlier files are unchanged)\n');
    return 130;
  }
  streams.stderr(`webgpu-em: error: ${printable(errorMessage(error).split('\n')[0], 4000)}\n`);
  return 1;
}

function processStreams(): CliStreams {
  return {
    stdout: (t) => process.stdout.write(t),
    writeStdout: streamSink(process.stdout),
    stderr: (t) => process.stderr.write(t),
    // The launcher (bin/webgpu-em.js) reads our stderr through a pipe and says whether its own is a terminal.
    stderrIsTTY: process.stderr.isTTY === true || process.env.WEBGPU_EM_STDERR_TTY === '1',
  };
}
