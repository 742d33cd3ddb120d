import { readFileSync } from 'node:fs';
import type { CovarianceType } from '../../src/core/names.js';
import type { WeightConcentrationPriorType } from '../../src/models/variational.js';

/** One scikit-learn BayesianGaussianMixture fit from given labels (scripts/bgmm-fixtures.py). */
export interface BgmmCase {
  data: 'iris' | 'wine';
  nComponents: number;
  covarianceType: CovarianceType;
  weightConcentrationPriorType: WeightConcentrationPriorType;
  labels: number[];
  weights: number[];
  means: number[];
  covariances: number[];
  weightConcentration: number[];
  meanPrecision: number[];
  degreesOfFreedom: number[];
  lowerBound: number;
  nIter: number;
  converged: boolean;
  scoreSamples: number[];
  predict: number[];
}

const root = new URL('../../', import.meta.url).pathname;
const fixture = JSON.parse(readFileSync(`${root}test/fixtures/bgmm-sklearn.json`, 'utf8')) as {
  wine: number[];
  wineShape: [number, number];
  cases: BgmmCase[];
};

/** The fixture's cases. */
export const BGMM_CASES: readonly BgmmCase[] = fixture.cases;

/** iris (data/iris.csv) and wine (held in the fixture), float32 as the models hold them. */
export function fixtureData(name: 'iris' | 'wine'): { data: Float32Array; rows: number; cols: number } {
  if (name === 'wine') {
    const [rows, cols] = fixture.wineShape;
    return { data: Float32Array.from(fixture.wine), rows, cols };
  }
  const lines = readFileSync(`${root}data/iris.csv`, 'utf8').trim().split('\n').slice(1);
  const values = lines.flatMap((l) => l.split(',').map(Number));
  return { data: Float32Array.from(values), rows: lines.length, cols: 4 };
}

/** Largest |a - b| over two lists of the same length. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
