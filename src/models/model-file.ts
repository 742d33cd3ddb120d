import { family } from '../core/families.js';
import { COVARIANCE_TYPES, type CovarianceType } from '../core/names.js';
import { dataError } from '../errors.js';
import { BGMM_FORMAT, GMM_FORMAT, jsonShape, KMEANS_FORMAT, TYPE_LIST } from './model-write.js';
export { BGMM_FORMAT, GMM_FORMAT, gmmModelToJson, KMEANS_FORMAT, kmeansModelToJson } from './model-write.js';

export type { CovarianceType };

/** A parsed model: flat float64 arrays. covariances, when present, is always expanded to full K x D x D row-major. */
export interface ModelSpec {
  format: 'webgpu-em/gmm@1' | 'webgpu-em/kmeans@1' | 'webgpu-em/bgmm@1';
  nComponents: number;
  nFeatures: number;
  means: Float64Array;
  weights: Float64Array | null;
  covariances: Float64Array | null;
  covarianceType: CovarianceType | null;
  /** The names of the training data's columns, when the model carries them (length D). */
  columns: string[] | null;
}

/** The model formats this version reads, by kind: a kind's other versions are refused by name. */
const FORMAT_VERSIONS: Record<string, string> = { gmm: GMM_FORMAT, kmeans: KMEANS_FORMAT, bgmm: BGMM_FORMAT };

/**
 * Validates a model read from JSON: a gmm or k-means model, or a result object whose `model` field
 * holds one. A model without `format` is accepted when it has `means` and nothing else of a mixture
 * (it is then a means-only k-means model). Weights are renormalised to sum to exactly 1; full and tied
 * covariances are made exactly symmetric; every covariance type is expanded to full K x D x D.
 * Errors name `source` and the JSON path of the offending value.
 */
export function parseModel(json: unknown, source = '<model>'): ModelSpec {
  if (!isRecord(json)) {
    throw dataError(
      `${source}: expected a JSON object holding a model, got ${describe(json)}; write {"format": "${GMM_FORMAT}", ...} or a result object with a "model" field`,
    );
  }
  let obj: Record<string, unknown> = json;
  let prefix = '';
  const known = (f: unknown): f is ModelSpec['format'] =>
    f === GMM_FORMAT || f === KMEANS_FORMAT || f === BGMM_FORMAT;
  if (!known(obj.format) && !('means' in obj) && 'model' in obj) {
    if (!isRecord(obj.model)) {
      throw dataError(`${source}: model must be a JSON object holding the model, got ${describe(obj.model)}`);
    }
    obj = obj.model;
    prefix = 'model.';
  }
  const p = new Paths(source, prefix);

  let format = obj.format;
  if (format === undefined) {
    if (!('means' in obj)) {
      throw dataError(
        `${source}: no model found (no "format" and no "means"${prefix ? ' in "model"' : ''}); expected {"format": "${GMM_FORMAT}" or "${KMEANS_FORMAT}", "means": [...], ...} or a result object with a "model" field`,
      );
    }
    if ('weights' in obj || 'covariances' in obj) {
      throw dataError(
        `${source}: ${p.at('format')} is missing; add "format": "${GMM_FORMAT}" (the model has weights/covariances, so it is not a means-only model)`,
      );
    }
    format = KMEANS_FORMAT;
  }
  if (typeof format !== 'string') {
    throw dataError(
      `${source}: ${p.at('format')} must be a string, got ${describe(format)}; use "${GMM_FORMAT}" or "${KMEANS_FORMAT}"`,
    );
  }
  if (!known(format)) {
    const kind = /^webgpu-em\/([a-z0-9-]+)@(\S+)$/.exec(format);
    if (kind && FORMAT_VERSIONS[kind[1]]) {
      throw dataError(
        `${source}: the model is in format ${JSON.stringify(format)} but this version of webgpu-em reads ${JSON.stringify(FORMAT_VERSIONS[kind[1]])}; use the webgpu-em that wrote it, or refit and save the model with this one`,
      );
    }
    throw dataError(
      `${source}: unknown model format ${JSON.stringify(format)} at ${p.at('format')}; accepted formats are "${GMM_FORMAT}", "${BGMM_FORMAT}" and "${KMEANS_FORMAT}"`,
    );
  }

  // means: [K][D]
  if (!('means' in obj))
    throw dataError(`${source}: ${p.at('means')} is missing; a model needs means [K][D]`);
  const meansIn = p.array(obj.means, 'means', 'one array of D numbers per component');
  const K = meansIn.length;
  if (K === 0) throw dataError(`${source}: ${p.at('means')} is empty; a model needs at least one component`);
  let D: number;
  if (obj.nFeatures !== undefined) {
    const nf = obj.nFeatures;
    if (typeof nf !== 'number' || !Number.isInteger(nf) || nf < 1) {
      throw dataError(`${source}: ${p.at('nFeatures')} is ${describe(nf)}; it must be a positive integer`);
    }
    D = nf;
  } else {
    const first = meansIn[0];
    if (!Array.isArray(first) || first.length === 0) {
      throw dataError(
        `${source}: ${p.at('means[0]')} must be a non-empty array of numbers, got ${describe(first)}`,
      );
    }
    D = first.length;
  }
  // Every row's length is checked before anything of size K x D is made.
  const rowsIn = meansIn.map((row, k) => {
    const values = p.array(row, `means[${k}]`, `${D} numbers`);
    if (values.length !== D) {
      throw dataError(
        `${source}: ${p.at(`means[${k}]`)} has ${values.length} values but nFeatures is ${D}; every mean needs one value per feature`,
      );
    }
    return values;
  });
  const means = new Float64Array(K * D);
  rowsIn.forEach((row, k) => {
    for (let d = 0; d < D; d++) means[k * D + d] = p.num(row[d], `means[${k}][${d}]`);
  });

  const columns = readColumns(p, obj.columns, D);
  // A k-means model, or a mixture given by its means alone.
  const meansOnly: ModelSpec = {
    format,
    nComponents: K,
    nFeatures: D,
    means,
    weights: null,
    covariances: null,
    covarianceType: null,
    columns,
  };
  if (format === KMEANS_FORMAT) return meansOnly;

  // gmm
  const covType = obj.covarianceType;
  if (covType !== undefined && !COVARIANCE_TYPES.includes(covType as CovarianceType)) {
    throw dataError(
      `${source}: ${p.at('covarianceType')} is ${describe(covType)}; it must be one of ${TYPE_LIST}`,
    );
  }
  const hasWeights = obj.weights !== undefined;
  const hasCov = obj.covariances !== undefined;
  if (!hasWeights && !hasCov) return meansOnly;
  if (!hasWeights || !hasCov) {
    const missing = hasWeights ? 'covariances' : 'weights';
    throw dataError(
      `${source}: ${p.at(missing)} is missing; a gmm model needs both weights and covariances, or neither (means only)`,
    );
  }
  if (covType === undefined) {
    throw dataError(
      `${source}: ${p.at('covarianceType')} is missing; set it to one of ${TYPE_LIST} to match the shape of covariances`,
    );
  }
  const type = covType as CovarianceType;

  // weights: [K], non-negative, summing to 1
  const wIn = p.array(obj.weights, 'weights', `${K} numbers`);
  if (wIn.length !== K) {
    throw dataError(
      `${source}: ${p.at('weights')} has ${wIn.length} values but means has ${K} components; give one weight per component`,
    );
  }
  const weights = new Float64Array(K);
  let sum = 0;
  for (let k = 0; k < K; k++) {
    const w = p.num(wIn[k], `weights[${k}]`);
    if (w < 0) throw dataError(`${source}: ${p.at(`weights[${k}]`)} is ${w}; weights must be >= 0`);
    weights[k] = w;
    sum += w;
  }
  if (!(Math.abs(sum - 1) <= 1e-6)) {
    throw dataError(
      `${source}: ${p.at('weights')} sum to ${sum}, not 1 (within 1e-6); normalise the weights`,
    );
  }
  for (let k = 0; k < K; k++) weights[k] /= sum;

  // covariances, expanded to [K][D][D]
  const covariances = new Float64Array(K * D * D);
  const shape = jsonShape(type);
  const what = `covariances for covarianceType "${type}" have shape ${shape} (K = ${K}, D = ${D})`;
  const { statistics, dims } = family(type);
  if (statistics === 'diagonal') {
    const cIn = p.array(obj.covariances, 'covariances', what);
    if (cIn.length !== K) {
      throw dataError(`${source}: ${p.at('covariances')} has ${cIn.length} entries but K = ${K}; ${what}`);
    }
    for (let k = 0; k < K; k++) {
      const base = k * D * D;
      if (dims.length === 1) {
        const v = positive(p, cIn[k], `covariances[${k}]`);
        for (let d = 0; d < D; d++) covariances[base + d * D + d] = v;
      } else {
        const row = p.array(cIn[k], `covariances[${k}]`, what);
        if (row.length !== D) {
          throw dataError(
            `${source}: ${p.at(`covariances[${k}]`)} has ${row.length} values but D = ${D}; ${what}`,
          );
        }
        for (let d = 0; d < D; d++)
          covariances[base + d * D + d] = positive(p, row[d], `covariances[${k}][${d}]`);
      }
    }
  } else if (dims[0] !== 'K') {
    readMatrix(p, obj.covariances, 'covariances', D, what, covariances, 0);
    for (let k = 1; k < K; k++) covariances.copyWithin(k * D * D, 0, D * D);
  } else {
    const cIn = p.array(obj.covariances, 'covariances', what);
    if (cIn.length !== K) {
      throw dataError(`${source}: ${p.at('covariances')} has ${cIn.length} matrices but K = ${K}; ${what}`);
    }
    for (let k = 0; k < K; k++) readMatrix(p, cIn[k], `covariances[${k}]`, D, what, covariances, k * D * D);
  }

  return {
    format,
    nComponents: K,
    nFeatures: D,
    means,
    weights,
    covariances,
    covarianceType: type,
    columns,
  };
}

/** The optional `columns`: D distinct-or-not strings, one per feature. */
function readColumns(p: Paths, v: unknown, D: number): string[] | null {
  if (v === undefined || v === null) return null;
  const list = p.array(v, 'columns', `${D} column names`);
  if (list.length !== D) {
    throw dataError(
      `${p.source}: ${p.at('columns')} has ${list.length} names but the model has ${D} features; give one name per feature or drop "columns"`,
    );
  }
  return list.map((name, i) => {
    if (typeof name !== 'string') {
      throw dataError(
        `${p.source}: ${p.at(`columns[${i}]`)} is ${describe(name)}; column names must be strings`,
      );
    }
    // No CSV header can carry a line break, so such a name could never be matched or written back.
    if (/[\r\n]/.test(name)) {
      throw dataError(
        `${p.source}: ${p.at(`columns[${i}]`)} holds a line break; column names are one line each (as in a CSV header): remove it or drop "columns"`,
      );
    }
    return name;
  });
}

/** Builds JSON paths and validates values, naming the source and path in errors. */
class Paths {
  constructor(
    readonly source: string,
    private readonly prefix: string,
  ) {}

  at(path: string): string {
    return this.prefix + path;
  }

  array(v: unknown, path: string, what: string): unknown[] {
    if (!Array.isArray(v)) {
      throw dataError(`${this.source}: ${this.at(path)} must be an array (${what}), got ${describe(v)}`);
    }
    return v;
  }

  num(v: unknown, path: string): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      const hint = v === null ? ' (JSON.stringify writes NaN and Infinity as null)' : '';
      throw dataError(
        `${this.source}: ${this.at(path)} is ${describe(v)}${hint}; it must be a finite number`,
      );
    }
    return v;
  }
}

function positive(p: Paths, v: unknown, path: string): number {
  const x = p.num(v, path);
  if (!(x > 0)) throw dataError(`${p.source}: ${p.at(path)} is ${x}; variances must be > 0`);
  return x;
}

/**
 * Reads a D x D covariance matrix into out[offset..]: positive diagonal, symmetric within 1e-6
 * relative (then made exactly symmetric), positive definite.
 */
function readMatrix(
  p: Paths,
  v: unknown,
  path: string,
  D: number,
  what: string,
  out: Float64Array,
  offset: number,
): void {
  const rowsIn = p.array(v, path, what);
  if (rowsIn.length !== D) {
    throw dataError(`${p.source}: ${p.at(path)} has ${rowsIn.length} rows but D = ${D}; ${what}`);
  }
  for (let i = 0; i < D; i++) {
    const row = p.array(rowsIn[i], `${path}[${i}]`, what);
    if (row.length !== D) {
      throw dataError(`${p.source}: ${p.at(`${path}[${i}]`)} has ${row.length} values but D = ${D}; ${what}`);
    }
    for (let j = 0; j < D; j++) out[offset + i * D + j] = p.num(row[j], `${path}[${i}][${j}]`);
  }
  for (let i = 0; i < D; i++) {
    const d = out[offset + i * D + i];
    if (!(d > 0)) {
      throw dataError(
        `${p.source}: ${p.at(`${path}[${i}][${i}]`)} is ${d}; diagonal entries of a covariance matrix (variances) must be > 0`,
      );
    }
  }
  for (let i = 0; i < D; i++) {
    for (let j = i + 1; j < D; j++) {
      const a = out[offset + i * D + j];
      const b = out[offset + j * D + i];
      const scale = Math.max(
        Math.abs(a),
        Math.abs(b),
        Math.sqrt(out[offset + i * D + i] * out[offset + j * D + j]),
      );
      if (Math.abs(a - b) > 1e-6 * scale) {
        throw dataError(
          `${p.source}: ${p.at(`${path}[${i}][${j}]`)} is ${a} but ${p.at(`${path}[${j}][${i}]`)} is ${b}; a covariance matrix must be symmetric (within 1e-6 relative)`,
        );
      }
      const m = (a + b) / 2;
      out[offset + i * D + j] = m;
      out[offset + j * D + i] = m;
    }
  }
  // Cholesky in float64: a covariance matrix must be positive definite.
  const L = new Float64Array(D * D);
  for (let j = 0; j < D; j++) {
    let s = out[offset + j * D + j];
    for (let k = 0; k < j; k++) s -= L[j * D + k] * L[j * D + k];
    if (!(s > 0)) {
      throw dataError(
        `${p.source}: ${p.at(path)} is not positive definite (Cholesky pivot ${j} is ${s}); fix the matrix or refit the model with a larger covariance regularisation`,
      );
    }
    const ljj = Math.sqrt(s);
    L[j * D + j] = ljj;
    for (let i = j + 1; i < D; i++) {
      let t = out[offset + i * D + j];
      for (let k = 0; k < j; k++) t -= L[i * D + k] * L[j * D + k];
      L[i * D + j] = t / ljj;
    }
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v);
  return String(v);
}
