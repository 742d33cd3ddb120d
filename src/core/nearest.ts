// The nearest centre on the host: one function for the CPU backend's passes and for assigning
// the samples to a fit's initial centres, so both rank in float64 and break ties alike.

/**
 * The nearest of K centres (K x D, row-major) to row n of x and its squared distance, summed in
 * float64 over the features in order. A tie goes to the lowest index (and a row whose every
 * distance is NaN to centre 0, at distance Infinity).
 */
export function nearestCentre(
  x: Float32Array | Float64Array,
  d: number,
  n: number,
  centres: Float64Array,
  k: number,
): [number, number] {
  let best = 0;
  let bestDist = Infinity;
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let i = 0; i < d; i++) {
      const t = x[n * d + i] - centres[c * d + i];
      s += t * t;
    }
    if (s < bestDist) {
      best = c;
      bestDist = s;
    }
  }
  return [best, bestDist];
}
