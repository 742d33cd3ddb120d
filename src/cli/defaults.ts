import { GaussianMixture } from '../models/gaussian-mixture.js';
import { BayesianGaussianMixture } from '../models/bayesian-mixture.js';
import { KMeans } from '../models/kmeans.js';

// The library's defaults, as its models resolve them (a model made without a fit opens nothing):
// the help shows them and a command that needs one reads it here, so none is written in the CLI.

export const mixtureDefaults = () => new GaussianMixture({ nComponents: 1 }).options;
export const bayesianDefaults = () => new BayesianGaussianMixture({ nComponents: 1 }).options;
export const kmeansDefaults = () => new KMeans({ nClusters: 1 }).options;
