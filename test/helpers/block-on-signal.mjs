// Preloaded (node --import) into the CLI's child process by test/stops*.test.ts: on the first
// SIGINT or SIGTERM it blocks the child's event loop for 30 s, as a long GPU submission or a
// driver's compile can, so that only the launcher can end the run in time.
if (process.env.WEBGPU_EM_DIRECT === '1') {
  const block = () => {
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      // busy: no event loop turn
    }
  };
  process.once('SIGINT', block);
  process.once('SIGTERM', block);
}
