import { usageError } from '../errors.js';

/** The typed arrays a model hands out. */
type ResultArray = Float64Array | Int32Array;

/** Methods that write into the array they are called on. */
const WRITERS = new Set<PropertyKey>(['set', 'fill', 'copyWithin', 'reverse', 'sort']);

/** Each read-only view's array, so that the library reads its own results at full speed. */
const targets = new WeakMap<object, ResultArray>();

function refuse(what: string): never {
  throw usageError(
    `${what}: the results of a fit are read-only (the model never reads them back); copy with .slice() (or toArray()) and change the copy`,
  );
}

const readOnlyHandler: ProxyHandler<ResultArray> = {
  get(target, key) {
    if (WRITERS.has(key)) return () => refuse(`${String(key)}() on a model's result`);
    if (key === 'subarray')
      return (begin?: number, end?: number) => readOnlyArray(target.subarray(begin, end));
    // The bytes, not the storage: a view made on them cannot write into the model's result.
    if (key === 'buffer') return target.buffer.slice(0);
    const value: unknown = Reflect.get(target, key, target);
    // Typed-array methods need the array itself as `this`, not the proxy.
    return typeof value === 'function' && key !== 'constructor' ? value.bind(target) : value;
  },
  set: (_, key) => refuse(`writing [${String(key)}] of a model's result`),
  defineProperty: (_, key) => refuse(`defining [${String(key)}] on a model's result`),
  deleteProperty: (_, key) => refuse(`deleting [${String(key)}] of a model's result`),
  setPrototypeOf: () => refuse("changing a model's result's prototype"),
};

/**
 * A read-only view of `array`: reads, iteration and every non-writing method (`slice`, `map`,
 * `at`, ...) work as on the array and `instanceof` holds; a write, a writing method (`set`,
 * `fill`, `sort`, ...) or a view of `buffer` cannot change it (writes throw). Typed arrays cannot
 * be frozen, and JavaScript has no read-only typed array yet (immutable ArrayBuffers are a
 * proposal), hence the proxy. Its limits: element reads cost ~0.2 µs each, and `structuredClone`,
 * `postMessage` and WebGPU's `writeBuffer` refuse it: `.slice()` gives a plain copy for those.
 */
export function readOnlyArray<T extends ResultArray>(array: T): T {
  const view = new Proxy(array, readOnlyHandler) as T;
  targets.set(view, array);
  return view;
}

/** The array behind a {@link readOnlyArray} view (for the library's own reads), or `array` itself. */
export function plainArray<T extends ResultArray>(array: T): T {
  return (targets.get(array) as T | undefined) ?? array;
}

/**
 * A row-major float64 matrix: `rows` x `cols` values in `data`, value (i, j) at
 * `data[i * cols + j]`. A model's results (`means`, `clusterCenters`) are frozen and their `data`
 * a read-only view, the same object on every access until the next fit; what a call returns
 * (`predictProba`, `transform`, `sample`) is the caller's own, `data` included.
 */
export class Matrix64 {
  /** The values, row-major (rows x cols). */
  readonly data: Float64Array;
  /** Number of rows. */
  readonly rows: number;
  /** Number of columns. */
  readonly cols: number;
  /** The values themselves, read without the view's cost. */
  readonly #values: Float64Array;

  /**
   * Wraps `data` (not a copy) as a `rows` x `cols` matrix; the object is frozen. `readOnly` makes
   * `data` a read-only view, as a model's results are.
   */
  constructor(data: Float64Array, rows: number, cols: number, readOnly = false) {
    if (
      !Number.isInteger(rows) ||
      !Number.isInteger(cols) ||
      rows < 0 ||
      cols < 0 ||
      data.length !== rows * cols
    ) {
      throw usageError(`a ${rows} x ${cols} matrix needs ${rows * cols} values; got ${data.length}`);
    }
    this.#values = plainArray(data);
    this.data = readOnly ? readOnlyArray(this.#values) : data;
    this.rows = rows;
    this.cols = cols;
    Object.freeze(this);
  }

  /** The value at row `i`, column `j` (0-based); a usage error outside the matrix. */
  at(i: number, j: number): number {
    if (!(Number.isInteger(i) && i >= 0 && i < this.rows && Number.isInteger(j) && j >= 0 && j < this.cols)) {
      throw usageError(`(${i}, ${j}) is outside this ${this.rows} x ${this.cols} matrix`);
    }
    return this.#values[i * this.cols + j];
  }

  /** Row `i` (0-based) as a new Float64Array of `cols` values: a copy, yours to change. */
  row(i: number): Float64Array {
    if (!(Number.isInteger(i) && i >= 0 && i < this.rows)) {
      throw usageError(`row ${i} is outside this ${this.rows} x ${this.cols} matrix`);
    }
    return this.#values.slice(i * this.cols, (i + 1) * this.cols);
  }

  /** The rows as `number[][]` (a new array, yours to change); `toJSON` gives the same. */
  toArray(): number[][] {
    return Array.from({ length: this.rows }, (_, i) =>
      Array.from(this.#values.subarray(i * this.cols, (i + 1) * this.cols)),
    );
  }

  /** `JSON.stringify` writes the rows (number[][]), as the model files do. */
  toJSON(): number[][] {
    return this.toArray();
  }
}

/**
 * Each record frozen, its typed arrays read-only views, in a frozen array: a model's `history`.
 * Copies the records: the run that made them may still be adding to its own list.
 */
export function frozenRecords<R extends object>(records: readonly R[]): readonly R[] {
  return Object.freeze(
    records.map((r) => {
      const copy: Record<string, unknown> = { ...(r as Record<string, unknown>) };
      for (const [key, value] of Object.entries(copy)) {
        if (value instanceof Float64Array || value instanceof Int32Array) copy[key] = readOnlyArray(value);
      }
      return Object.freeze(copy) as R;
    }),
  );
}

/**
 * A model's results, each made once from the state it shows and handed out again while that
 * state lasts: a fit, a step or a load replaces the state object, and the next access makes the
 * result anew.
 */
export class ResultCache {
  readonly #entries = new Map<string, { source: object; value: unknown }>();

  /** The result `key` of `source`: made by `make` on the first access after `source` changed. */
  get<T>(key: string, source: object, make: () => T): T {
    const entry = this.#entries.get(key);
    if (entry && entry.source === source) return entry.value as T;
    const value = make();
    this.#entries.set(key, { source, value });
    return value;
  }
}
