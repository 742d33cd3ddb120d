// One clock for the whole process: how long JavaScript has run since the event loop last had a
// turn. Work done on the host (the CPU backend's passes, the models' loops between passes) asks
// it often and yields when a slice is used up, so that timers, signals, an abort or a dispose()
// get their turn however the work is split: a fit of many short passes yields as one long one.

/** The longest stretch of host computing without letting the event loop run. */
export const SLICE_MS = 20;

let sliceStart = performance.now();

/** Lets timers and I/O run (setImmediate in Node; a zero timeout in browsers, which lack it). */
function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) =>
    typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0),
  );
}

/** True when the current slice is used up: the caller should `await yieldTurn()`. */
export function turnDue(): boolean {
  return performance.now() - sliceStart >= SLICE_MS;
}

/** Yields to the event loop (always) and starts a new slice. */
export async function yieldTurn(): Promise<void> {
  await nextTurn();
  sliceStart = performance.now();
}

/** Yields when the slice is used up; otherwise returns at once (a resolved promise). */
export async function yieldIfDue(): Promise<void> {
  if (turnDue()) await yieldTurn();
}
