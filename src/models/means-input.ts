import { dataError } from '../errors.js';

// Means (k-means centres, a mixture's means) as users give them to start a fit from. A fitted
// model hands its own out as a matrix (`means`, `clusterCenters`: a Matrix64), so a matrix is
// accepted wherever means are, besides flat and nested arrays.

/**
 * A row-major matrix of numbers: `rows` x `cols` values in `data`, value (i, j) at
 * `data[i * cols + j]`. A model's `means` and `clusterCenters` (Matrix64) are ones.
 */
export interface MatrixLike {
  readonly data: ArrayLike<number>;
  readonly rows: number;
  readonly cols: number;
}

/** K x D means: flat (row-major), one array per mean, or a K x D {@link MatrixLike}. */
export type MeansInput = ArrayLike<number> | ArrayLike<ArrayLike<number>> | MatrixLike;

/** True for a `{ data, rows, cols }` matrix (an array, which has a length, never is one). */
export function isMatrixLike(means: unknown): means is MatrixLike {
  return (
    typeof means === 'object' &&
    means !== null &&
    !('length' in means) &&
    'data' in means &&
    'rows' in means &&
    'cols' in means
  );
}

/**
 * Means as flat or nested arrays, for the caller's own checks: a matrix's `data`, once its shape
 * is K x D (a transposed matrix holds the right number of values, so the shape is checked here);
 * arrays as they are. `what` names the means in messages; `shape` names K x D ('nClusters x
 * nFeatures').
 */
export function meansArray(
  means: MeansInput,
  k: number,
  d: number,
  what: string,
  shape: string,
): ArrayLike<number> | ArrayLike<ArrayLike<number>> {
  if (!isMatrixLike(means)) return means;
  const { data, rows, cols } = means;
  if (rows !== k || cols !== d) {
    throw dataError(
      `${what} is a ${rows} x ${cols} matrix but ${shape} = ${k} x ${d}; give K rows of D values`,
    );
  }
  if (data == null || typeof data.length !== 'number' || data.length !== rows * cols) {
    throw dataError(
      `${what}.data has ${data?.length ?? 'no'} values but rows x cols = ${rows} x ${cols} = ${rows * cols}`,
    );
  }
  return data;
}

/** D of means given for K components: a matrix's columns, a nested mean's length, or length / K. */
export function meansColumns(means: MeansInput, k: number): number {
  if (isMatrixLike(means)) return means.cols;
  const first = (means as ArrayLike<unknown>)[0];
  return typeof first === 'number'
    ? means.length / k
    : ((first as ArrayLike<number> | undefined)?.length ?? 0);
}
