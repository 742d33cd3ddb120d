/**
 * What the plot shows in plot coordinates: the projection of the features onto two axes (two
 * chosen features, or the data's first two principal components), the components' 1- and
 * 2-sigma ellipses projected onto them, and the window of the data. CPU, float64.
 */
import type { Shape } from './algorithms.js';

/** Two rows of D: the plotted axes in feature space. */
export interface Projection {
  readonly rows: Float64Array;
  readonly cols: number;
  readonly labels: [string, string];
}

/** The axes of features `a` and `b` (b = -1: a single feature, plotted against 0). */
export function featureAxes(cols: number, a: number, b: number, names: readonly string[] | null): Projection {
  const rows = new Float64Array(2 * cols);
  rows[a] = 1;
  if (b >= 0) rows[cols + b] = 1;
  const name = (i: number) => (i < 0 ? '0' : (names?.[i] ?? `feature ${i + 1}`));
  return { rows, cols, labels: [name(a), name(b)] };
}

/** The first two principal axes of (a sample of) the rows: power iteration with deflation. */
export function pcaAxes(data: Float32Array, rows: number, cols: number): Projection {
  const step = Math.max(1, Math.floor(rows / 200_000));
  const mean = new Float64Array(cols);
  let n = 0;
  for (let r = 0; r < rows; r += step, n++) for (let i = 0; i < cols; i++) mean[i] += data[r * cols + i];
  for (let i = 0; i < cols; i++) mean[i] /= n;
  const cov = new Float64Array(cols * cols);
  for (let r = 0; r < rows; r += step) {
    for (let i = 0; i < cols; i++) {
      const a = data[r * cols + i] - mean[i];
      for (let j = 0; j <= i; j++) cov[i * cols + j] += a * (data[r * cols + j] - mean[j]);
    }
  }
  for (let i = 0; i < cols; i++) for (let j = 0; j <= i; j++) cov[j * cols + i] = cov[i * cols + j] /= n;
  const out = new Float64Array(2 * cols);
  for (let axis = 0; axis < Math.min(2, cols); axis++) {
    let v = Float64Array.from({ length: cols }, (_, i) => 1 + i * 0.37 + axis);
    for (let it = 0; it < 300; it++) {
      const w = new Float64Array(cols);
      for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) w[i] += cov[i * cols + j] * v[j];
      if (axis === 1) {
        // Deflate: keep w orthogonal to the first axis.
        let dot = 0;
        for (let i = 0; i < cols; i++) dot += w[i] * out[i];
        for (let i = 0; i < cols; i++) w[i] -= dot * out[i];
      }
      const norm = Math.hypot(...w) || 1;
      v = w.map((x) => x / norm);
    }
    out.set(v, axis * cols);
  }
  return { rows: out, cols, labels: ['principal component 1', 'principal component 2'] };
}

/** Projects a point of feature space. */
export function project(p: Projection, x: ArrayLike<number>): [number, number] {
  let a = 0;
  let b = 0;
  for (let i = 0; i < p.cols; i++) {
    a += p.rows[i] * x[i];
    b += p.rows[p.cols + i] * x[i];
  }
  return [a, b];
}

/** The plotted window: centre and half-extents in plot coordinates. */
export interface Window {
  cx: number;
  cy: number;
  halfWidth: number;
  halfHeight: number;
}

/** A window around (a sample of) the projected rows, with the aspect ratio of the canvas. */
export function fitWindow(p: Projection, data: Float32Array, rows: number, aspect: number): Window {
  const step = Math.max(1, Math.floor(rows / 100_000));
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let r = 0; r < rows; r += step) {
    const [x, y] = project(p, data.subarray(r * p.cols, (r + 1) * p.cols));
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  const halfWidth = Math.max((x1 - x0) / 2, (y1 - y0) / 2 / aspect, 1e-9) * 1.08;
  return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, halfWidth, halfHeight: halfWidth * aspect };
}

/**
 * Line-list vertices (x, y, r, g, b, a per vertex) of each shape's 1- and 2-sigma ellipses in
 * plot coordinates (the projected covariance P Σ Pᵀ), or a cross at each centre when the shape
 * has no covariance. White (the 2-sigma ellipse fainter): a cluster's own colour would vanish
 * on its points.
 */
export function outlines(
  p: Projection,
  shapes: readonly Shape[],
  crossSize: number,
): Float32Array<ArrayBuffer> {
  const segments = 72;
  const out: number[] = [];
  const vertex = (x: number, y: number, c: readonly number[]) => out.push(x, y, c[0], c[1], c[2], c[3]);
  const white = [1, 1, 1, 0.95];
  for (const s of shapes) {
    const [mx, my] = project(p, s.mean);
    if (!s.covariance) {
      vertex(mx - crossSize, my, white);
      vertex(mx + crossSize, my, white);
      vertex(mx, my - crossSize, white);
      vertex(mx, my + crossSize, white);
      continue;
    }
    // S = P Σ Pᵀ (2 x 2).
    const d = p.cols;
    const cov = s.covariance;
    const q = [0, 0, 0, 0];
    for (let a = 0; a < 2; a++) {
      for (let b = 0; b < 2; b++) {
        let sum = 0;
        for (let i = 0; i < d; i++) {
          const pa = p.rows[a * d + i];
          if (pa === 0) continue;
          for (let j = 0; j < d; j++) sum += pa * cov[i * d + j] * p.rows[b * d + j];
        }
        q[a * 2 + b] = sum;
      }
    }
    const [sxx, sxy, syy] = [q[0], q[1], q[3]];
    const mid = (sxx + syy) / 2;
    const radius = Math.hypot((sxx - syy) / 2, sxy);
    const l1 = Math.max(mid + radius, 0);
    const l2 = Math.max(mid - radius, 0);
    const theta = Math.abs(sxy) < 1e-300 && sxx >= syy ? 0 : Math.atan2(l1 - sxx, sxy);
    const [ux, uy] =
      Math.abs(sxy) < 1e-300 ? (sxx >= syy ? [1, 0] : [0, 1]) : [Math.cos(theta), Math.sin(theta)];
    for (const [sigma, alpha] of [
      [1, 0.95],
      [2, 0.5],
    ]) {
      const a = sigma * Math.sqrt(l1);
      const b = sigma * Math.sqrt(l2);
      for (let t = 0; t < segments; t++) {
        for (const u of [t, t + 1]) {
          const angle = (2 * Math.PI * u) / segments;
          const ex = a * Math.cos(angle);
          const ey = b * Math.sin(angle);
          vertex(mx + ex * ux - ey * uy, my + ex * uy + ey * ux, [1, 1, 1, alpha]);
        }
      }
    }
  }
  return Float32Array.from(out);
}
