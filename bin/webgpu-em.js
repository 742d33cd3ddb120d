#!/usr/bin/env node
// Command-line entry point of webgpu-em; the code is in src/cli/main.ts (built into dist/).
//
// Dawn prints two "Warning: maxDynamic...BuffersPerPipelineLayout artificially reduced" lines
// from native code when it enumerates adapters, whatever limits are asked for, and no Dawn
// option or logging hook reaches them. So a command that may open a GPU runs in a child process
// whose stderr passes through here with those two lines left out (one more Node start-up,
// 0.1 to 0.3 s here);
// --verbose (or WEBGPU_EM_DIRECT=1) runs in this process and shows them.
import { spawn } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const DAWN_NOISE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced/;
// Which commands may open a GPU, from the command registry's table (a small module, no dependencies).
const { GPU_COMMANDS, AUTO_CPU_COMMANDS, AUTO_CPU_MAX_FILE_BYTES } = await load('command-table.js');
const direct =
  process.env.WEBGPU_EM_DIRECT === '1' ||
  !GPU_COMMANDS.includes(args[0]) ||
  args.some(
    (a, i) =>
      a === '--verbose' ||
      a === '--help' ||
      // -v, -h, or bundled with other short flags (-qv, -vk 3)
      /^-[qvh]*[vh]/.test(a) ||
      a === '--backend=cpu' ||
      (a === '--backend' && args[i + 1] === 'cpu'),
  ) ||
  autoOnSmallFile();

/**
 * A fit with backend 'auto' of a file too small to hold more than AUTO_CPU_MAX_VALUES values
 * runs on the CPU and opens no GPU: no child is needed.
 */
function autoOnSmallFile() {
  if (!AUTO_CPU_COMMANDS.includes(args[0]) || !args[1] || args[1].startsWith('-')) return false;
  const backend = args.find((a, i) => i > 0 && args[i - 1] === '--backend') ?? 'auto';
  if (backend !== 'auto' || args.some((a) => a.startsWith('--backend='))) return false;
  try {
    const stats = statSync(args[1]);
    return stats.isFile() && stats.size <= AUTO_CPU_MAX_FILE_BYTES;
  } catch {
    return false;
  }
}

if (direct) await runHere();
else launch();

/** A module of the built command line (dist/src/cli/), or one line saying to build the package. */
async function load(file) {
  try {
    return await import(`../dist/src/cli/${file}`);
  } catch (error) {
    if (
      error &&
      error.code === 'ERR_MODULE_NOT_FOUND' &&
      String(error.message).includes(`dist/src/cli/${file}`)
    ) {
      process.stderr.write(
        'webgpu-em: error: the package is not built; run `npm run build` (or bash scripts/setup.sh)\n',
      );
      process.exit(1);
    }
    throw error;
  }
}

async function runHere() {
  const cli = await load('main.js');
  // The launcher's channel (temporary files are reported on it) must not keep this process alive.
  process.channel?.unref();
  const code = await cli.main(args);
  // Flush stdout before exiting: a pipe may still hold the JSON result.
  process.stdout.write('', () => process.exit(code));
}

function launch() {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], {
    // The channel carries the child's temporary files (src/io/os-files.ts), as it makes them.
    stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
    // Its own process group: a terminal's Ctrl-C reaches this process only, which passes the
    // first signal on; a second one ends the child here (see below).
    detached: true,
    env: {
      ...process.env,
      WEBGPU_EM_DIRECT: '1',
      WEBGPU_EM_LAUNCHER: '1',
      ...(process.stderr.isTTY ? { WEBGPU_EM_STDERR_TTY: '1' } : {}),
    },
  });
  const temporary = new Set();
  child.on('message', (m) => {
    if (m?.webgpuEmTemporary === 'add' && typeof m.path === 'string') temporary.add(m.path);
    else if (m?.webgpuEmTemporary === 'delete') temporary.delete(m.path);
  });
  // The first signal asks the child to stop (it finishes the submission or block in flight and
  // cleans up). The second ends it at once, even while its event loop is blocked (a GPU
  // submission, a driver's compile): SIGKILL, then its temporary files are removed here.
  let signalled = false;
  const onSignal = (signal) => () => {
    if (!signalled) {
      signalled = true;
      child.kill(signal);
      return;
    }
    child.kill('SIGKILL');
    for (const file of temporary) {
      try {
        rmSync(file, { force: true, recursive: true });
      } catch {
        // best effort: exiting
      }
    }
    if (pending && !DAWN_NOISE.test(pending)) process.stderr.write(pending + '\n');
    process.stderr.write(
      `webgpu-em: interrupted by ${signal} again; stopped at once, its temporary files removed (earlier files are unchanged)\n`,
    );
    process.exit(128 + (constants.signals[signal] ?? 0));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, onSignal(signal));
  let pending = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text) => {
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop();
    const kept = lines.filter((line) => !DAWN_NOISE.test(line));
    let out = kept.length > 0 ? kept.join('\n') + '\n' : '';
    // A line still arriving that cannot be Dawn's (a terminal's progress line) is shown at once.
    if (!'Warning: maxDynamic'.startsWith(pending.slice(0, 'Warning: maxDynamic'.length))) {
      out += pending;
      pending = '';
    }
    if (out) process.stderr.write(out);
  });
  const ended = new Promise((resolve) => child.stderr.on('end', resolve));
  child.on('error', (error) => {
    process.stderr.write(`webgpu-em: error: cannot start ${process.execPath}: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', async (code, signal) => {
    await ended;
    if (pending && !DAWN_NOISE.test(pending)) process.stderr.write(pending);
    const status = code ?? 128 + (constants.signals[signal] ?? 0);
    process.stderr.write('', () => process.exit(status));
  });
}
