import type { GmmParameters } from './gmm-parameters.js';

// Every statistics record carries a hash of the parameters it was computed under, so that
// sums of different parameters are refused rather than silently merged into nonsense.

/** Hash of a mixture's parameters: its family, K, D and the float64 bits of every value. */
export function mixtureHash(p: GmmParameters): string {
  return hashValues(`mixture:${p.covarianceType}:${p.nComponents}:${p.nFeatures}`, [
    p.weights,
    p.means,
    p.covariances,
  ]);
}

/** Hash of k-means centres (K x D). */
export function kmeansHash(centres: Float64Array, k: number, d: number): string {
  return hashValues(`kmeans:${k}:${d}`, [centres]);
}

/**
 * Two FNV-1a lanes (64 bits, 16 hex digits) over a tag and the little-endian float64 bytes of
 * the values: the same parameters give the same hash on every machine. It tells parameter sets
 * apart; it is no defence against a forger.
 */
function hashValues(tag: string, arrays: readonly Float64Array[]): string {
  let h1 = 0x811c9dc5;
  let h2 = 0xcbf29ce4;
  const add = (byte: number) => {
    h1 = Math.imul(h1 ^ byte, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ byte, 0x01000193) >>> 0;
    h2 = (h2 ^ (h2 >>> 13)) >>> 0;
  };
  for (let i = 0; i < tag.length; i++) add(tag.charCodeAt(i) & 0xff);
  const view = new DataView(new ArrayBuffer(8));
  for (const a of arrays) {
    for (const v of a) {
      view.setFloat64(0, v, true);
      for (let b = 0; b < 8; b++) add(view.getUint8(b));
    }
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}
