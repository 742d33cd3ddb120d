/**
 * Host side of the structs the kernels read. The WGSL declarations in shaders/ list the same
 * fields in the same order; test/layout.test.ts checks that they agree.
 */

/** A uniform struct of u32 fields: its WGSL name and its fields in declaration order. */
export interface UniformStruct {
  readonly struct: string;
  readonly fields: readonly string[];
}

/** Values of a uniform struct's fields by name (padding fields are zero and not named). */
export type UniformValues<U extends UniformStruct> = Record<
  Exclude<U['fields'][number], `_pad${number}`>,
  number
>;

const uniformStruct = <const U extends UniformStruct>(u: U): U => u;

/** Fields of the `Chunk` uniform (all u32), in declaration order. */
export const CHUNK_FIELDS = [
  'row_offset',
  'row_count',
  'rows_per_block',
  'block_offset',
  'has_row_weights',
  'grid_width',
  '_pad0',
  '_pad1',
] as const;

/** The range of rows a dispatch covers (shaders/chunk.wgsl, shared by the per-row and statistics kernels). */
export const CHUNK_UNIFORM = uniformStruct({ struct: 'Chunk', fields: CHUNK_FIELDS });

export type ChunkUniform = UniformValues<typeof CHUNK_UNIFORM>;

/** Fields of the `Reduce` uniform (all u32), in declaration order. */
export const REDUCE_FIELDS = ['block_count', 'stride', 'grid_width', '_pad0'] as const;

/** The blocks reduce_partials.wgsl combines. */
export const REDUCE_UNIFORM = uniformStruct({ struct: 'Reduce', fields: REDUCE_FIELDS });

/** One slice's dispatch of kmeanspp_distances.wgsl, for a group of a k-means++ step's candidates. */
export const SEEDING_STEP_UNIFORM = uniformStruct({
  struct: 'Step',
  fields: [
    'row_offset',
    'row_count',
    'block_offset',
    'first',
    'weighted',
    'candidates',
    'candidate_first',
    'trial_stride',
    'block_stride',
    '_pad0',
    '_pad1',
    '_pad2',
  ],
});

/** The end of a k-means++ step, seeding_select.wgsl: its candidates and blocks. */
export const SEEDING_SELECT_UNIFORM = uniformStruct({
  struct: 'Select',
  fields: ['candidates', 'blocks', '_pad0', '_pad1'],
});

/** Packs a uniform of u32 fields; padding fields are zero. */
export function packU32Struct<F extends readonly string[]>(
  fields: F,
  values: Record<string, number>,
): Uint32Array {
  return Uint32Array.from(fields, (name) => (name.startsWith('_pad') ? 0 : values[name]));
}

/** Packs one uniform struct in its field order. */
export function packUniform<U extends UniformStruct>(u: U, values: UniformValues<U>): Uint32Array {
  return packU32Struct(u.fields, values);
}

/**
 * Bytes between the uniform slots of one buffer: each slot is bound at its own offset, which
 * WebGPU wants aligned to minUniformBufferOffsetAlignment (256 on most adapters).
 */
export const uniformSlotStride = (limits: { minUniformBufferOffsetAlignment: number }): number =>
  Math.max(limits.minUniformBufferOffsetAlignment, 256);

/** Slot `slot` of a buffer of uniform slots, `stride` bytes apart, bound as struct `u`. */
export function uniformSlot(
  buffer: GPUBuffer,
  stride: number,
  slot: number,
  u: UniformStruct,
): GPUBufferBinding {
  return { buffer, offset: slot * stride, size: u.fields.length * 4 };
}

/** How a pass's statistics kernel splits chunks into blocks of partial sums. */
export interface ChunkBlocks {
  readonly rowsPerBlock: number;
  /** Blocks of each chunk; chunk i's are numbered on from chunk i - 1's. */
  readonly perChunk: readonly number[];
  /** Sums per block (the reduction's stride). */
  readonly stride: number;
  /** Workgroups along x of the reduction's dispatch ({@link reduceGrid}). */
  readonly reduceWidth: number;
}

/**
 * The uniform slots of a pass, `stride` bytes apart: the Chunk uniform of every chunk (its rows,
 * its dispatch's grid width and, with `blocks`, where its partial sums go), then with `blocks`
 * the Reduce uniform over all of them.
 */
export function packChunkUniforms(
  chunks: readonly { readonly firstRow: number; readonly rows: number }[],
  stride: number,
  gridWidths: readonly number[],
  blocks: ChunkBlocks | null,
  /** The row_weights binding holds one weight per row of the whole data set. */
  weighted = false,
): Uint32Array {
  const data = new Uint32Array((stride / 4) * (chunks.length + (blocks ? 1 : 0)));
  let blockOffset = 0;
  chunks.forEach((c, i) => {
    const u: ChunkUniform = {
      row_offset: c.firstRow,
      row_count: c.rows,
      rows_per_block: blocks?.rowsPerBlock ?? 0,
      block_offset: blockOffset,
      has_row_weights: weighted ? 1 : 0,
      grid_width: gridWidths[i],
    };
    data.set(packUniform(CHUNK_UNIFORM, u), (i * stride) / 4);
    blockOffset += blocks?.perChunk[i] ?? 0;
  });
  if (blocks) {
    const reduce = packUniform(REDUCE_UNIFORM, {
      block_count: blockOffset,
      stride: blocks.stride,
      grid_width: blocks.reduceWidth,
    });
    data.set(reduce, (chunks.length * stride) / 4);
  }
  return data;
}
