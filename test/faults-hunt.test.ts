// A fault hunt as a demanding user: text from data files shown on a terminal, environment that
// points nowhere, one input given twice, model files of legal JSON and illegal values, option
// values at the edge, numbers at the edge and calls that overlap. Each case expects one clear line
// (what, where, what to do), exit code 1 or 2, no partial output and no NaN, or a correct result.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { printable, quoted } from '../src/errors.js';
import { vulkanDriverProblem } from '../src/gpu/dawn.js';
import { parseCsv } from '../src/io/csv.js';
import { readWeightsFile } from '../src/io/files.js';
import { parseModel } from '../src/models/model-file.js';
import { BayesianGaussianMixture, GaussianMixture, KMeans, WebGpuEmError } from '../src/index.js';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'bin/webgpu-em.js');
const iris = join(root, 'data/iris.csv');
const work = mkdtempSync(join(tmpdir(), 'webgpu-em-hunt-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let folders = 0;
/** A fresh folder of its own for each case. */
function dir(): string {
  const d = join(work, `case-${++folders}`);
  mkdirSync(d);
  return d;
}

/** Runs the built CLI as a shell would; `timeout` kills it (a hang is a failure). */
function cli(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    input: options.input,
    cwd: options.cwd,
    timeout: 60_000,
    env: options.env ?? process.env,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** A failed run: the exit code, and exactly one line on stderr that is safe for a terminal. */
function failsInOneLine(r: { code: number | null; stderr: string }, code: 1 | 2): string {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^webgpu-em: error: /);
  // No escape, control or bidi character reaches the terminal, and no stack trace.
  // eslint-disable-next-line no-control-regex
  expect(lines[0]).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
  expect(lines[0]).not.toMatch(/\n\s+at /);
  return lines[0];
}

/** What a library call threw (a WebGpuEmError of `kind`, one line). */
async function errorOf(f: () => unknown, kind?: string): Promise<WebGpuEmError> {
  let error: unknown = null;
  try {
    await f();
  } catch (e) {
    error = e;
  }
  expect(error, 'expected an error').toBeInstanceOf(WebGpuEmError);
  const e = error as WebGpuEmError;
  if (kind) expect(e.kind, e.message).toBe(kind);
  expect(e.message).not.toContain('\n');
  return e;
}

const ESC = '\u001b';
// eslint-disable-next-line no-control-regex
const noControl = /^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]*$/;

describe('text from data files shown on a terminal', () => {
  it('escapes C0, DEL, C1, bidi overrides and lone surrogates, and clips', () => {
    expect(printable(`a${ESC}[31mb\u007f\u009b\u202e\ud800z`)).toBe('a\\x1b[31mb\\x7f\\x9b\\u202e\\ud800z');
    expect(printable('x'.repeat(500), 40)).toBe('x'.repeat(37) + '...');
    expect(quoted('say "hi"\r\n')).toBe('"say \\"hi\\"\\x0d\\x0a"');
    // Pairs of surrogates (an emoji) are text, not escapes.
    expect(printable('\ud83d\ude00')).toBe('\ud83d\ude00');
  });

  it('a cell with an ANSI escape is shown escaped', () => {
    expect(() => parseCsv(`a,b\n1,2\n3,${ESC}[31mred${ESC}[0m\n`, { source: 'x.csv' })).toThrow(
      /line 3, column 2 \("b"\): "\\x1b\[31mred\\x1b\[0m" is not a number/,
    );
  });

  it('a cell with DEL or a C1 control (0x9b is CSI on some terminals) is shown escaped', () => {
    let message = '';
    try {
      parseCsv('a,b\n1,2\n3,x\u009b2J\u007f\n', { source: 'x.csv' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('"x\\x9b2J\\x7f"');
    expect(message).toMatch(noControl);
  });

  it('a header name with a bidi override is shown escaped in a cell error', () => {
    let message = '';
    try {
      parseCsv('\u202eevil,b\n1,2\nx,3\n', { source: 'x.csv' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('("\\u202eevil")');
    expect(message).toMatch(noControl);
  });

  it("a header name with a terminal escape is escaped in the fit's report", () => {
    const d = dir();
    writeFileSync(join(d, 'h.csv'), `a${ESC}[2Jb,c\n1,2\n3,4\n5,7\n`);
    const r = cli(['gmm', join(d, 'h.csv'), '-k', '1', '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain(ESC);
    expect(r.stdout).toContain('a\\x1b[2Jb');
  });

  it("`info` escapes a model's column names", () => {
    const d = dir();
    const model = join(d, 'm.json');
    const km = {
      format: 'webgpu-em/kmeans@1',
      nFeatures: 2,
      means: [[0, 0]],
      columns: [`x${ESC}]0;pwned\u0007`, 'y\b'],
    };
    writeFileSync(model, JSON.stringify(km));
    const r = cli(['info', model]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(noControl);
    expect(r.stdout).toContain('columns: x\\x1b]0;pwned\\x07, y\\x08');
  });

  it('a 5,000-character header name is clipped in the report, in `info` and in errors', () => {
    const d = dir();
    const data = join(d, 'long.csv');
    writeFileSync(data, `${'y'.repeat(5000)},b\n1,2\n3,4\n5,7\n`);
    const fit = cli(['gmm', data, '-k', '1', '--backend', 'cpu', '--out', join(d, 'm.json')]);
    expect(fit.code, fit.stderr).toBe(0);
    expect(fit.stdout.length).toBeLessThan(500);
    const info = cli(['info', join(d, 'm.json')]);
    expect(info.stdout.length).toBeLessThan(600);
    writeFileSync(join(d, 'other.csv'), 'a,b\n1,2\n');
    const predict = cli(['predict', join(d, 'm.json'), join(d, 'other.csv')]);
    const line = failsInOneLine(predict, 1);
    expect(line).toMatch(/the model's column "y{37}\.\.\." is not in the header/);
    expect(line.length).toBeLessThan(500);
  });

  it('--columns naming no column of a 3,000-column header lists a few names, not all', () => {
    const d = dir();
    const data = join(d, 'wide.csv');
    const names = Array.from({ length: 3000 }, (_, i) => `c${i}`);
    writeFileSync(data, `${names.join(',')}\n${names.map(() => '1').join(',')}\n`);
    const line = failsInOneLine(cli(['gmm', data, '-k', '1', '--backend', 'cpu', '--columns', 'nope']), 2);
    expect(line).toMatch(/no column "nope"; the header has "c0", "c1", .*, \.\.\. \(3000 in all\)/);
    expect(line.length).toBeLessThan(600);
  });

  it('a data file whose name holds an escape sequence is named escaped', () => {
    const d = dir();
    const data = join(d, `evil${ESC}[31m.csv`);
    writeFileSync(data, 'a,b\n1,x\n');
    const line = failsInOneLine(cli(['gmm', data, '-k', '1', '--backend', 'cpu']), 1);
    expect(line).toContain('evil\\x1b[31m.csv: line 2, column 2');
  });

  it('a data file whose name holds a newline is still one line', () => {
    const d = dir();
    const data = join(d, 'ne\nw.csv');
    writeFileSync(data, 'a,b\n1,x\n');
    failsInOneLine(cli(['gmm', data, '-k', '1', '--backend', 'cpu']), 1);
  });

  it('carriage returns at line ends (CRLF, CRCRLF, CR alone) are line ends, not cell text', () => {
    for (const text of ['x,y\n1,2\r\n3,4\r\r\n5,6\n', 'x,y\r1,2\r3,4\r5,6\r']) {
      const { matrix, columnNames } = parseCsv(text);
      expect(columnNames).toEqual(['x', 'y']);
      expect(Array.from(matrix.data)).toEqual([1, 2, 3, 4, 5, 6]);
    }
  });

  it('invalid UTF-8 in a cell reaches the message as U+FFFD, never as raw bytes', () => {
    const d = dir();
    const data = join(d, 'bytes.csv');
    writeFileSync(
      data,
      Buffer.concat([Buffer.from('x,y\n1,2\n3,'), Buffer.from([0xff, 0xfe, 0x9b]), Buffer.from('\n')]),
    );
    const line = failsInOneLine(cli(['gmm', data, '-k', '1', '--backend', 'cpu']), 1);
    expect(line).toMatch(/line 3, column 2 \("y"\): "\ufffd+" is not a number/);
  });

  it('a weights file line with an escape sequence is shown escaped', async () => {
    const d = dir();
    const file = join(d, 'w.txt');
    writeFileSync(file, `1\n${ESC}[31m2\n`);
    const e = await errorOf(() => readWeightsFile(file), 'data');
    expect(e.message).toContain("line 2 is '\\x1b[31m2', not a finite number");
  });

  it('an --init-labels line with an escape sequence is shown escaped', () => {
    const d = dir();
    writeFileSync(join(d, 'x.csv'), '1\n2\n3\n4\n');
    writeFileSync(join(d, 'l.txt'), `1\n${ESC}[31m0\n1\n1\n`);
    const line = failsInOneLine(
      cli(['gmm', join(d, 'x.csv'), '-k', '2', '--backend', 'cpu', '--init-labels', join(d, 'l.txt')]),
      1,
    );
    expect(line).toContain("line 2 is '\\x1b[31m0'");
  });

  it('an option value with an escape sequence is echoed escaped', () => {
    const line = failsInOneLine(cli(['select', iris, '--k-range', `1..${ESC}[2J`, '--backend', 'cpu']), 2);
    expect(line).toContain("--k-range '1..\\x1b[2J' is not a range");
  });

  it('a 100,000-character option value gives a bounded line', () => {
    const line = failsInOneLine(cli(['gmm', iris, '-k', '9'.repeat(50) + 'x'.repeat(100_000)]), 2);
    expect(line).toMatch(/^webgpu-em: error: -k needs a number/);
    expect(line.length).toBeLessThan(4100);
  });

  it('a header with commas above rows with spaces names the column count, not a cell', () => {
    expect(() => parseCsv('a,b,c\n1 2 3\n4 5 6\n', { source: 'm.csv' })).toThrow(
      /m\.csv: line 2 has 1 column but the header \(line 1\) has 3 \(delimiter: comma\)/,
    );
  });
});

describe('environment that points nowhere', () => {
  it('TMPDIR that does not exist: the message names TMPDIR and the folder', () => {
    const r = cli(['gmm', '-', '-k', '3', '--backend', 'cpu'], {
      input: readFileSync(iris, 'utf8'),
      env: { ...process.env, TMPDIR: join(work, 'no-such-folder') },
    });
    const line = failsInOneLine(r, 1);
    expect(line).toMatch(
      /temporary folder .*no-such-folder is unusable .*; set TMPDIR to an existing writable folder/,
    );
  });

  it('TMPDIR that is a file: the message names TMPDIR', () => {
    const d = dir();
    writeFileSync(join(d, 'file'), 'x');
    const r = cli(['gmm', '-', '-k', '3', '--backend', 'cpu'], {
      input: readFileSync(iris, 'utf8'),
      env: { ...process.env, TMPDIR: join(d, 'file') },
    });
    expect(failsInOneLine(r, 1)).toMatch(/set TMPDIR to an existing writable folder/);
  });

  it('HOME unset: a fit works as ever', () => {
    const env = { ...process.env };
    delete env.HOME;
    const r = cli(['gmm', iris, '-k', '3', '--backend', 'cpu', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).nSamples).toBe(150);
  });

  it('WEBGPU_EM_ADAPTER naming nothing does not matter with --backend cpu', () => {
    const r = cli(['gmm', iris, '-k', '3', '--backend', 'cpu', '--json'], {
      env: { ...process.env, WEBGPU_EM_ADAPTER: 'no-such-adapter' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('VK_ICD_FILENAMES or VK_DRIVER_FILES naming a missing file is named, with what to do', async () => {
    const saved = { icd: process.env.VK_ICD_FILENAMES, driver: process.env.VK_DRIVER_FILES };
    try {
      delete process.env.VK_DRIVER_FILES;
      process.env.VK_ICD_FILENAMES = `${iris}:/nowhere/icd.json`;
      expect(await vulkanDriverProblem()).toMatch(
        /^the environment variable VK_ICD_FILENAMES names \/nowhere\/icd\.json, which does not exist; unset VK_ICD_FILENAMES or point it at/,
      );
      delete process.env.VK_ICD_FILENAMES;
      process.env.VK_DRIVER_FILES = '/nowhere/driver.json';
      expect(await vulkanDriverProblem()).toMatch(/VK_DRIVER_FILES names \/nowhere\/driver\.json/);
      process.env.VK_DRIVER_FILES = iris;
      expect(await vulkanDriverProblem()).toBeNull();
    } finally {
      for (const [name, value] of [
        ['VK_ICD_FILENAMES', saved.icd],
        ['VK_DRIVER_FILES', saved.driver],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});

describe('the same input given twice', () => {
  const base = ['-k', '2', '--backend', 'cpu', '--max-iter', '5'];

  it('--out and --labels as two spellings of one new file are refused, nothing written', () => {
    const d = dir();
    const line = failsInOneLine(
      cli(['gmm', iris, ...base, '--out', 'o.json', '--labels', './o.json'], { cwd: d }),
      2,
    );
    expect(line).toMatch(/--out o\.json and --labels \.\/o\.json are the same file/);
    expect(readdirSync(d)).toEqual([]);
  });

  it('--labels as a symbolic link to --out is refused, the old file unchanged', () => {
    const d = dir();
    writeFileSync(join(d, 'o.json'), 'old\n');
    symlinkSync('o.json', join(d, 'link.json'));
    const r = cli(['gmm', iris, ...base, '--out', join(d, 'o.json'), '--labels', join(d, 'link.json')]);
    expect(failsInOneLine(r, 2)).toMatch(/are the same file/);
    expect(readFileSync(join(d, 'o.json'), 'utf8')).toBe('old\n');
  });

  it('--out and --labels through a symbolic link to their folder are refused', () => {
    const d = dir();
    symlinkSync(d, join(d, 'here'));
    const r = cli(['gmm', iris, ...base, '--out', join(d, 'o.json'), '--labels', join(d, 'here', 'o.json')]);
    expect(failsInOneLine(r, 2)).toMatch(/are the same file/);
    expect(existsSync(join(d, 'o.json'))).toBe(false);
  });

  it('--out and --labels as two hard links: each name gets its own output', () => {
    const d = dir();
    writeFileSync(join(d, 'a'), 'old\n');
    linkSync(join(d, 'a'), join(d, 'b'));
    const r = cli(['gmm', iris, ...base, '--out', join(d, 'a'), '--labels', join(d, 'b')]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(d, 'a'), 'utf8')).model.format).toBe('webgpu-em/gmm@1');
    expect(readFileSync(join(d, 'b'), 'utf8').trim().split('\n')).toHaveLength(150);
  });

  it('an option given twice: the last one wins (-k, --n-components, --backend)', () => {
    const r = cli([
      'gmm',
      iris,
      '-k',
      '2',
      '--n-components',
      '3',
      '--backend',
      'webgpu',
      '--backend',
      'cpu',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.model.weights).toHaveLength(3);
    expect(result.backend).toBe('cpu');
  });

  it('the data file given as --weights too: one line naming the file and its line', () => {
    const line = failsInOneLine(cli(['gmm', iris, ...base, '--weights', iris]), 1);
    expect(line).toMatch(
      /iris\.csv: line 1 is 'sepal_length,sepal_width,petal_length\.\.\.', not a finite number; give one weight per line/,
    );
  });

  it('a weights file of zeros only is named, with what to do', () => {
    const d = dir();
    writeFileSync(join(d, 'zeros.txt'), '0\n'.repeat(150));
    const line = failsInOneLine(cli(['gmm', iris, ...base, '--weights', join(d, 'zeros.txt')]), 1);
    expect(line).toMatch(
      /zeros\.txt: the weights sum to 0 \(every one is 0\), .* give some rows a positive weight/,
    );
  });

  it('a hard link to the data file as --out is refused, the data unchanged', () => {
    const d = dir();
    const data = join(d, 'd.csv');
    writeFileSync(data, readFileSync(iris));
    linkSync(data, join(d, 'alias.csv'));
    const r = cli(['gmm', data, ...base, '--out', join(d, 'alias.csv')]);
    expect(failsInOneLine(r, 2)).toMatch(/is the input file .*d\.csv; writing it would destroy the input/);
    expect(readFileSync(data)).toEqual(readFileSync(iris));
  });

  it('--init-model equal to --out (spelled ./) is refused, the model unchanged', () => {
    const d = dir();
    const fit = cli(['gmm', iris, ...base, '--out', join(d, 'm.json')]);
    expect(fit.code, fit.stderr).toBe(0);
    const before = readFileSync(join(d, 'm.json'), 'utf8');
    const r = cli(['gmm', iris, '--backend', 'cpu', '--init-model', 'm.json', '--out', './m.json'], {
      cwd: d,
    });
    expect(failsInOneLine(r, 2)).toMatch(/--out \.\/m\.json is the input file m\.json/);
    expect(readFileSync(join(d, 'm.json'), 'utf8')).toBe(before);
  });

  it('a header that repeats a name: fit, then predict on the same file', () => {
    const d = dir();
    const data = join(d, 'dup.csv');
    writeFileSync(data, 'a,a,b\n1,2,3\n4,5,6\n7,8,1\n2,2,2\n');
    const fit = cli(['gmm', data, '-k', '1', '--backend', 'cpu', '--out', join(d, 'm.json')]);
    expect(fit.code, fit.stderr).toBe(0);
    const r = cli(['predict', join(d, 'm.json'), data]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('0\n0\n0\n0\n');
  });

  it('a repeated name picked by name is ambiguous: said, with the indices to use', () => {
    const d = dir();
    const data = join(d, 'dup.csv');
    writeFileSync(data, 'a,a,b\n1,2,3\n4,5,6\n7,8,1\n');
    const line = failsInOneLine(cli(['gmm', data, '-k', '1', '--backend', 'cpu', '--columns', 'a,b']), 2);
    expect(line).toMatch(/--columns: "a" names 2 columns of the header \(1, 2\); give the 1-based index/);
  });

  it("a model's repeated column names against another header: said, not a --columns error", () => {
    const d = dir();
    writeFileSync(
      join(d, 'm.json'),
      JSON.stringify({ format: 'webgpu-em/kmeans@1', nFeatures: 2, means: [[0, 0]], columns: ['a', 'a'] }),
    );
    writeFileSync(join(d, 'x.csv'), 'id,a,b\n1,2,3\n');
    const line = failsInOneLine(cli(['predict', join(d, 'm.json'), join(d, 'x.csv')]), 1);
    expect(line).toMatch(/the column name "a" is not unique .*--no-header to match columns by position/);
  });
});

describe('model files of legal JSON and illegal values', () => {
  const gmm = (): Record<string, unknown> => ({
    format: 'webgpu-em/gmm@1',
    covarianceType: 'full',
    nFeatures: 2,
    weights: [0.5, 0.5],
    means: [
      [0, 0],
      [4, 4],
    ],
    covariances: [
      [
        [1, 0],
        [0, 1],
      ],
      [
        [1, 0],
        [0, 1],
      ],
    ],
  });

  it('a weight of exactly 0 loads, and no row is given to that component', async () => {
    const m = { ...gmm(), weights: [0, 1] };
    const g = GaussianMixture.fromJSON(m, { backend: 'cpu' });
    expect(
      Array.from(
        await g.predict([
          [0, 0],
          [4, 4],
        ]),
      ),
    ).toEqual([1, 1]);
    expect((await g.scoreSamples([[0, 0]])).every(Number.isFinite)).toBe(true);
  });

  it('1e400 (parsed to Infinity) in a mean is refused with its path', () => {
    const text = JSON.stringify(gmm()).replace('[[0,0]', '[[1e400,0]');
    expect(() => GaussianMixture.fromJSON(text, { backend: 'cpu' }, 'm.json')).toThrow(
      /m\.json: means\[0\]\[0\] is Infinity; it must be a finite number/,
    );
  });

  it('nFeatures 2.5 is refused', () => {
    expect(() => parseModel({ ...gmm(), nFeatures: 2.5 }, 'm.json')).toThrow(
      /m\.json: nFeatures is 2\.5; it must be a positive integer/,
    );
  });

  it('a duplicate key: the last one counts, as JSON.parse reads it', async () => {
    const text = '{"format":"webgpu-em/kmeans@1","nFeatures":1,"means":[[0]],"means":[[5],[9]]}';
    const km = KMeans.fromJSON(text, { backend: 'cpu' });
    expect(Array.from(km.clusterCenters.data)).toEqual([5, 9]);
  });

  it('__proto__ keys are data, never prototypes', async () => {
    const text =
      '{"__proto__":{"format":"webgpu-em/gmm@1","polluted":1},"format":"webgpu-em/kmeans@1","nFeatures":1,"means":[[0],[3]]}';
    const km = KMeans.fromJSON(text, { backend: 'cpu' });
    expect(Array.from(await km.predict([[1], [2]]))).toEqual([0, 1]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const nested = '{"model":{"__proto__":{"format":"webgpu-em/kmeans@1"},"means":[[1]]}}';
    expect(KMeans.fromJSON(nested, { backend: 'cpu' }).clusterCenters.data[0]).toBe(1);
  });

  it('columns that are not strings, or of the wrong count, are refused with the path', () => {
    expect(() => parseModel({ ...gmm(), columns: ['a', 2] }, 'm.json')).toThrow(
      /columns\[1\] is 2; column names must be strings/,
    );
    expect(() => parseModel({ ...gmm(), columns: ['a'] }, 'm.json')).toThrow(
      /columns has 1 names but the model has 2 features/,
    );
  });

  it('a column name with a line break is refused: no CSV header could carry it', () => {
    expect(() => parseModel({ ...gmm(), columns: ['a', 'b\nc'] }, 'm.json')).toThrow(
      /m\.json: columns\[1\] holds a line break; column names are one line each/,
    );
  });

  it("sample writes a header that reads back as the model's own column names", () => {
    const d = dir();
    const names = ['width, cm', 'say "hi"'];
    writeFileSync(join(d, 'm.json'), JSON.stringify({ ...gmm(), columns: names }));
    const r = cli(['sample', join(d, 'm.json'), '-n', '5', '--seed', '1']);
    expect(r.code, r.stderr).toBe(0);
    const back = parseCsv(r.stdout, { header: 'auto', source: 'sample' });
    expect(back.columnNames).toEqual(names);
    expect(back.matrix.rows).toBe(5);
  });

  it('a negative regCovar is refused, not silently replaced by the default', () => {
    expect(() => GaussianMixture.fromJSON({ ...gmm(), regCovar: -1 }, { backend: 'cpu' }, 'm.json')).toThrow(
      /m\.json: regCovar is -1; it must be a finite number >= 0/,
    );
  });

  it('a regCovar that is a string is refused', () => {
    expect(() =>
      GaussianMixture.fromJSON({ ...gmm(), regCovar: '1e-6' }, { backend: 'cpu' }, 'm.json'),
    ).toThrow(/regCovar is "1e-6"; it must be a finite number >= 0/);
  });

  it('covariances of 1e-300 and centres of 1e300: finite answers or one line, never NaN', async () => {
    const tiny = gmm();
    (tiny.covariances as number[][][])[0] = [
      [1e-300, 0],
      [0, 1e-300],
    ];
    const g = GaussianMixture.fromJSON(tiny, { backend: 'cpu' });
    expect(
      (
        await g.scoreSamples([
          [0, 0],
          [4, 4],
        ])
      ).every(Number.isFinite),
    ).toBe(true);
    const km = KMeans.fromJSON(
      { format: 'webgpu-em/kmeans@1', nFeatures: 1, means: [[1e300], [-1e300]] },
      { backend: 'cpu' },
    );
    const e = await errorOf(() => km.scoreSamples([[0], [2]]), 'numerical');
    expect(e.message).toMatch(/overflows float64; divide the data by a constant/);
  });

  describe('a bgmm@1 model', () => {
    const x = Array.from({ length: 60 }, (_, i) => [
      (i % 3) * 5 + Math.sin(i),
      (i % 3) * 3 + Math.cos(i * 1.7),
    ]);
    let saved: Record<string, unknown> | null = null;
    async function bgmm(): Promise<Record<string, unknown>> {
      if (!saved) {
        const b = new BayesianGaussianMixture({ nComponents: 3, backend: 'cpu', seed: 1 });
        await b.fit(x);
        saved = b.toJSON();
      }
      return JSON.parse(JSON.stringify(saved)) as Record<string, unknown>;
    }

    it('as saved, loads', async () => {
      const b = BayesianGaussianMixture.fromJSON(await bgmm(), { backend: 'cpu' });
      expect(Number.isFinite(await b.score(x))).toBe(true);
    });

    it('whose weights disagree with its posterior is refused', async () => {
      const m = await bgmm();
      m.weights = [1, 0, 0];
      expect(() => BayesianGaussianMixture.fromJSON(m, { backend: 'cpu' }, 'b.json')).toThrow(
        /b\.json: weights\[0\] is 1 but the posterior \(weightConcentration\) gives 0\.\d+; the weights and the posterior disagree/,
      );
    });

    it('with degreesOfFreedomPrior <= D - 1 in its priors is refused', async () => {
      const m = await bgmm();
      (m.priors as Record<string, unknown>).degreesOfFreedomPrior = 0.5;
      expect(() => BayesianGaussianMixture.fromJSON(m, { backend: 'cpu' }, 'b.json')).toThrow(
        /b\.json: priors\.degreesOfFreedomPrior must be a finite number > 1, got 0\.5/,
      );
    });

    it('with a negative meanPrecisionPrior or weightConcentrationPrior is refused', async () => {
      for (const name of ['meanPrecisionPrior', 'weightConcentrationPrior']) {
        const m = await bgmm();
        (m.priors as Record<string, unknown>)[name] = -1;
        expect(() => BayesianGaussianMixture.fromJSON(m, { backend: 'cpu' }, 'b.json')).toThrow(
          new RegExp(`priors\\.${name} must be a finite number > 0, got -1`),
        );
      }
    });

    it('with a covariancePrior that is not positive definite is refused', async () => {
      const m = await bgmm();
      (m.priors as Record<string, unknown>).covariancePrior = [1, 2, 2, 1];
      expect(() => BayesianGaussianMixture.fromJSON(m, { backend: 'cpu' }, 'b.json')).toThrow(
        /priors\.covariancePrior is not positive definite/,
      );
    });

    it('whose priors are not an object says so', async () => {
      const m = await bgmm();
      m.priors = [1, 2];
      expect(() => BayesianGaussianMixture.fromJSON(m, { backend: 'cpu' }, 'b.json')).toThrow(
        /b\.json: priors must be an object/,
      );
    });
  });
});

describe('option values', () => {
  it("hexadecimal, binary and octal numbers are refused ('0x3', '0b11', '0o7')", () => {
    for (const [flag, value] of [
      ['-k', '0x3'],
      ['--tol', '0b1'],
      ['--max-iter', '0o7'],
    ]) {
      const line = failsInOneLine(cli(['gmm', iris, '-k', '2', flag, value, '--backend', 'cpu']), 2);
      expect(line).toContain(`${flag} needs a number, got '${value}'; write it in decimal`);
    }
  });

  it("'1e0', ' 3' and '+3' are decimal numbers", () => {
    for (const k of ['1e0', ' 3', '+3']) {
      const r = cli(['gmm', iris, '-k', k, '--backend', 'cpu', '--json', '--max-iter', '3']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).model.weights).toHaveLength(Number(k));
    }
  });

  it('an empty value and NaN are refused', () => {
    failsInOneLine(cli(['gmm', iris, '-k=', '--backend', 'cpu']), 2);
    expect(failsInOneLine(cli(['gmm', iris, '-k', '2', '--tol', 'NaN']), 2)).toContain(
      "--tol needs a number, got 'NaN'",
    );
  });

  it('a seed outside 0 .. 2^32 - 1 is refused (it would equal another seed)', async () => {
    for (const seed of ['-1', '4294967296', '1e300']) {
      const line = failsInOneLine(cli(['gmm', iris, '-k', '2', '--seed', seed, '--backend', 'cpu']), 2);
      expect(line).toMatch(/seed must be an integer from 0 to 4294967295/);
    }
    await errorOf(() => new KMeans({ nClusters: 2, seed: 2 ** 32 }), 'usage');
  });

  it('--tol -0 and --seed -0 are zero', () => {
    const r = cli([
      'gmm',
      iris,
      '-k',
      '2',
      '--tol',
      '-0',
      '--seed',
      '-0',
      '--max-iter',
      '3',
      '--backend',
      'cpu',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).nIter).toBe(3);
  });

  it('tol = Infinity is refused by the library as by the command line', async () => {
    const e = await errorOf(() => new GaussianMixture({ nComponents: 2, tol: Infinity }), 'usage');
    expect(e.message).toBe('tol must be a finite number >= 0, got Infinity');
    await errorOf(() => new KMeans({ nClusters: 2, tol: Infinity }), 'usage');
  });

  it('nComponents as a string, fractional or NaN is a usage error', async () => {
    for (const nComponents of ['3', 2.5, NaN] as unknown as number[])
      await errorOf(() => new GaussianMixture({ nComponents }), 'usage');
  });
});

describe('numbers at the edge', () => {
  /** Fits on the CPU through the command line; the result JSON. */
  function fit(command: string, rows: string, k: number) {
    const d = dir();
    writeFileSync(join(d, 'x.csv'), rows);
    const r = cli([command, join(d, 'x.csv'), '-k', String(k), '--backend', 'cpu', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { model: unknown };
    expect(JSON.stringify(result.model)).not.toMatch(/NaN|Infinity|null/);
    return result as { model: { means: number[][]; weights?: number[] } };
  }

  it('D = 1 and K = N: each row its own component', () => {
    const r = fit('gmm', '1\n2\n3\n4\n', 4);
    expect(r.model.means.flat().sort()).toEqual([1, 2, 3, 4]);
  });

  it('duplicate rows only: gmm, kmeans and bgmm give finite models at the row', () => {
    for (const command of ['gmm', 'kmeans', 'bgmm']) {
      const r = fit(command, '1,1\n1,1\n1,1\n1,1\n', 2);
      for (const v of r.model.means.flat()) expect(v).toBeCloseTo(1, 6);
    }
  });

  it('an all-constant column keeps its value and a variance of regCovar', () => {
    const r = fit('gmm', '1,5\n2,5\n3,5\n4,5\n', 2) as unknown as {
      model: { means: number[][]; covariances: number[][][] };
    };
    for (const m of r.model.means) expect(m[1]).toBe(5);
    for (const c of r.model.covariances) expect(c[1][1]).toBeCloseTo(1e-6, 12);
  });

  it('-0 cells read as 0', () => {
    const { matrix } = parseCsv('-0,0\n0,-0\n');
    expect(Array.from(matrix.data).every((v) => v === 0)).toBe(true);
  });

  it('subnormal float32 values fit to finite models', () => {
    fit('gmm', '1e-45,1e-44\n2e-45,3e-45\n1e-45,0\n0,1e-45\n', 2);
    fit('kmeans', '1e-45,1e-44\n2e-45,3e-45\n1e-45,0\n0,1e-45\n', 2);
  });

  it('values of +-3e38 (near float32 max) fit to finite models on the CPU', () => {
    const r = fit('kmeans', '3e38,1\n-3e38,2\n3e38,3\n-3e38,4\n', 2);
    expect(r.model.means.map((m) => Math.sign(m[0])).sort()).toEqual([-1, 1]);
    fit('gmm', '3e38,1\n-3e38,2\n3e38,3\n-3e38,4\n', 2);
  });
});

describe('calls that overlap', () => {
  const x = Array.from({ length: 300 }, (_, i) => [
    (i % 3) * 5 + Math.sin(i),
    (i % 3) * 3 + Math.cos(i * 1.7),
  ]);

  it('dispose() twice is harmless', async () => {
    const g = new GaussianMixture({ nComponents: 2, backend: 'cpu' });
    await g.fit(x);
    g.dispose();
    expect(() => g.dispose()).not.toThrow();
  });

  it("predict during a refit gives the previous fit's labels, never a mix", async () => {
    const g = new GaussianMixture({ nComponents: 3, backend: 'cpu', seed: 2 });
    await g.fit(x);
    const before = await g.predict(x);
    const refit = g.fit(x);
    const during = await g.predict(x);
    await refit;
    expect(Array.from(during)).toEqual(Array.from(before));
  });

  it('initialize() during fit() is a usage error and the fit completes', async () => {
    const g = new GaussianMixture({ nComponents: 2, backend: 'cpu', maxIter: 50, tol: 0 });
    const running = g.fit(x);
    const e = await errorOf(() => g.initialize(x), 'usage');
    expect(e.message).toMatch(/initialize\(\) was called while fit\(\) is still running/);
    await running;
    expect(g.nIter).toBe(50);
  });

  it('k-means predict during its first fit says it is not fitted yet', async () => {
    const km = new KMeans({ nClusters: 2, backend: 'cpu' });
    const running = km.fit(x);
    const e = await errorOf(() => km.predict(x), 'usage');
    expect(e.message).toMatch(/not fitted yet/);
    await running;
  });
});
