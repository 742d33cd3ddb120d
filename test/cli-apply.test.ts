// The commands that apply a saved model (predict, score, sample, info), pipes, column choices
// and help, run as a shell runs them: the built bin/webgpu-em.js, on the CPU backend.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../src/io/csv.js';
import { encodeNpy, parseNpy } from '../src/io/npy.js';
import { GaussianMixture } from '../src/index.js';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'bin/webgpu-em.js');
const iris = join(root, 'data/iris.csv');
const work = mkdtempSync(join(tmpdir(), 'webgpu-em-apply-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs a shell script in the work folder with $CLI set to the command; a hang is a failure. */
function sh(script: string) {
  const r = spawnSync('bash', ['-c', `set -o pipefail\n${script}`], {
    cwd: work,
    env: { ...process.env, CLI: `"${process.execPath}" "${bin}"`, IRIS: iris },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const irisText = readFileSync(iris, 'utf8');
const irisMatrix = parseCsv(irisText).matrix;
// Iris with an id column first and the species last: what a user's file often looks like.
const lines = irisText.trim().split('\n');
const species = ['setosa', 'versicolor', 'virginica'];
writeFileSync(
  join(work, 'labelled.csv'),
  [
    `id,${lines[0]},species`,
    ...lines.slice(1).map((l, i) => `${i + 1},${l},${species[Math.floor(i / 50)]}`),
  ].join('\n') + '\n',
);

describe('fit, save, load, predict, score and sample', () => {
  const fit = sh('eval $CLI gmm "$IRIS" -k 3 --backend cpu --out model.json --labels fit-labels.txt --quiet');

  it('with backend auto, a small file is fitted on the CPU: no GPU, no driver lines', () => {
    const r = sh('eval $CLI gmm "$IRIS" -k 3 --json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).backend).toBe('cpu');
    expect(r.stderr).toBe('');
  });

  it('gmm saves the model and the labels', () => {
    expect(fit.code).toBe(0);
    expect(fit.stderr).toBe('');
    const saved = JSON.parse(readFileSync(join(work, 'model.json'), 'utf8'));
    expect(saved.model.columns).toEqual(['sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
  });

  it('predict gives the labels of the fit, from a file and from a pipe', () => {
    const fitLabels = readFileSync(join(work, 'fit-labels.txt'), 'utf8');
    const r = sh('eval $CLI predict model.json "$IRIS" --backend cpu');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(fitLabels);
    // The model's columns are picked by name: the id and species columns are left out.
    const piped = sh('cat labelled.csv | eval $CLI predict model.json - --backend cpu --out piped.txt');
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('webgpu-em: columns left out: id, species\n');
    expect(readFileSync(join(work, 'piped.txt'), 'utf8')).toBe(fitLabels);
    // The model from standard input.
    expect(sh('cat model.json | eval $CLI predict - "$IRIS" --backend cpu').stdout).toBe(fitLabels);
    const npy = sh('eval $CLI predict model.json "$IRIS" --backend cpu --out labels.npy');
    expect(npy.code).toBe(0);
    const fromNpy = parseNpy(readFileSync(join(work, 'labels.npy')));
    expect(Array.from(fromNpy.data).join('\n') + '\n').toBe(fitLabels);
  });

  it("predict --proba writes each row's probabilities as CSV", () => {
    const r = sh(
      'eval $CLI predict model.json "$IRIS" --backend cpu --proba > proba.csv && head -1 proba.csv',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('p0,p1,p2\n');
    const proba = parseCsv(readFileSync(join(work, 'proba.csv'), 'utf8'));
    expect(proba.matrix.rows).toBe(150);
    for (let i = 0; i < 150; i++) {
      const row = proba.matrix.data.subarray(i * 3, i * 3 + 3);
      expect(row[0] + row[1] + row[2]).toBeCloseTo(1, 5);
    }
  });

  it('score prints the mean log-likelihood as a bare number; --per-sample writes each', async () => {
    const r = sh('eval $CLI score model.json "$IRIS" --backend cpu --per-sample ll.npy');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^-?\d+\.\d+(e-?\d+)?\n$/);
    const model = GaussianMixture.fromJSON(readFileSync(join(work, 'model.json'), 'utf8'), {
      backend: 'cpu',
    });
    expect(Number(r.stdout)).toBe(await model.score(irisMatrix));
    const perSample = parseNpy(readFileSync(join(work, 'll.npy')));
    expect(perSample.rows).toBe(150);
    const ll = await model.scoreSamples(irisMatrix);
    // .npy of float64 values, read back here as float32.
    expect(Array.from(perSample.data)).toEqual(Array.from(ll, Math.fround));
    const piped = sh('eval $CLI score model.json - --backend cpu < "$IRIS"');
    expect(piped.stdout).toBe(r.stdout);
  });

  it("sample draws seeded rows with the model's column names, to stdout or .npy", () => {
    const a = sh('eval $CLI sample model.json -n 5 --seed 3');
    const b = sh('eval $CLI sample model.json -n 5 --seed 3');
    const c = sh('eval $CLI sample model.json -n 5 --seed 4');
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).not.toBe(c.stdout);
    const table = parseCsv(a.stdout);
    expect(table.columnNames).toEqual(['sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
    expect(table.matrix.rows).toBe(5);
    const npy = sh(
      'eval $CLI sample model.json -n 200 --out drawn.npy && eval $CLI score model.json drawn.npy --backend cpu',
    );
    expect(npy.code).toBe(0);
    expect(parseNpy(readFileSync(join(work, 'drawn.npy'))).rows).toBe(200);
    // Rows drawn from the model are about as likely under it as the data it was fitted to.
    expect(Number(npy.stdout)).toBeGreaterThan(-2);
    // Piped into a fit: `-` is standard input.
    const refit = sh('eval $CLI sample model.json -n 300 | eval $CLI gmm - -k 3 --backend cpu --json');
    expect(refit.code).toBe(0);
    expect(JSON.parse(refit.stdout).nSamples).toBe(300);
  });

  it('info describes a saved model', () => {
    const r = sh('eval $CLI info model.json');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('format: webgpu-em/gmm@1');
    expect(r.stdout).toContain("model: Gaussian mixture, 3 components, 'full' covariances");
    expect(r.stdout).toContain('columns: sepal_length, sepal_width, petal_length, petal_width');
  });
});

describe('k-means models and refusals', () => {
  it('a k-means model predicts; --proba and sample are refused in one line', () => {
    const fit = sh(
      'eval $CLI kmeans "$IRIS" -k 3 --backend cpu --out km.json --labels km-labels.txt --quiet',
    );
    expect(fit.code).toBe(0);
    const r = sh('eval $CLI predict km.json "$IRIS" --backend cpu');
    expect(r.stdout).toBe(readFileSync(join(work, 'km-labels.txt'), 'utf8'));
    const proba = sh('eval $CLI predict km.json "$IRIS" --backend cpu --proba');
    expect(proba.code).toBe(2);
    expect(proba.stderr).toMatch(
      /^webgpu-em: error: --proba: a webgpu-em\/kmeans@1 model has no probabilities.*\n$/,
    );
    const sample = sh('eval $CLI sample km.json -n 3');
    expect(sample.code).toBe(2);
    expect(sample.stderr).toMatch(/is not a distribution to sample from; use a mixture model/);
    const score = sh('eval $CLI score km.json "$IRIS" --backend cpu');
    expect(score.code).toBe(0);
    expect(Number(score.stdout)).toBeLessThan(0);
  });

  it('another version, other columns and a missing model are one-line errors', () => {
    const model = JSON.parse(readFileSync(join(work, 'model.json'), 'utf8')).model;
    writeFileSync(join(work, 'v2.json'), JSON.stringify({ ...model, format: 'webgpu-em/gmm@2' }));
    const v2 = sh('eval $CLI predict v2.json "$IRIS" --backend cpu');
    expect(v2.code).toBe(1);
    expect(v2.stderr).toBe(
      'webgpu-em: error: v2.json: the model is in format "webgpu-em/gmm@2" but this version of webgpu-em reads "webgpu-em/gmm@1"; use the webgpu-em that wrote it, or refit and save the model with this one\n',
    );
    writeFileSync(join(work, 'renamed.csv'), irisText.replace('petal_width', 'petal_w'));
    const renamed = sh('eval $CLI predict model.json renamed.csv --backend cpu');
    expect(renamed.code).toBe(1);
    expect(renamed.stderr).toMatch(/renamed\.csv: the model's column "petal_width" is not in the header/);
    // By position (--no-header) the same file is accepted.
    const positional = sh(
      'tail -n +2 renamed.csv | eval $CLI predict model.json - --backend cpu --no-header',
    );
    expect(positional.stdout).toBe(readFileSync(join(work, 'fit-labels.txt'), 'utf8'));
    const missing = sh('eval $CLI score nope.json "$IRIS" --backend cpu');
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    const both = sh('eval $CLI predict - - --backend cpu < /dev/null');
    expect(both.code).toBe(2);
  });
});

describe('columns, formats and pipes', () => {
  it('--numeric-only and --columns pick the features; a label column is otherwise an error', () => {
    const plain = sh('eval $CLI gmm labelled.csv -k 3 --backend cpu --json');
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/"setosa" is not a number/);
    expect(plain.stderr).toMatch(/--numeric-only|--columns/);
    const numeric = sh('eval $CLI gmm labelled.csv -k 3 --backend cpu --json --numeric-only');
    expect(numeric.code).toBe(0);
    expect(numeric.stderr).toBe('webgpu-em: columns left out: species\n');
    expect(JSON.parse(numeric.stdout).model.columns).toEqual(['id', ...lines[0].split(',')]);
    const byName = sh(
      'eval $CLI gmm labelled.csv -k 3 --backend cpu --json --quiet --columns sepal_length,sepal_width,petal_length,petal_width',
    );
    const byIndex = sh('eval $CLI gmm labelled.csv -k 3 --backend cpu --json --quiet --columns 2,3,4,5');
    const direct = sh('eval $CLI gmm "$IRIS" -k 3 --backend cpu --json');
    const model = (r: { stdout: string }) => JSON.parse(r.stdout).model;
    expect(model(byName)).toEqual(model(direct));
    expect(model(byIndex)).toEqual(model(direct));
    const bad = sh('eval $CLI gmm labelled.csv -k 3 --backend cpu --columns sepal,9');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--columns: no column "sepal"; the header has "id", "sepal_length"/);
  });

  it('raw float32 with --dims, integer .npy, and `-` as an output is standard output', () => {
    writeFileSync(join(work, 'iris.f32'), new Uint8Array(irisMatrix.data.buffer.slice(0)));
    const raw = sh('eval $CLI gmm iris.f32 --dims 4 -k 3 --backend cpu --json < /dev/null');
    const direct = sh('eval $CLI gmm "$IRIS" -k 3 --backend cpu --json');
    expect(raw.code).toBe(0);
    expect(JSON.parse(raw.stdout).model.means).toEqual(JSON.parse(direct.stdout).model.means);
    const wrong = sh('eval $CLI gmm iris.f32 --dims 7 -k 3 --backend cpu');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/2400 bytes is not a whole number of rows of 7 float32 values/);
    const ints = new Int32Array(Array.from(irisMatrix.data, (v) => Math.round(v * 10)));
    writeFileSync(join(work, 'ints.npy'), encodeNpy(ints, 150, 4));
    const fromInts = sh('eval $CLI kmeans ints.npy -k 3 --backend cpu --json');
    expect(fromInts.code).toBe(0);
    const labels = sh('rm -f ./-; eval $CLI gmm "$IRIS" -k 3 --backend cpu --labels - --quiet | wc -l; ls');
    expect(labels.stdout.split('\n')[0].trim()).toBe('150');
    expect(existsSync(join(work, '-'))).toBe(false);
  });
});

describe('help and version', () => {
  it.each(['gmm', 'kmeans', 'select', 'predict', 'score', 'sample', 'info'])(
    '%s --help shows its own usage and an example',
    (command) => {
      const r = sh(`eval $CLI ${command} --help`);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: webgpu-em ${command} `));
      expect(r.stdout).toMatch(new RegExp(`Example:\\n  webgpu-em ${command}\\b`));
      expect(sh(`eval $CLI help ${command}`).stdout).toBe(r.stdout);
    },
  );

  it('the global help lists every command and --version, which prints the version', () => {
    const r = sh('eval $CLI --help');
    for (const command of ['gmm', 'kmeans', 'select', 'predict', 'score', 'sample', 'info', '--version'])
      expect(r.stdout).toMatch(new RegExp(`\\n  ${command} `));
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(sh('eval $CLI --version').stdout).toBe(`${pkg.version}\n`);
  });
});
