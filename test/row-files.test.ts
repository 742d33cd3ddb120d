/**
 * Data files read a block at a time give exactly the rows of the whole file read at once,
 * whatever the block size: blocks that end on a row boundary, inside one row, or across many.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RowChunk } from '../src/data/row-source.js';
import { readDataFile } from '../src/io/files.js';
import { encodeNpy } from '../src/io/npy.js';
import { openDataSource, type SourceOptions } from '../src/io/row-files.js';

const dir = mkdtempSync(join(tmpdir(), 'webgpu-em-rows-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ROWS = 37;
const COLS = 3;
const values = Float32Array.from({ length: ROWS * COLS }, (_, i) => Math.fround(Math.sin(i) * 100 + i / 7));

function file(name: string, contents: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, contents);
  return p;
}

async function allRows(path: string, options: SourceOptions) {
  const opened = await openDataSource(path, options);
  const parts: RowChunk[] = [];
  for (let pass = 0; pass < 2; pass++) {
    parts.length = 0;
    for await (const c of opened.source() as AsyncIterable<RowChunk>) parts.push(c);
  }
  await opened.release();
  const data = new Float32Array(parts.reduce((n, c) => n + c.data.length, 0));
  let at = 0;
  for (const c of parts) {
    data.set(c.data, at);
    at += c.data.length;
  }
  return { data, chunks: parts.length, opened };
}

const csv = [
  'a,b,c',
  ...Array.from({ length: ROWS }, (_, r) => Array.from(values.slice(r * 3, r * 3 + 3)).join(',')),
].join('\n');

const FILES: Array<[string, () => string, SourceOptions]> = [
  ['float32 .npy', () => file('f4.npy', encodeNpy(values, ROWS, COLS)), {}],
  ['float64 .npy', () => file('f8.npy', encodeNpy(Float64Array.from(values), ROWS, COLS)), {}],
  ['raw float32', () => file('raw.f32', new Uint8Array(values.buffer.slice(0))), { rawDims: COLS }],
  ['CSV with a header', () => file('h.csv', csv + '\n'), {}],
  [
    'CSV without a final newline, CRLF, blank lines',
    () => file('crlf.csv', csv.replace(/\n/g, '\r\n\r\n')),
    {},
  ],
  [
    'whitespace-separated text',
    () => file('ws.txt', csv.replace(/,/g, '  ').split('\n').slice(1).join('\n')),
    {},
  ],
];

describe('openDataSource reads what readDataFile reads', () => {
  for (const [name, make, options] of FILES) {
    // Row sizes: 12 bytes of float32, ~20 to 40 bytes of text.
    for (const [cut, blockBytes] of [
      ['blocks of whole rows', 12 * 5],
      ['blocks of one row or less', 7],
      ['blocks of one byte', 1],
      ['blocks of many rows', 1 << 20],
    ] as const) {
      it(`${name}, ${cut}`, async () => {
        const path = make();
        const whole = await readDataFile(path, options);
        const { data, opened } = await allRows(path, { ...options, blockBytes });
        expect(opened.cols).toBe(whole.matrix.cols);
        expect(opened.columnNames).toEqual(whole.columnNames);
        expect(data).toEqual(whole.matrix.data);
      });
    }
  }

  it('picks columns by name from a header, as a whole read does', async () => {
    const path = file('pick.csv', csv + '\n');
    const options = { select: { columns: ['c', 'a'] }, blockBytes: 50 };
    const whole = await readDataFile(path, options);
    const { data, opened } = await allRows(path, options);
    expect(opened.columnNames).toEqual(['c', 'a']);
    expect(data).toEqual(whole.matrix.data);
  });

  it('names the line of a bad cell across blocks', async () => {
    const lines = csv.split('\n');
    lines[30] = '1,2,oops';
    const path = file('bad.csv', lines.join('\n'));
    const opened = await openDataSource(path, { blockBytes: 64 });
    const read = async () => {
      for await (const chunk of opened.source() as AsyncIterable<RowChunk>) void chunk;
    };
    await expect(read()).rejects.toThrow(/line 31/);
    const lines2 = csv.split('\n');
    lines2[20] = '1,2';
    const opened2 = await openDataSource(file('short.csv', lines2.join('\n')), { blockBytes: 64 });
    const read2 = async () => {
      for await (const chunk of opened2.source() as AsyncIterable<RowChunk>) void chunk;
    };
    await expect(read2()).rejects.toThrow(/line 21 has 2 columns but the header \(line 1\) has 3/);
  });

  it('refuses a .npy shape larger than the file before reading any value', async () => {
    const npy = encodeNpy(values, ROWS, COLS);
    // The same header length: six more digits, six fewer spaces of padding.
    const text = new TextDecoder('latin1')
      .decode(npy)
      .replace(`(${ROWS}, 3)`, '(99999999, 3)')
      .replace('      \n', '\n');
    const path = file(
      'lying.npy',
      Uint8Array.from(text, (c) => c.charCodeAt(0)),
    );
    await expect(openDataSource(path)).rejects.toThrow(
      /truncated .npy file \(shape \(99999999, 3\) float32 needs 1199999988 bytes/,
    );
  });

  it('refuses raw data that is not whole rows, and input past --max-input-size', async () => {
    await expect(openDataSource(file('odd.f32', new Uint8Array(13)), { rawDims: 3 })).rejects.toThrow(
      /13 bytes is not a whole number of rows of 3 float32 values/,
    );
    await expect(openDataSource('/dev/zero', { maxInputBytes: 4096 })).rejects.toThrow(
      /larger than --max-input-size \(maxInputBytes\), 4K bytes/,
    );
  });
});
