/**
 * The demo's data: seeded generators with known truth, and the limits every data set meets.
 * Pure TypeScript (no DOM, no GPU): the end-to-end test regenerates the same data in Node.
 */

/** Most rows a data set may have, and most values (rows x features) held in memory at once. */
export const MAX_ROWS = 10_000_000;
export const MAX_VALUES = 64_000_000;

/** A data set: row-major float32 samples and, for generated data, each sample's true group. */
export interface Dataset {
  readonly name: string;
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
  /** Column names (a CSV header), or null. */
  readonly columns: readonly string[] | null;
  /** The generator's group of each row (its component, ring or moon), or null for a file. */
  readonly truth: Int32Array | null;
}

/** The shapes the generator draws. */
export const SHAPES = {
  blobs: 'Gaussian blobs (equal, round)',
  anisotropic: 'Anisotropic blobs (stretched, rotated)',
  unequal: 'Unequal blobs (weights and spreads differ)',
  rings: 'Concentric rings (a mixture needs many components)',
  moons: 'Interleaved moons (a mixture needs many components)',
} as const;
export type Shape = keyof typeof SHAPES;

export interface GeneratorSpec {
  readonly shape: Shape;
  readonly n: number;
  readonly d: number;
  /** Groups: blobs, rings or moons. */
  readonly k: number;
  readonly seed: number;
}

/** Checks a generator's sizes; the message says what to change. */
export function checkSpec(s: GeneratorSpec): void {
  if (!(s.shape in SHAPES))
    throw new Error(`unknown shape '${s.shape}'; pick one of ${Object.keys(SHAPES).join(', ')}`);
  if (!Number.isInteger(s.n) || s.n < 2 || s.n > MAX_ROWS)
    throw new Error(`N must be an integer from 2 to ${MAX_ROWS.toLocaleString('en')}`);
  if (!Number.isInteger(s.d) || s.d < 2 || s.d > 64) throw new Error('D must be an integer from 2 to 64');
  if (!Number.isInteger(s.k) || s.k < 1 || s.k > 64)
    throw new Error('the number of groups must be from 1 to 64');
  if (s.n * s.d > MAX_VALUES)
    throw new Error(
      `N x D = ${(s.n * s.d).toLocaleString('en')} values exceed the demo's ${MAX_VALUES.toLocaleString('en')}; lower N or D`,
    );
}

/** A small seeded generator (mulberry32) with Gaussian draws: the same seed, the same data. */
export class Rng {
  private state: number;
  private spare: number | null = null;
  constructor(seed: number) {
    this.state = (seed ^ 0x9e3779b9) >>> 0;
  }
  uniform(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u = 1 - this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const a = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(a);
    return r * Math.cos(a);
  }
}

interface Component {
  readonly centre: Float64Array;
  /** x = centre + A z, A row-major D x D. */
  readonly mixing: Float64Array;
}

/** K centres at least `separation` apart (rejection sampling in a box that grows when crowded). */
function centres(rng: Rng, k: number, d: number, separation: number): Float64Array[] {
  const out: Float64Array[] = [];
  let box = separation * Math.max(1, Math.cbrt(k));
  for (let tries = 0; out.length < k; tries++) {
    if (tries > 200) {
      box *= 1.2;
      tries = 0;
    }
    const c = Float64Array.from({ length: d }, () => (rng.uniform() - 0.5) * 2 * box);
    if (out.every((o) => Math.hypot(...o.map((v, i) => v - c[i])) >= separation)) out.push(c);
  }
  return out;
}

/** A random rotation (Gram-Schmidt of a Gaussian matrix) scaled per axis: the mixing of one blob. */
function stretched(rng: Rng, d: number, scales: number[]): Float64Array {
  const q = Array.from({ length: d }, () => Float64Array.from({ length: d }, () => rng.normal()));
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < i; j++) {
      let dot = 0;
      for (let t = 0; t < d; t++) dot += q[i][t] * q[j][t];
      for (let t = 0; t < d; t++) q[i][t] -= dot * q[j][t];
    }
    const norm = Math.hypot(...q[i]);
    for (let t = 0; t < d; t++) q[i][t] /= norm;
  }
  const a = new Float64Array(d * d);
  for (let r = 0; r < d; r++) for (let c = 0; c < d; c++) a[r * d + c] = q[c][r] * scales[c];
  return a;
}

/**
 * Generates a data set in blocks of rows, awaiting `progress` between blocks (so a Worker can
 * answer messages and report). Rows come in random group order; `truth` says each row's group.
 */
export async function generate(
  spec: GeneratorSpec,
  progress: (fraction: number) => Promise<void> | void = () => {},
): Promise<Dataset> {
  checkSpec(spec);
  const { shape, n, d, k, seed } = spec;
  const rng = new Rng(seed);
  const data = new Float32Array(n * d);
  const truth = new Int32Array(n);
  let weights = new Array<number>(k).fill(1 / k);
  let components: Component[] = [];
  if (shape === 'blobs' || shape === 'anisotropic' || shape === 'unequal') {
    const spreads = Array.from({ length: k }, () => (shape === 'unequal' ? 0.4 + 1.6 * rng.uniform() : 1));
    if (shape === 'unequal') {
      const raw = Array.from({ length: k }, (_, i) => 0.5 ** (i / 2) * (0.5 + rng.uniform()));
      const sum = raw.reduce((a, b) => a + b, 0);
      weights = raw.map((w) => w / sum);
    }
    const separation = shape === 'anisotropic' ? 14 : shape === 'unequal' ? 12 : 8;
    components = centres(rng, k, d, separation).map((centre, c) => {
      const scales = Array.from({ length: d }, (_, i) =>
        shape === 'anisotropic' ? (i === 0 ? 3 : 0.4 + 0.4 * rng.uniform()) : spreads[c],
      );
      return { centre, mixing: stretched(rng, d, scales) };
    });
  }
  const cumulative: number[] = [];
  let total = 0;
  for (const w of weights) cumulative.push((total += w));
  const z = new Float64Array(d);
  const block = 250_000;
  for (let first = 0; first < n; first += block) {
    const last = Math.min(n, first + block);
    for (let r = first; r < last; r++) {
      const u = rng.uniform();
      let g = 0;
      while (g < k - 1 && u >= cumulative[g]) g++;
      truth[r] = g;
      const row = r * d;
      for (let i = 0; i < d; i++) z[i] = rng.normal();
      if (components.length > 0) {
        const { centre, mixing } = components[g];
        for (let i = 0; i < d; i++) {
          let v = centre[i];
          for (let j = 0; j < d; j++) v += mixing[i * d + j] * z[j];
          data[row + i] = v;
        }
      } else if (shape === 'rings') {
        // Ring g of radius 3(g + 1) in the first two features, noise in the others.
        const angle = 2 * Math.PI * rng.uniform();
        const radius = 3 * (g + 1) + 0.25 * z[0];
        data[row] = radius * Math.cos(angle);
        data[row + 1] = radius * Math.sin(angle);
        for (let i = 2; i < d; i++) data[row + i] = 0.25 * z[i];
      } else {
        // Moon g: a half circle of radius 4, every other one upside down, shifted along x.
        const angle = Math.PI * rng.uniform();
        const flip = g % 2 === 0 ? 1 : -1;
        data[row] = 4 * Math.cos(angle) + 4 * g + 0.3 * z[0];
        data[row + 1] = flip * (4 * Math.sin(angle) - 1) + 0.3 * z[1];
        for (let i = 2; i < d; i++) data[row + i] = 0.3 * z[i];
      }
    }
    await progress(last / n);
  }
  return {
    name: `${SHAPES[shape].split(' (')[0].toLowerCase()}, N = ${n.toLocaleString('en')}, D = ${d}, ${k} groups, seed ${seed}`,
    data,
    rows: n,
    cols: d,
    columns: null,
    truth,
  };
}

/**
 * The adjusted Rand index of two labellings (Hubert and Arabie): 1 for the same partition up to
 * renaming, about 0 for chance. Labels are small non-negative integers.
 */
export function adjustedRandIndex(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (b.length !== n) throw new Error('labellings of different lengths');
  let ka = 0;
  let kb = 0;
  for (let i = 0; i < n; i++) {
    ka = Math.max(ka, a[i] + 1);
    kb = Math.max(kb, b[i] + 1);
  }
  const table = new Float64Array(ka * kb);
  const rowSums = new Float64Array(ka);
  const colSums = new Float64Array(kb);
  for (let i = 0; i < n; i++) {
    table[a[i] * kb + b[i]]++;
    rowSums[a[i]]++;
    colSums[b[i]]++;
  }
  const pairs = (x: number) => (x * (x - 1)) / 2;
  let index = 0;
  for (const v of table) index += pairs(v);
  let sa = 0;
  let sb = 0;
  for (const v of rowSums) sa += pairs(v);
  for (const v of colSums) sb += pairs(v);
  const expected = (sa * sb) / pairs(n);
  const max = (sa + sb) / 2;
  return max === expected ? 1 : (index - expected) / (max - expected);
}
