import { usageError } from '../errors.js';

// Outputs of any size in bounded pieces: text is formatted into a buffer of fixed size that is
// written out, and awaited (the destination's backpressure), each time it fills. An output then
// costs one buffer of memory, never its whole text (a string past V8's ~512 MiB limit cannot
// even be made).

/** Bytes a writer holds before it writes them out. */
export const WRITE_BUFFER_BYTES = 1 << 20;

/** Room for one CSV cell and its separator: String() of a float64 is at most 25 characters, of an int32 11. */
const CELL_ROOM = 32;

/**
 * Where a writer's pieces go. It must be done with the bytes when it returns (or its promise
 * resolves): the writer reuses the buffer they are a view of.
 */
export type ByteSink = (bytes: Uint8Array) => Promise<void> | void;

/** A buffer of at most `bound` bytes in front of a {@link ByteSink}. */
export class BoundedWriter {
  private readonly buffer: Uint8Array;
  private readonly encoder = new TextEncoder();
  private used = 0;
  /** The most bytes held at once (buffered and being formatted). */
  peak = 0;

  constructor(
    private readonly sink: ByteSink,
    readonly bound = WRITE_BUFFER_BYTES,
    /** Whether bytes() may be used (false for standard output, which has no file name to say .npy). */
    private readonly binary = true,
  ) {
    if (!Number.isInteger(bound) || bound < 2 * CELL_ROOM) {
      throw usageError(
        `BoundedWriter: bound must be an integer of at least ${2 * CELL_ROOM} bytes; got ${bound}`,
      );
    }
    this.buffer = new Uint8Array(bound);
  }

  /** Adds text of any length, written out a buffer at a time. */
  async text(s: string): Promise<void> {
    for (;;) {
      // encodeInto never splits a character; what did not fit goes after a flush.
      const { read, written } = this.encoder.encodeInto(s, this.buffer.subarray(this.used));
      this.used += written;
      this.peak = Math.max(this.peak, this.used);
      if (read === s.length) return;
      s = s.slice(read);
      await this.flush();
    }
  }

  /**
   * Adds `values` as CSV lines of `cols` cells each (String() of each value). Cells gather in a
   * string that, with the buffer, stays within the bound: it is moved into the buffer when one
   * more cell might not fit.
   */
  async rows(values: ArrayLike<number>, cols: number): Promise<void> {
    const limit = this.bound - CELL_ROOM;
    let line = '';
    for (let i = 0; i < values.length;) {
      for (let c = 0; c < cols; c++, i++) {
        if (this.used + line.length > limit) {
          this.ascii(line);
          line = '';
          if (this.used > limit) await this.flush();
        }
        line += c === 0 ? String(values[i]) : ',' + String(values[i]);
      }
      line += '\n';
    }
    this.ascii(line);
  }

  /** Adds bytes that already exist (a chunk's values as .npy): written out as they are, after the text before them. */
  async bytes(b: Uint8Array): Promise<void> {
    if (!this.binary) throw usageError('binary output needs a file name ending in .npy');
    await this.flush();
    if (b.length > 0) await this.sink(b);
  }

  /** Writes out what the buffer holds. */
  async flush(): Promise<void> {
    if (this.used === 0) return;
    const piece = this.buffer.subarray(0, this.used);
    this.used = 0;
    await this.sink(piece);
  }

  /** ASCII text known to fit (CSV cells): one byte a character. */
  private ascii(s: string): void {
    this.peak = Math.max(this.peak, this.used + s.length);
    this.used += this.encoder.encodeInto(s, this.buffer.subarray(this.used)).written;
  }
}

/**
 * A sink into a Node stream (standard output) that waits for each piece to be handed to the
 * system before it resolves: backpressure, and the buffer is free to reuse. A write error (a
 * reader that closed the pipe: EPIPE) rejects this write and every later one; the stream's
 * 'error' event, which would otherwise end the process with a stack trace, is taken here.
 */
export function streamSink(stream: NodeJS.WritableStream): ByteSink {
  let failed: Error | null = null;
  stream.on('error', (e: Error) => (failed ??= e));
  return (bytes) =>
    new Promise<void>((resolve, reject) => {
      if (failed) return reject(failed);
      stream.write(bytes, (e) => (e ? reject((failed ??= e)) : resolve()));
    });
}
