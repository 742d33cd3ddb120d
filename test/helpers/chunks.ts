import type { Matrix } from '../../src/data/matrix.js';
import type { RowChunk, RowSource } from '../../src/data/row-source.js';

/**
 * A row source over a matrix in memory, cut into chunks of the given sizes (repeated to the
 * end; the last chunk takes what is left), each pass a fresh async iterable. `passes` counts them.
 */
export function chunked(
  m: Matrix,
  sizes: readonly number[],
  weights: Float64Array | null = null,
): RowSource & { passes: number } {
  const source = Object.assign(
    async function* (): AsyncGenerator<RowChunk> {
      source.passes++;
      let r = 0;
      for (let i = 0; r < m.rows; i++) {
        const n = Math.min(sizes[i % sizes.length], m.rows - r);
        yield {
          data: m.data.slice(r * m.cols, (r + n) * m.cols),
          rows: n,
          cols: m.cols,
          weights: weights ? weights.slice(r, r + n) : undefined,
        };
        r += n;
      }
    },
    { passes: 0 },
  );
  return source;
}
