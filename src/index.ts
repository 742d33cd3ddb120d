/// <reference types="@webgpu/types" preserve="true" />
/**
 * webgpu-em: Gaussian mixture models fitted with EM on the GPU through WebGPU, with a float64
 * CPU reference backend.
 */
export { GaussianMixture } from './models/gaussian-mixture.js';
export type {
  GaussianMixtureOptions,
  FitOptions,
  WeightOptions,
  CovarianceType,
  InitMethod,
} from './models/gaussian-mixture.js';
export { Matrix64 } from './models/results.js';
export { GAUSSIAN_MIXTURE_SCHEMA } from './models/gaussian-mixture-options.js';
export { BAYESIAN_MIXTURE_SCHEMA } from './models/bayesian-mixture-options.js';
export { KMEANS_SCHEMA } from './models/kmeans-options.js';
export { SELECTION_SCHEMA } from './models/model-selection.js';
export { defaultOf } from './core/option-schema.js';
export type { CliForm, OptionDef, OptionSchema, OptionsOf, ResolvedOf } from './core/option-schema.js';
export type { IterationRecord } from './models/em.js';
export { BayesianGaussianMixture } from './models/bayesian-mixture.js';
export type {
  BayesianFitOptions,
  BayesianGaussianMixtureOptions,
  VariationalIterationRecord,
  VariationalPosterior,
} from './models/bayesian-mixture.js';
export type { VariationalPriors, WeightConcentrationPriorType } from './models/variational.js';
export type { InitialModel } from './models/init.js';
export type { InitialLabels } from './models/init-labels.js';
export { covariancesAsArray, type GmmParameters } from './models/gmm-parameters.js';
export { toMatrix } from './data/matrix.js';
export type { Matrix, MatrixInput } from './data/matrix.js';
export type { MatrixLike, MeansInput } from './models/means-input.js';
export { readNpyBlob } from './io/npy-blob.js';
export type { NpyBlobOptions } from './io/npy-blob.js';
export { WebGpuEmError } from './errors.js';
export type { ErrorKind } from './errors.js';
export { createBackend, DEFAULT_MAX_GPU_BYTES } from './backends/select.js';
export type { RowChunk, RowSource, DataInput, GpuRows } from './data/row-source.js';
export { STREAM_INIT_ROWS } from './models/streamed-data.js';
export type { BackendChoice, GpuOptions } from './backends/select.js';
export type {
  MixtureBackend,
  BoundData,
  ComponentParameters,
  SufficientStatistics,
  EStepResult,
  RenderChunk,
  RenderView,
  ViewLabels,
} from './backends/backend.js';
export { setShaderLoader } from './gpu/shader-source.js';
export { gpuAllocations, releaseSharedDevices } from './gpu/context.js';
export type { Allocations } from './gpu/context.js';
export { makeBlobs } from './data/synthetic.js';
export type { BlobsOptions } from './data/synthetic.js';
export { KMeans } from './models/kmeans.js';
export type { KMeansOptions, KMeansInit, KMeansIteration, KMeansFitOptions } from './models/kmeans.js';
export type { KMeansStatistics, Assignments } from './backends/backend.js';
export { selectGaussianMixture } from './models/model-selection.js';
export {
  STATISTICS_FORMAT,
  StatisticsShard,
  kmeansMStep,
  mergeStatistics,
  mixtureMStep,
} from './models/shard-statistics.js';
export { statisticsFromJSON, statisticsToJSON } from './models/statistics-json.js';
export type {
  KMeansShardStatistics,
  MixtureShardStatistics,
  ShardOptions,
  ShardStatistics,
} from './models/shard-statistics.js';
export type { SampleWeightInput } from './data/weights.js';
export type { CandidateScore, SelectionOptions } from './models/model-selection.js';
export { IterativeModel } from './models/model-base.js';
export type { BoundSamples } from './models/model-base.js';
export {
  BACKEND_CHOICES,
  COVARIANCE_TYPES,
  CRITERIA,
  GMM_INIT_METHODS,
  KMEANS_INIT_METHODS,
} from './core/names.js';
export type { BackendName, Criterion } from './core/names.js';
export { covarianceMatrices } from './core/families.js';
