// The option schemas: each option declared once, and everything made from it agrees with it:
// the models' resolved defaults and checks, the command line's flags and help, the JSON Schema
// the Dask driver reads, the options table in docs/, and no default written again in src/.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/cli/commands.js';
import type { OptionDef, OptionSchema } from '../src/core/option-schema.js';
import { WebGpuEmError } from '../src/errors.js';
import { BayesianGaussianMixture, GaussianMixture, KMeans, selectGaussianMixture } from '../src/index.js';
import { BAYESIAN_MIXTURE_SCHEMA } from '../src/models/bayesian-mixture-options.js';
import { GAUSSIAN_MIXTURE_SCHEMA } from '../src/models/gaussian-mixture-options.js';
import { KMEANS_SCHEMA } from '../src/models/kmeans-options.js';
import { SELECTION_SCHEMA } from '../src/models/model-selection.js';
import { jsonSchema, optionsTable } from '../scripts/option-schema.js';

const root = new URL('..', import.meta.url).pathname;

/** Each model: its schema, how to make one from options, and the command that fits it. */
const MODELS: Array<{
  name: string;
  schema: OptionSchema;
  make: (o: Record<string, unknown>) => { options: object };
  required: Record<string, unknown>;
  command: string;
}> = [
  {
    name: 'GaussianMixture',
    schema: GAUSSIAN_MIXTURE_SCHEMA,
    make: (o) => new GaussianMixture(o as never),
    required: { nComponents: 2 },
    command: 'gmm',
  },
  {
    name: 'BayesianGaussianMixture',
    schema: BAYESIAN_MIXTURE_SCHEMA,
    make: (o) => new BayesianGaussianMixture(o as never),
    required: { nComponents: 2 },
    command: 'bgmm',
  },
  {
    name: 'KMeans',
    schema: KMEANS_SCHEMA,
    make: (o) => new KMeans(o as never),
    required: { nClusters: 2 },
    command: 'kmeans',
  },
];

function usageMessage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(WebGpuEmError);
    expect((e as WebGpuEmError).kind).toBe('usage');
    return (e as Error).message;
  }
  throw new Error('expected a usage error');
}

/** A value just outside the option's range, or of the wrong type, or null where none exists. */
function badValue(def: OptionDef): unknown {
  switch (def.kind) {
    case 'integer':
      return def.min !== undefined ? def.min - 1 : 0.5;
    case 'number':
      return def.min !== undefined ? def.min - 1 : def.above !== undefined ? def.above : 'x';
    case 'boolean':
      return 'yes';
    case 'string':
      return 5;
    case 'choice':
      return 'no-such-choice';
    default:
      return null;
  }
}

describe.each(MODELS)('$name: its options are its schema', ({ name, schema, make, required, command }) => {
  it('resolves every default to the schema default', () => {
    const options = make(required).options as Record<string, unknown>;
    for (const [key, def] of Object.entries(schema)) {
      if (def.default !== undefined) expect(options[key], key).toEqual(def.default);
      else if (!def.required) expect(options[key], key).toBeUndefined();
    }
  });

  it('refuses a value outside each option range, naming the option', () => {
    let checked = 0;
    for (const [key, def] of Object.entries(schema)) {
      const bad = badValue(def);
      if (bad === null) continue;
      expect(usageMessage(() => make({ ...required, [key]: bad }))).toMatch(new RegExp(`^${key} must be`));
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(8);
  });

  it("suggests ours for scikit-learn's name of every option that has one", () => {
    for (const [key, def] of Object.entries(schema)) {
      if (!def.sklearn || def.sklearn === key) continue;
      expect(usageMessage(() => make({ ...required, [def.sklearn!]: 1 }))).toContain(
        `${name}: unknown option '${def.sklearn}'; did you mean '${key}'?`,
      );
    }
  });

  it(`gives every option with a command-line form a flag of ${command} with the schema help and default`, () => {
    const flags = COMMANDS.find((c) => c.name === command)!.options;
    for (const [key, def] of Object.entries(schema)) {
      if (!def.cli) continue;
      const flag = flags.find((f) => f.name === key);
      expect(flag, `${command}: a flag for ${key}`).toBeDefined();
      expect(flag!.flags).toEqual(def.cli.flags);
      expect(flag!.help).toBe(def.help);
      if (def.default !== undefined) expect(flag!.default).toBeDefined();
    }
  });
});

describe('what is made from the schemas', () => {
  it('the JSON Schema in python/ is current (npm run options)', () => {
    const copy = readFileSync(join(root, 'python/webgpu_em_dask/options.schema.json'), 'utf8');
    expect(copy).toBe(jsonSchema());
    const parsed = JSON.parse(copy) as {
      $defs: Record<string, { properties: Record<string, { default?: unknown }> }>;
    };
    expect(parsed.$defs.GaussianMixture.properties.maxIter.default).toBe(
      GAUSSIAN_MIXTURE_SCHEMA.maxIter.default,
    );
    expect(parsed.$defs.KMeans.properties.tol.default).toBe(KMEANS_SCHEMA.tol.default);
  });

  it('the Python driver takes its defaults from it', () => {
    const code =
      'import json; from webgpu_em_dask.options import default; ' +
      'print(json.dumps([default(m, n) for m, n in [("GaussianMixture", "maxIter"), ("GaussianMixture", "tol"), ("KMeans", "maxIter"), ("KMeans", "tol"), ("GaussianMixture", "covarianceType")]]))';
    const out = execFileSync('python3', ['-c', code], { cwd: join(root, 'python'), encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual([
      GAUSSIAN_MIXTURE_SCHEMA.maxIter.default,
      GAUSSIAN_MIXTURE_SCHEMA.tol.default,
      KMEANS_SCHEMA.maxIter.default,
      KMEANS_SCHEMA.tol.default,
      GAUSSIAN_MIXTURE_SCHEMA.covarianceType.default,
    ]);
  });

  it("the README's table shows GaussianMixture's defaults", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    let rows = 0;
    for (const m of readme.matchAll(/^\| `(\w+)` \| `([^`]+)` \|/gm)) {
      const def = (GAUSSIAN_MIXTURE_SCHEMA as OptionSchema)[m[1]];
      expect(def, `README option ${m[1]}`).toBeDefined();
      if (def.default === undefined) expect(def.defaultText, m[1]).toContain(m[2]);
      else expect(JSON.parse(m[2].replace(/'/g, '"')), m[1]).toBe(def.default);
      rows++;
    }
    expect(rows).toBeGreaterThanOrEqual(8);
  });

  it('the options table in docs/options.md is current', () => {
    expect(readFileSync(join(root, 'docs/options.md'), 'utf8')).toContain(optionsTable());
  });

  it('selectGaussianMixture takes the mixture options and its own, resolved from its schema', async () => {
    expect(Object.keys(SELECTION_SCHEMA)).toEqual(
      expect.arrayContaining(['nComponents', 'covarianceTypes', 'criterion', 'init', 'maxIter', 'tol']),
    );
    await expect(
      selectGaussianMixture([[0], [1]], { nComponents: [1], max_iter: 3 } as never),
    ).rejects.toThrow("unknown option 'max_iter'; did you mean 'maxIter'?");
    await expect(
      selectGaussianMixture([[0], [1]], { nComponents: [1], criterion: 'bix' } as never),
    ).rejects.toThrow(/criterion must be 'bic' or 'aic', got 'bix'; did you mean 'bic'\?/);
  });

  it('no default of a schema is written again in src/ (as `name ?? value` or `name: value`)', () => {
    const schemaFiles = new Set([
      'models/options.ts',
      'models/gaussian-mixture-options.ts',
      'models/bayesian-mixture-options.ts',
      'models/kmeans-options.ts',
      'models/model-selection.ts',
    ]);
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const f of readdirSync(dir)) {
        const p = join(dir, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts') && !p.endsWith('.generated.ts')) files.push(p);
      }
    };
    walk(join(root, 'src'));
    const defaults = [GAUSSIAN_MIXTURE_SCHEMA, BAYESIAN_MIXTURE_SCHEMA, KMEANS_SCHEMA].flatMap((s) =>
      Object.entries(s as OptionSchema).flatMap(([key, def]) =>
        typeof def.default === 'number' ? [{ key, value: def.default }] : [],
      ),
    );
    const offenders: string[] = [];
    for (const file of files) {
      const rel = file.slice(join(root, 'src').length + 1);
      if (schemaFiles.has(rel)) continue;
      const text = readFileSync(file, 'utf8');
      for (const { key, value } of defaults) {
        const literal = `(${String(value).replace('.', '\\.')}|${value.toExponential().replace(/\.|\+/g, (c) => `\\${c}`)})`;
        const re = new RegExp(`\\b${key}\\s*(\\?\\?|:|=)\\s*${literal}\\b`);
        if (re.test(text)) offenders.push(`${rel}: ${key} = ${value}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
