/**
 * The last index with a positive value: where rounding leaves a running sum short of its
 * total, proportional sampling falls back to it (both backends sample this way).
 */
export function lastPositive(values: ArrayLike<number>): number {
  for (let n = values.length - 1; n >= 0; n--) if (values[n] > 0) return n;
  return values.length - 1;
}
