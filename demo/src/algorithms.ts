/**
 * The algorithms the demo offers, one entry each: how to make the model from the controls, and
 * what the plot shows of it. Another model of the library is one more entry here; the Worker and
 * the page ask this table and nothing else.
 */
import {
  BAYESIAN_MIXTURE_SCHEMA,
  BayesianGaussianMixture,
  defaultOf,
  GAUSSIAN_MIXTURE_SCHEMA,
  KMEANS_SCHEMA,
  COVARIANCE_TYPES,
  covarianceMatrices,
  GMM_INIT_METHODS,
  GaussianMixture,
  KMEANS_INIT_METHODS,
  KMeans,
  type CovarianceType,
  type IterationRecord,
  type KMeansIteration,
  type RenderView,
  type VariationalIterationRecord,
  type WeightConcentrationPriorType,
} from 'webgpu-em';

/** The controls' starting values: the library's own defaults, read from the model's option schema. */
function libraryDefaults(
  schema: typeof GAUSSIAN_MIXTURE_SCHEMA | typeof BAYESIAN_MIXTURE_SCHEMA | typeof KMEANS_SCHEMA,
) {
  return { maxIter: defaultOf(schema, 'maxIter'), tol: defaultOf(schema, 'tol') };
}

/** A component with less weight than this counts as switched off: greyed, not outlined, not counted. */
export const ACTIVE_WEIGHT = 0.01;

/** The controls' values. */
export interface Settings {
  readonly algorithm: string;
  readonly k: number;
  readonly maxIter: number;
  readonly tol: number;
  readonly init: string;
  readonly seed: number;
  /** The values of the algorithm's own controls ({@link Algorithm.params}) by id; '' for a default. */
  readonly params: Readonly<Record<string, string>>;
}

/** A control of one algorithm's own: a choice among values, or a number ('' for the library's default). */
export type Param =
  | { readonly id: string; readonly label: string; readonly choices: readonly string[] }
  | { readonly id: string; readonly label: string; readonly placeholder: string };

/** Where a model runs: WebGPU (never 'auto', which fits small data on the CPU), or the CPU without WebGPU. */
export interface Placement {
  readonly backend: 'webgpu' | 'cpu';
}

/** A component's centre and covariance (D x D, row-major; null for k-means) in feature space. */
export interface Shape {
  readonly mean: Float64Array;
  readonly covariance: Float64Array | null;
}

/** What the Worker does with a model, whatever its kind. */
export interface DemoModel {
  initialize(x: { data: Float32Array; rows: number; cols: number }): Promise<void>;
  /** One iteration: the objective the curve plots (mean log-likelihood, lower bound, or minus the inertia). */
  step(): Promise<{
    iteration: number;
    objective: number;
    seconds: number;
    /** The components' weights after the step, where the page plots them (the Bayesian mixture). */
    weights?: Float64Array;
  }>;
  readonly done: boolean;
  readonly converged: boolean;
  renderView(): Promise<RenderView | null>;
  /** The adapter's description, or null on the CPU. */
  adapter(): Promise<string | null>;
  predict(x: { data: Float32Array; rows: number; cols: number }): Promise<Int32Array>;
  /** The components to outline, in feature space. */
  shapes(): Shape[];
  toJSON(): Record<string, unknown>;
  dispose(): void;
}

export interface Algorithm {
  readonly id: string;
  readonly label: string;
  readonly inits: readonly string[];
  /** The controls' values on choosing the entry; K only where the entry wants its own (an upper bound). */
  readonly defaults: { readonly maxIter: number; readonly tol: number; readonly k?: number };
  /** What the per-iteration curve shows. */
  readonly objective: string;
  /** Covariance type for choosing K by BIC, or null where BIC does not apply. */
  readonly bicCovariance: CovarianceType | null;
  /** Controls beyond K, max iter, tol, init and seed. */
  readonly params?: readonly Param[];
  create(s: Settings, where: Placement): DemoModel;
}

function mixture(type: CovarianceType): Algorithm {
  return {
    id: `gmm-${type}`,
    label: `Gaussian mixture, ${type} covariance`,
    inits: GMM_INIT_METHODS,
    defaults: libraryDefaults(GAUSSIAN_MIXTURE_SCHEMA),
    objective: 'mean log-likelihood',
    bicCovariance: type,
    create(s, where) {
      const gmm = new GaussianMixture({
        nComponents: s.k,
        covarianceType: type,
        maxIter: s.maxIter,
        tol: s.tol,
        init: s.init as (typeof GMM_INIT_METHODS)[number],
        seed: s.seed,
        ...where,
      });
      return {
        initialize: (x) => gmm.initialize(x),
        async step() {
          const r: IterationRecord = await gmm.step();
          return { iteration: r.iteration, objective: r.lowerBound, seconds: r.seconds };
        },
        get done() {
          return gmm.done;
        },
        get converged() {
          return gmm.converged;
        },
        renderView: () => gmm.renderView(),
        adapter: () => gmm.adapterDescription(),
        predict: (x) => gmm.predict(x),
        shapes() {
          const means = gmm.means;
          const covariances = covarianceMatrices(type, gmm.covariances, means.rows, means.cols);
          return covariances.map((covariance, j) => ({
            mean: means.row(j),
            covariance,
          }));
        },
        toJSON: () => gmm.toJSON(),
        dispose: () => gmm.dispose(),
      };
    },
  };
}

const PRIOR_TYPES: readonly WeightConcentrationPriorType[] = ['dirichlet_process', 'dirichlet_distribution'];

/** A number control's value: undefined for '' (the library's default), else the number as typed. */
function optionalNumber(v: string | undefined): number | undefined {
  return v === undefined || v.trim() === '' ? undefined : Number(v);
}

function bayesian(type: CovarianceType): Algorithm {
  return {
    id: `bgmm-${type}`,
    label: `Bayesian mixture, ${type} covariance`,
    inits: GMM_INIT_METHODS,
    defaults: { ...libraryDefaults(BAYESIAN_MIXTURE_SCHEMA), k: 10 },
    objective: 'lower bound (total)',
    // K is an upper bound here: the posterior switches off the components the data does not need.
    bicCovariance: null,
    params: [
      { id: 'prior-type', label: 'weight prior', choices: PRIOR_TYPES },
      { id: 'prior', label: 'weight concentration', placeholder: '1 / K' },
    ],
    create(s, where) {
      const bgmm = new BayesianGaussianMixture({
        nComponents: s.k,
        covarianceType: type,
        maxIter: s.maxIter,
        tol: s.tol,
        init: s.init as (typeof GMM_INIT_METHODS)[number],
        seed: s.seed,
        weightConcentrationPriorType: (s.params['prior-type'] as WeightConcentrationPriorType) || undefined,
        weightConcentrationPrior: optionalNumber(s.params.prior),
        ...where,
      });
      return {
        initialize: (x) => bgmm.initialize(x),
        async step() {
          const r: VariationalIterationRecord = await bgmm.step();
          return { iteration: r.iteration, objective: r.lowerBound, seconds: r.seconds, weights: r.weights };
        },
        get done() {
          return bgmm.done;
        },
        get converged() {
          return bgmm.converged;
        },
        renderView: () => bgmm.renderView(),
        adapter: () => bgmm.adapterDescription(),
        predict: (x) => bgmm.predict(x),
        shapes() {
          const { means, weights } = bgmm;
          const covariances = covarianceMatrices(type, bgmm.covariances, means.rows, means.cols);
          return covariances
            .map((covariance, j) => ({
              mean: means.row(j),
              covariance,
            }))
            .filter((_, j) => weights[j] >= ACTIVE_WEIGHT);
        },
        toJSON: () => bgmm.toJSON(),
        dispose: () => bgmm.dispose(),
      };
    },
  };
}

const kmeans: Algorithm = {
  id: 'kmeans',
  label: 'k-means (Lloyd)',
  inits: KMEANS_INIT_METHODS,
  defaults: libraryDefaults(KMEANS_SCHEMA),
  objective: 'minus the mean squared distance',
  bicCovariance: null,
  create(s, where) {
    const km = new KMeans({
      nClusters: s.k,
      maxIter: s.maxIter,
      tol: s.tol,
      init: s.init as (typeof KMEANS_INIT_METHODS)[number],
      seed: s.seed,
      ...where,
    });
    let rows = 1;
    return {
      async initialize(x) {
        rows = x.rows;
        await km.initialize(x);
      },
      async step() {
        const r: KMeansIteration = await km.step();
        return { iteration: r.iteration, objective: -r.inertia / rows, seconds: r.seconds };
      },
      get done() {
        return km.done;
      },
      get converged() {
        return km.converged;
      },
      renderView: () => km.renderView(),
      adapter: () => km.adapterDescription(),
      predict: (x) => km.predict(x),
      shapes() {
        const c = km.clusterCenters;
        return Array.from({ length: c.rows }, (_, j) => ({
          mean: c.row(j),
          covariance: null,
        }));
      },
      toJSON: () => km.toJSON(),
      dispose: () => km.dispose(),
    };
  },
};

export const ALGORITHMS: readonly Algorithm[] = [
  ...COVARIANCE_TYPES.map(mixture),
  ...COVARIANCE_TYPES.map(bayesian),
  kmeans,
];

export function algorithm(id: string): Algorithm {
  const a = ALGORITHMS.find((x) => x.id === id);
  if (!a) throw new Error(`unknown algorithm '${id}'`);
  return a;
}
