"""Writes test/fixtures/bgmm-sklearn.json: scikit-learn's BayesianGaussianMixture fitted from given
initial labels (one-hot responsibilities, as its 'kmeans' init does from k-means labels) on iris
(data/iris.csv) and wine (scikit-learn's bundled copy of the UCI data set), each rounded to
float32 first (webgpu-em holds samples in float32). Run once with scikit-learn installed:
    /usr/bin/python3 scripts/bgmm-fixtures.py
The tests read the fixture; they never need scikit-learn."""
import json
import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_wine
from sklearn.mixture import BayesianGaussianMixture
import sklearn


class FromLabels(BayesianGaussianMixture):
    """_initialize from one-hot responsibilities of fixed labels."""

    def __init__(self, labels=None, **kw):
        super().__init__(**kw)
        self.labels = labels

    def _initialize_parameters(self, X, random_state):
        resp = np.zeros((X.shape[0], self.n_components))
        resp[np.arange(X.shape[0]), self.labels] = 1
        self._initialize(X, resp)


def load_iris_csv():
    return np.loadtxt('data/iris.csv', delimiter=',', skiprows=1)


def fit(name, X, k, cov, prior_type, labels_k=None):
    labels = KMeans(n_clusters=labels_k or k, n_init=1, random_state=0).fit(X).labels_
    m = FromLabels(labels=labels, n_components=k, covariance_type=cov,
                   weight_concentration_prior_type=prior_type, max_iter=100, tol=1e-3)
    m.fit(X)
    wc = m.weight_concentration_
    wc = np.concatenate(wc) if isinstance(wc, tuple) else wc
    return {
        'data': name, 'nComponents': k, 'covarianceType': cov,
        'weightConcentrationPriorType': prior_type,
        'labels': labels.tolist(),
        'weights': m.weights_.tolist(), 'means': m.means_.ravel().tolist(),
        'covariances': np.ravel(m.covariances_).tolist(),
        'weightConcentration': wc.tolist(), 'meanPrecision': m.mean_precision_.tolist(),
        'degreesOfFreedom': np.atleast_1d(m.degrees_of_freedom_).tolist(),
        'lowerBound': float(m.lower_bound_), 'nIter': int(m.n_iter_), 'converged': bool(m.converged_),
        'scoreSamples': m.score_samples(X[:10]).tolist(),
        'predict': m.predict(X).tolist(),
    }


iris = np.float32(load_iris_csv()).astype(np.float64)
wine = np.float32(load_wine().data).astype(np.float64)
cases = [
    fit('iris', iris, 3, 'full', 'dirichlet_process'),
    fit('iris', iris, 8, 'full', 'dirichlet_process'),
    fit('iris', iris, 6, 'tied', 'dirichlet_process'),
    fit('iris', iris, 6, 'diag', 'dirichlet_distribution'),
    fit('iris', iris, 6, 'spherical', 'dirichlet_process'),
    fit('wine', wine, 3, 'full', 'dirichlet_process'),
    fit('wine', wine, 6, 'diag', 'dirichlet_process'),
]
out = {'sklearn': sklearn.__version__, 'wine': wine.ravel().tolist(), 'wineShape': list(wine.shape), 'cases': cases}
with open('test/fixtures/bgmm-sklearn.json', 'w') as f:
    json.dump(out, f, separators=(',', ':'))
for c in cases:
    print(c['data'], c['nComponents'], c['covarianceType'], c['nIter'], c['converged'], c['lowerBound'], np.round(c['weights'], 3))
