import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import {
  covarianceMatrices,
  covariancePriorFromArray,
  family,
  priorDims,
  priorLength,
} from '../src/core/families.js';
import { packedIndex, packedSize, unpackSymmetric } from '../src/core/linalg.js';
import { COVARIANCE_TYPES, type CovarianceType } from '../src/core/names.js';
import { Random } from '../src/core/random.js';

const root = join(import.meta.dirname, '..');

/** The files that may name the families: the name table and the family table. */
const FAMILY_TABLES = ['src/core/names.ts', 'src/core/families.ts'];

/**
 * Literals that are spelt like a family but stay outside the tables, counted per file and name.
 * A literal is counted when it is a family name or quotes one ('tied' inside a message).
 */
const ALLOWED: Record<
  string,
  { readonly names: Partial<Record<CovarianceType, number>>; readonly why: string }
> = {
  'src/backends/webgpu/layout.ts': {
    names: { full: 6 },
    why: "StatsKind 'full': the GPU kernels' kind of sums (every pair), another concept with its own tests",
  },
  'src/backends/webgpu/capacity.ts': { names: { full: 1 }, why: "StatsKind 'full'" },
  'src/backends/webgpu/mixture-workspace.ts': { names: { full: 2 }, why: "StatsKind 'full'" },
  'src/backends/webgpu/webgpu-backend.ts': {
    names: { full: 3, diag: 1 },
    why: 'the use whose GPU limits bound data is checked against (default: the strictest), and a StatsKind turned back into such a use',
  },
  'src/backends/select.ts': {
    names: { full: 1 },
    why: 'the default use of bound data: the strictest GPU limits',
  },
  'src/models/shard-statistics.ts': {
    names: { full: 1 },
    why: 'the default use of a shard: the strictest GPU limits',
  },
  'src/cli/info.ts': {
    names: { full: 1, diag: 1 },
    why: 'the GPU feature limit of each kind of sums, reported by info',
  },
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every string and template literal (comments are not literals) that is or quotes a family name. */
function familyLiterals(source: string): { name: CovarianceType; line: number }[] {
  const file = ts.createSourceFile('scanned.ts', source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: { name: CovarianceType; line: number }[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateLiteralToken(node)) {
      const text = (node as ts.LiteralLikeNode).text;
      for (const name of COVARIANCE_TYPES) {
        if (text === name || text.includes(`'${name}'`) || text.includes(`"${name}"`))
          found.push({ name, line: file.getLineAndCharacterOfPosition(node.getStart()).line + 1 });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe('the family table is the only place that knows the families', () => {
  it('no family name is written in src/ outside the name and family tables, but the allowed ones', () => {
    const counts = new Map<string, Partial<Record<CovarianceType, number>>>();
    const unexpected: string[] = [];
    for (const path of sources(join(root, 'src'))) {
      const file = relative(root, path).split('\\').join('/');
      if (FAMILY_TABLES.includes(file)) continue;
      for (const { name, line } of familyLiterals(readFileSync(path, 'utf8'))) {
        const c = counts.get(file) ?? {};
        c[name] = (c[name] ?? 0) + 1;
        counts.set(file, c);
        if (c[name] > (ALLOWED[file]?.names[name] ?? 0))
          unexpected.push(`${file}:${line} '${name}' (ask core/families.ts, or allow it here saying why)`);
      }
    }
    expect(unexpected).toEqual([]);
    // An allowance no longer used is removed, so that the list stays what must stay.
    const stale = Object.entries(ALLOWED).flatMap(([file, { names }]) =>
      Object.entries(names)
        .filter(([name, n]) => (counts.get(file)?.[name as CovarianceType] ?? 0) < n!)
        .map(([name]) => `${file} '${name}'`),
    );
    expect(stale).toEqual([]);
  });

  it('the scan finds family names in code and not in comments', () => {
    const probe = [
      "// 'full' in a comment is not code",
      "/* nor 'tied' here */ const fully = 'fully';",
      "const a = 'spherical';",
      "const b = `a ${a} of 'tied' covariances`;",
      'type C = "diag" | \'other\';',
    ].join('\n');
    expect(familyLiterals(probe)).toEqual([
      { name: 'spherical', line: 3 },
      { name: 'tied', line: 4 },
      { name: 'diag', line: 5 },
    ]);
  });
});

/** One component's covariance as this family keeps it, from a dense packed one (scikit-learn's reductions). */
const REDUCE: Record<CovarianceType, (packed: Float64Array, d: number) => number[]> = {
  full: (p) => Array.from(p),
  tied: (p) => Array.from(p),
  diag: (p, d) => Array.from({ length: d }, (_, i) => p[packedIndex(i, i)]),
  spherical: (p, d) => [
    Array.from({ length: d }, (_, i) => p[packedIndex(i, i)]).reduce((a, b) => a + b) / d,
  ],
};

/** A random symmetric positive definite matrix, packed. */
function spdPacked(d: number, rng: Random): Float64Array {
  const a = Float64Array.from({ length: d * d }, () => rng.normal());
  const out = new Float64Array(packedSize(d));
  for (let i = 0; i < d; i++)
    for (let j = 0; j <= i; j++) {
      let s = i === j ? d : 0;
      for (let t = 0; t < d; t++) s += a[i * d + t] * a[j * d + t];
      out[packedIndex(i, j)] = s;
    }
  return out;
}

const relativeError = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let worst = 0;
  for (let i = 0; i < a.length; i++)
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return worst;
};

describe.each(COVARIANCE_TYPES)('the %s family', (type) => {
  const f = family(type);
  const [k, d] = [3, 4];

  it('shares one covariance exactly when its shape has no K', () => {
    expect(f.shared).toBe(!f.dims.includes('K'));
    expect(f.storedLength(k, d) === f.storedLength(1, d)).toBe(f.shared);
  });

  it("Wishart step: scikit-learn's W_k^-1 / nu_k, against the dense float64 reference", () => {
    const rng = new Random(3);
    // Sample covariances and the prior as the family stores them, from dense SPD matrices.
    const sk = new Float64Array(f.storedLength(k, d));
    const width = f.storedLength(1, d);
    for (let c = 0; c < sk.length / width; c++) sk.set(REDUCE[type](spdPacked(d, rng), d), c * width);
    const prior = Float64Array.from(REDUCE[type](spdPacked(d, rng), d));
    const nk = Float64Array.of(5.5, 120, 0.25);
    const beta0 = 0.7;
    const beta = Float64Array.from(nk, (n) => beta0 + n);
    const nkSum = nk.reduce((a, b) => a + b);
    const nu = Float64Array.from(nk, (n) => d + (f.shared ? nkSum / k : n));
    const diff = Float64Array.from({ length: k * d }, () => rng.normal() * 2);
    const actual = f.wishartCovariances({ sk, nk, diff, beta, nu, beta0, prior, d });
    expect(actual.length).toBe(f.storedLength(k, d));

    // Dense: A_k = W_0^-1 + N_k S_k + N_k beta_0 / beta_k (x_k - m_0)(x_k - m_0)^T; a shared
    // covariance is the mean of the A_k, each is divided by its nu_k, then reduced as the family keeps it.
    const P = packedSize(d);
    const priorDense = f.componentCovariance(prior, 0, d);
    const a = Array.from({ length: k }, (_, c) => {
      const s = f.componentCovariance(sk, c, d);
      return Float64Array.from({ length: P }, (_, e) => {
        const i = Math.floor((Math.sqrt(8 * e + 1) - 1) / 2);
        const j = e - (i * (i + 1)) / 2;
        return priorDense[e] + nk[c] * s[e] + ((nk[c] * beta0) / beta[c]) * diff[c * d + i] * diff[c * d + j];
      });
    });
    const targets = f.shared
      ? [Float64Array.from({ length: P }, (_, e) => a.reduce((t, m) => t + m[e], 0) / k / nu[0])]
      : a.map((m, c) => m.map((v) => v / nu[c]));
    const expected = targets.flatMap((t) => REDUCE[type](t, d));
    expect(relativeError(actual, expected)).toBeLessThan(1e-12);
  });

  it("default covariance prior: the data's covariance as the family keeps it", () => {
    const cov = spdPacked(d, new Random(5));
    const stored = f.fromCovariance(cov, d);
    expect(Array.from(stored)).toEqual(REDUCE[type](cov, d));
    expect(stored.length).toBe(f.storedLength(1, d));
    // In scikit-learn's shape and back: the prior's shape is the family's without K.
    const flat = f.toArray(stored, 1, d);
    expect(flat.length).toBe(priorLength(type, d));
    expect(priorDims(type)).toEqual(f.dims.filter((dim) => dim === 'D'));
    expect(Array.from(covariancePriorFromArray(type, flat, d)!)).toEqual(Array.from(stored));
  });

  it('a covariance prior that is not positive definite is refused', () => {
    const bad = f.fromCovariance(
      Float64Array.from({ length: packedSize(d) }, (_, e) => (e === 0 ? -10 : 0.5)),
      d,
    );
    const flat = f.toArray(bad, 1, d);
    if (f.statistics === 'packed') expect(covariancePriorFromArray(type, flat, d)).toBeNull();
    else expect(() => covariancePriorFromArray(type, flat, d)).toThrow(/variances must be > 0/);
  });

  it("D x D matrices for drawing: each component's covariance in full", () => {
    const rng = new Random(8);
    const dense = new Float64Array(k * d * d);
    for (let c = 0; c < k; c++) unpackSymmetric(spdPacked(d, rng), d, dense, c * d * d);
    const natural = f.fromFullMatrices(dense, k, d);
    const matrices = covarianceMatrices(type, natural, k, d);
    expect(matrices.length).toBe(k);
    for (let c = 0; c < k; c++) {
      const source = f.shared ? 0 : c;
      for (let i = 0; i < d; i++)
        for (let j = 0; j < d; j++) {
          // full and tied keep the matrix; diag its diagonal; spherical (fromFullMatrices) its first variance.
          const full = dense[source * d * d + i * d + j];
          const want =
            f.statistics === 'packed'
              ? full
              : i !== j
                ? 0
                : f.dims.includes('D')
                  ? full
                  : dense[source * d * d];
          expect(matrices[c][i * d + j]).toBe(want);
        }
    }
  });
});
