import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadShader, setShaderLoader } from '../src/gpu/shader-source.js';
import { expandIncludes } from '../src/gpu/wgsl-include.js';
import { generatedKernels } from '../scripts/kernels.js';
import {
  ESTEP_WORKGROUP,
  FUSED_MAX_COMPONENTS,
  FUSED_MAX_FEATURES,
  FUSED_TILE_ROWS,
  KMEANS_ROWS,
  KMEANS_SUMS_WORKGROUP,
  KMEANS_TILE,
  KMEANS_WORKGROUP,
  MAX_DIAGONAL_FEATURES,
  MAX_KMEANS_FEATURES,
  MAX_FULL_FEATURES,
  REDUCE_WORKGROUP,
  ROW_LABELS_WORKGROUP,
  STATS_PER_THREAD,
  STATS_TILE_ROWS,
  STATS_WORKGROUP,
  componentLayout,
  fusedLayout,
  maxFeatures,
  packKMeansCentres,
  statsLayout,
  statsPerComponent,
} from '../src/backends/webgpu/layout.js';
import {
  CHUNK_FIELDS,
  REDUCE_FIELDS,
  packChunkUniforms,
  packU32Struct,
} from '../src/backends/webgpu/uniforms.js';
import { fusedKernelParts, fusedKernelSource } from '../src/backends/webgpu/fused-kernel.js';
import { KERNELS, type BindingType } from '../src/backends/webgpu/kernels.js';

const shader = (name: string) => readFileSync(new URL(`../shaders/${name}`, import.meta.url), 'utf8');

/** The .wgsl files of shaders/, and those only included by others (parts without an entry point). */
const shaderFiles = readdirSync(new URL('../shaders/', import.meta.url)).filter((f) => f.endsWith('.wgsl'));
const includedParts = new Set(
  shaderFiles.flatMap((f) => [...shader(f).matchAll(/^\/\/!include (\S+)$/gm)].map((m) => m[1])),
);

/** The body of `struct NAME { ... }` in WGSL source. */
function structBody(source: string, name: string): string {
  const body = new RegExp(`struct ${name} \\{([^}]*)\\}`).exec(source);
  if (!body) throw new Error(`struct ${name} not found`);
  return body[1];
}

/** Field names of `struct NAME { ... }` in WGSL source, in order. */
function structFields(source: string, name: string): string[] {
  return [...structBody(source, name).matchAll(/^\s*(\w+)\s*:\s*u32/gm)].map((m) => m[1]);
}

function constant(source: string, name: string): number {
  const m = new RegExp(`(?:const|override) ${name}: u32 = (\\d+)u;`).exec(source);
  if (!m) throw new Error(`constant ${name} not found`);
  return Number(m[1]);
}

describe('host layouts match the WGSL declarations', () => {
  it('the Chunk uniform is declared once and included by every kernel that reads it', async () => {
    expect(structFields(shader('chunk.wgsl'), 'Chunk')).toEqual([...CHUNK_FIELDS]);
    const kernels = [
      'gmm_estep.wgsl',
      'gmm_fused.wgsl',
      'sufficient_stats.wgsl',
      'kmeans_assign.wgsl',
      'kmeans_assign_subgroups.wgsl',
      'kmeans_sums.wgsl',
      'kmeans_distances.wgsl',
    ];
    for (const name of kernels) {
      expect(shader(name)).toMatch(/^\/\/!include chunk\.wgsl$/m);
      expect(structFields(await loadShader(name), 'Chunk')).toEqual([...CHUNK_FIELDS]);
    }
    expect(structFields(shader('reduce_partials.wgsl'), 'Reduce')).toEqual([...REDUCE_FIELDS]);
  });

  it('uniform structs are 16-byte multiples and packed in declaration order', () => {
    expect((CHUNK_FIELDS.length * 4) % 16).toBe(0);
    expect((REDUCE_FIELDS.length * 4) % 16).toBe(0);
    const packed = packU32Struct(CHUNK_FIELDS, {
      row_offset: 1,
      row_count: 2,
      rows_per_block: 3,
      block_offset: 4,
      has_row_weights: 5,
      grid_width: 6,
    });
    expect(Array.from(packed)).toEqual([1, 2, 3, 4, 5, 6, 0, 0]);
  });

  it('chunk uniforms: one slot per chunk, blocks numbered on across chunks, then the reduction', () => {
    const chunks = [
      { firstRow: 0, rows: 100 },
      { firstRow: 100, rows: 30 },
    ];
    const stride = 256;
    const slot = (data: Uint32Array, i: number, n: number) => Array.from(data.subarray(i * 64, i * 64 + n));
    const withBlocks = packChunkUniforms(chunks, stride, [7, 2], {
      rowsPerBlock: 32,
      perChunk: [4, 1],
      stride: 9,
      reduceWidth: 3,
    });
    expect(withBlocks.length).toBe(3 * 64);
    expect(slot(withBlocks, 0, 8)).toEqual([0, 100, 32, 0, 0, 7, 0, 0]);
    expect(slot(withBlocks, 1, 8)).toEqual([100, 30, 32, 4, 0, 2, 0, 0]);
    expect(slot(withBlocks, 2, 4)).toEqual([5, 9, 3, 0]);
    const rowsOnly = packChunkUniforms(chunks, stride, [7, 2], null);
    expect(rowsOnly.length).toBe(2 * 64);
    expect(slot(rowsOnly, 1, 8)).toEqual([100, 30, 0, 0, 0, 2, 0, 0]);
  });

  it('kernel constants agree with the host', () => {
    expect(constant(shader('gmm_estep.wgsl'), 'MAX_D')).toBe(MAX_FULL_FEATURES);
    expect([maxFeatures('full'), maxFeatures('tied')]).toEqual([MAX_FULL_FEATURES, MAX_FULL_FEATURES]);
    expect([maxFeatures('diag'), maxFeatures('spherical')]).toEqual([
      MAX_DIAGONAL_FEATURES,
      MAX_DIAGONAL_FEATURES,
    ]);
    expect(maxFeatures('kmeans')).toBe(MAX_KMEANS_FEATURES);
    expect(constant(shader('gmm_estep.wgsl'), 'WORKGROUP')).toBe(ESTEP_WORKGROUP);
    expect(constant(shader('sufficient_stats.wgsl'), 'TILE')).toBe(STATS_TILE_ROWS);
    expect(constant(shader('sufficient_stats.wgsl'), 'PER_THREAD')).toBe(STATS_PER_THREAD);
    expect(constant(shader('sufficient_stats.wgsl'), 'WORKGROUP')).toBe(STATS_WORKGROUP);
    expect(constant(shader('reduce_partials.wgsl'), 'WORKGROUP')).toBe(REDUCE_WORKGROUP);
    expect(constant(shader('kmeans_assign.wgsl'), 'WORKGROUP')).toBe(KMEANS_WORKGROUP);
    expect(constant(shader('kmeans_assign_subgroups.wgsl'), 'WORKGROUP')).toBe(KMEANS_WORKGROUP);
    expect(constant(shader('kmeans_assign_rows.wgsl'), 'ROWS')).toBe(KMEANS_ROWS);
    expect(constant(shader('kmeans_assign_rows.wgsl'), 'TILE')).toBe(KMEANS_TILE);
    expect(constant(shader('kmeans_distances.wgsl'), 'WORKGROUP')).toBe(KMEANS_WORKGROUP);
    expect(constant(shader('kmeans_sums.wgsl'), 'WORKGROUP')).toBe(KMEANS_SUMS_WORKGROUP);
    expect(constant(shader('row_labels.wgsl'), 'WORKGROUP')).toBe(ROW_LABELS_WORKGROUP);
    expect(statsPerComponent(64)).toBe((65 * 66) / 2);
  });

  it('a statistics workgroup covers the components its entries touch and fits in 16 KiB', () => {
    for (const d of [1, 2, 8, 33, 64]) {
      for (const k of [1, 2, 16, 200, 5000]) {
        const l = statsLayout(d, k, 16384);
        const perGroup = STATS_WORKGROUP * STATS_PER_THREAD;
        for (let g = 0; g < l.groups; g++) {
          const first = Math.floor((g * perGroup) / l.pairs);
          const last = Math.floor(Math.min(g * perGroup + perGroup - 1, l.entries - 1) / l.pairs);
          expect(last - first).toBeLessThan(l.kSpan);
        }
        expect(4 * l.tile * (d + 1 + l.kSpan)).toBeLessThanOrEqual(16384);
        expect(l.tile).toBeGreaterThanOrEqual(8);
      }
    }
  });

  it('component buffer sections follow each other without overlap', () => {
    const l = componentLayout(3, 4);
    expect([l.means, l.cholesky, l.logConst, l.shifts, l.length]).toEqual([0, 12, 12 + 30, 42 + 3, 45 + 12]);
  });

  it('the kernels inside the JavaScript are shaders/ as it is, includes expanded', async () => {
    const generated = readFileSync(new URL('../src/gpu/kernels.generated.ts', import.meta.url), 'utf8');
    // Fails after a shader edit until `npm run kernels` (which `npm run build` runs) regenerates it.
    expect(
      generated === (await generatedKernels()),
      'src/gpu/kernels.generated.ts is stale: run `npm run kernels`',
    ).toBe(true);
    const sums = await loadShader('kmeans_sums.wgsl');
    expect(sums).not.toMatch(/\/\/!include/);
    expect(structFields(sums, 'Chunk')).toEqual([...CHUNK_FIELDS]);
    expect(sums).toContain(shader('kmeans_sums.wgsl').split('//!include chunk.wgsl')[1]);
    await expect(loadShader('missing.wgsl')).rejects.toThrow(/no WGSL kernel named 'missing\.wgsl'/);
  });

  it('includes expand recursively, and a cycle is an error', async () => {
    const files: Record<string, string> = {
      'a.wgsl': '//!include b.wgsl\nA',
      'b.wgsl': '//!include c.wgsl\nB',
      'c.wgsl': 'C',
    };
    expect(await expandIncludes(files['a.wgsl'], (n) => files[n])).toBe('C\nB\nA');
    files['c.wgsl'] = '//!include a.wgsl';
    await expect(expandIncludes(files['a.wgsl'], (n) => files[n], ['a.wgsl'])).rejects.toThrow(
      /include cycle: a\.wgsl -> b\.wgsl -> c\.wgsl -> a\.wgsl/,
    );
  });

  it('a custom shader loader may return plain strings, and includes still expand', async () => {
    setShaderLoader((name) => shader(name));
    try {
      expect(structFields(await loadShader('kmeans_sums.wgsl'), 'Chunk')).toEqual([...CHUNK_FIELDS]);
    } finally {
      setShaderLoader(null);
    }
  });

  it('every kernel is a .wgsl file in shaders/ with a main entry point; parts are only included', () => {
    expect(shaderFiles.length).toBeGreaterThanOrEqual(3);
    expect([...includedParts].sort()).toEqual(['chunk.wgsl', 'float64.wgsl', 'kmeans_assign_rows.wgsl']);
    for (const f of shaderFiles) {
      if (includedParts.has(f)) expect(shader(f)).not.toMatch(/@compute|fn main\(/);
      else expect(shader(f)).toMatch(/@compute @workgroup_size\(\w+\)\s*fn main\(/);
    }
  });

  it('k-means centre tiles: shifted, scaled by a power of two, padded, ranking as the direct form', () => {
    const k = 10;
    const d = 3;
    const c = Float64Array.from({ length: k * d }, (_, e) => 1e4 + ((e * 7919) % 101) / 7);
    const { tiles, centres } = packKMeansCentres(c, k, d);
    expect(tiles.length).toBe(2 * (d + 1) * KMEANS_TILE);
    const scale = centres[k * d + d];
    expect(Number.isInteger(Math.log2(scale))).toBe(true);
    expect(Array.from(centres.subarray(0, k * d))).toEqual(Array.from(c, Math.fround));
    const at = (j: number, i: number) =>
      tiles[(Math.floor(j / KMEANS_TILE) * d + i) * KMEANS_TILE + (j % KMEANS_TILE)];
    const norm = (j: number) => tiles[2 * d * KMEANS_TILE + j];
    for (let j = 0; j < k; j++) {
      for (let i = 0; i < d; i++) {
        expect(Math.abs(at(j, i))).toBeLessThanOrEqual(1);
        // c' = (c - m) s, rounded once (m s is exact: a power-of-two scale).
        const m = centres[k * d + i] / scale;
        expect(at(j, i)).toBe(Math.fround((c[j * d + i] - m) * scale));
      }
    }
    for (let j = k; j < 2 * KMEANS_TILE; j++) expect(norm(j)).toBeGreaterThan(1e38);
    // ||c'||^2 - 2 x'.c' ranks a sample's centres as ||x - c||^2 does.
    const x = [1e4 + 3.1, 1e4 + 7.7, 1e4 + 0.4];
    const direct = Array.from({ length: k }, (_, j) => x.reduce((a, v, i) => a + (v - c[j * d + i]) ** 2, 0));
    const xs = x.map((v, i) => v * scale - centres[k * d + i]);
    const score = Array.from(
      { length: k },
      (_, j) => norm(j) - 2 * xs.reduce((a, v, i) => a + v * at(j, i), 0),
    );
    const order = (v: number[]) => v.map((_, j) => j).sort((a, b) => v[a] - v[b]);
    expect(order(score)).toEqual(order(direct));
  });
});

describe('the fused kernel', () => {
  const limits = { maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256 };

  it('takes the sizes it can hold in one workgroup, and leaves the rest to the two-kernel path', () => {
    for (const [kind, shape] of [
      ['full', 'software'],
      ['diagonal', 'software'],
      ['full', 'gpu'],
      ['diagonal', 'gpu'],
    ] as const) {
      for (const d of [1, 3, 8, FUSED_MAX_FEATURES[kind]]) {
        for (const k of [1, 7, 16, FUSED_MAX_COMPONENTS]) {
          const l = fusedLayout(d, k, kind, limits, shape)!;
          expect(l.tile).toBeLessThanOrEqual(FUSED_TILE_ROWS[shape][kind]);
          expect(l.workgroup % 8).toBe(0);
          expect(l.workgroup).toBeGreaterThanOrEqual(k);
          const bytes = l.tile * (16 * Math.ceil(d / 4) + 4 * l.workgroup + 4) + 4 * l.workgroup;
          expect(bytes).toBeLessThanOrEqual(limits.maxComputeWorkgroupStorageSize);
          expect(l.tile).toBeGreaterThanOrEqual(1);
        }
      }
      expect(fusedLayout(FUSED_MAX_FEATURES[kind] + 1, 4, kind, limits)).toBeNull();
      expect(fusedLayout(4, FUSED_MAX_COMPONENTS + 1, kind, limits)).toBeNull();
    }
  });

  it('generated code writes every sum of the entry layout exactly once, in both shapes', async () => {
    for (const [kind, d] of [
      ['full', 1],
      ['full', 5],
      ['diagonal', 6],
    ] as const) {
      // The GPU shape adds each tile's sums into the block's slot; the software shape writes its
      // registers once at the end: either way each entry of the layout once per line kind.
      const parts = {
        gpu: fusedKernelParts(d, kind, 'gpu'),
        software: fusedKernelParts(d, kind, 'software'),
      };
      for (const lines of [parts.gpu.add_tile_sums, parts.software.write_sums]) {
        const entries = lines
          .split('\n')
          .map((l) => Number(/base \+ (\d+)u/.exec(l)![1]))
          .sort((a, b) => a - b);
        expect(entries).toEqual(Array.from({ length: statsPerComponent(d, kind) }, (_, i) => i));
      }
      expect(parts.gpu.write_sums).toBe('');
      expect(parts.software.zero_sums).toBe('');
      for (const shape of ['gpu', 'software'] as const) {
        const source = await fusedKernelSource(d, kind, shape);
        expect(source).not.toMatch(/^\s*\/\/!generate \w+$/m);
        expect(source).toMatch(new RegExp(`const D: u32 = ${d}u;`));
      }
    }
  });
});

describe('kernel descriptors match their shaders', () => {
  const addressSpace: Record<string, BindingType> = {
    uniform: 'uniform',
    'storage, read': 'read-only-storage',
    'storage, read_write': 'storage',
  };

  /** Each `@group(0) @binding(N) var<...> name` line: its number, name and buffer type. */
  function bindings(source: string) {
    return [...source.matchAll(/^@group\((\d+)\) @binding\((\d+)\) var<([^>]+)> (\w+)\s*:/gm)].map((m) => ({
      group: Number(m[1]),
      binding: Number(m[2]),
      name: m[4],
      type: addressSpace[m[3].replace(/\s+/g, ' ')] ?? `unknown address space <${m[3]}>`,
    }));
  }

  it('one descriptor per kernel file in shaders/', () => {
    const files = shaderFiles.filter((f) => !includedParts.has(f));
    expect(KERNELS.map((k) => k.file).sort()).toEqual(files.sort());
  });

  for (const k of KERNELS) {
    it(`${k.file}: bindings in order, with names and buffer types`, async () => {
      const source = await loadShader(k.file);
      const declared = bindings(source);
      // Every @binding attribute is on a line the pattern reads, so none goes unchecked.
      expect(declared.length).toBe(source.match(/@binding\(/g)!.length);
      expect(declared).toEqual(
        k.bindings.map((b, i) => ({ group: 0, binding: i, name: b.name, type: b.type })),
      );
    });

    it(`${k.file}: each uniform binding is the struct the host packs, u32 fields in order`, async () => {
      const source = await loadShader(k.file);
      const uniforms = k.bindings.filter((b) => b.type === 'uniform');
      for (const b of uniforms) {
        expect(b.struct, `binding '${b.name}' names no struct`).toBeDefined();
        const { struct, fields } = b.struct!;
        expect(new RegExp(`var<uniform> ${b.name}\\s*:\\s*(\\w+)`).exec(source)?.[1]).toBe(struct);
        // Every field is a u32 the pattern reads: none is left out of the comparison.
        expect(structBody(source, struct).match(/^\s*\w+\s*:/gm)!.length).toBe(fields.length);
        expect(structFields(source, struct)).toEqual([...fields]);
        expect((fields.length * 4) % 16).toBe(0);
      }
      expect(k.bindings.filter((b) => b.struct !== undefined)).toEqual(uniforms);
    });

    it(`${k.file}: override constants and workgroup size`, () => {
      const source = shader(k.file);
      expect([...source.matchAll(/^override (\w+)\s*:/gm)].map((m) => m[1])).toEqual([...k.overrides]);
      expect(source).toMatch(/@compute @workgroup_size\(WORKGROUP\)/);
      if (k.workgroupSize === 'override') {
        expect(source).toMatch(/^override WORKGROUP: u32/m);
      } else {
        expect(constant(source, 'WORKGROUP')).toBe(k.workgroupSize);
      }
    });
  }
});
