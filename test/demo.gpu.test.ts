/**
 * The demo end to end: demo/ built with Vite against the built package (as `npm run build:demo`
 * does), served statically on 127.0.0.1 and driven in headless Chromium on its WebGPU adapter
 * through its controls, as a user would. The generated data is made again here, in Node, from
 * the same seed, so the clusters are judged against the generator's truth independently of the
 * page; the downloaded model and labels are checked with the library's CPU backend.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjustedRandIndex, generate } from '../demo/src/data.js';
import { GaussianMixture } from '../src/index.js';
import { encodeNpy } from '../src/io/npy.js';
import { launchChromium } from './helpers/chromium.js';

const repo = new URL('..', import.meta.url).pathname;
/** Where the screenshot goes (docs/demo.png in the README is one of them). */
const SCREENSHOT = join(repo, '.demo-out', 'demo.png');
/**
 * The page's default data set. DEMO_E2E_ROWS sets another N for the first test (the 1,000,000-point
 * check: DEMO_E2E_ROWS=1000000 npx vitest run test/demo.gpu.test.ts -t 'generated points').
 */
const SPEC = {
  shape: 'blobs',
  n: Number(process.env.DEMO_E2E_ROWS ?? 200_000),
  d: 2,
  k: 5,
  seed: 1,
} as const;
/** Waits scale with N (software rendering on 2 cores). */
const WAIT = 90_000 * Math.max(1, SPEC.n / 200_000);

let work: string;
let server: Server;
let browser: Browser;

const MIME: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
};

/** Serves `root` as static files, as any static host would. */
function serve(root: string): Promise<Server> {
  const s = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const file = join(root, path === '/' ? 'index.html' : path);
    if (!file.startsWith(root) || !existsSync(file) || !MIME[extname(file)]) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': MIME[extname(file)] }).end(readFileSync(file));
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'webgpu-em-demo-'));
  await build({
    configFile: join(repo, 'demo', 'vite.config.ts'),
    logLevel: 'error',
    build: { outDir: join(work, 'site'), emptyOutDir: true },
  });
  server = await serve(join(work, 'site'));
  browser = await launchChromium({ canvas: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A page of the demo whose errors (page, console, HTTP) are collected. */
async function open(init?: () => void): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 760 }, acceptDownloads: true });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  if (init) await page.addInitScript(init);
  await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  return { page, errors };
}

const state = (page: Page, s: string, timeout = WAIT) =>
  page.waitForSelector(`body[data-state="${s}"]`, { timeout, state: 'attached' });
const text = (page: Page, id: string) => page.locator(`#${id}`).innerText();

async function downloaded(page: Page, button: string): Promise<string> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(`#${button}`)]);
  return readFileSync((await download.path())!, 'utf8');
}

describe('the demo, built, in headless Chromium', () => {
  it(
    `fits ${SPEC.n.toLocaleString('en')} generated points, recovers the generator's clusters, downloads model and labels`,
    async () => {
      const { page, errors } = await open();
      try {
        // The page generates the form's data set at start: 200,000 blobs, D = 2, 5 groups, seed 1.
        await state(page, 'ready');
        if (SPEC.n !== 200_000) {
          await page.fill('#n', String(SPEC.n));
          await page.click('#generate');
          await page.waitForFunction((n) => document.body.dataset.rows === String(n), SPEC.n, {
            timeout: WAIT,
          });
          await state(page, 'ready');
        }
        expect(await text(page, 'data-info')).toContain(`${SPEC.n.toLocaleString('en')} rows × 2 features`);
        expect(await text(page, 'adapter')).toMatch(/^adapter: \S/);
        await page.click('#run');
        await state(page, 'done');
        const iterations = Number(await text(page, 'iteration'));
        expect(iterations).toBeGreaterThan(1);
        expect(await text(page, 'throughput')).toMatch(/\/s$/);
        // The page's own judgement of the fit, and ours from its downloaded labels.
        expect(Number(await page.locator('#ari').getAttribute('data-value'))).toBeGreaterThan(0.9);
        const truth = (await generate(SPEC)).truth!;
        const labels = (await downloaded(page, 'download-labels')).trim().split('\n').slice(1).map(Number);
        expect(labels.length).toBe(SPEC.n);
        expect(adjustedRandIndex(truth, labels)).toBeGreaterThan(0.9);
        // The model file loads as the command line's model does, and predicts the page's labels.
        const json = await downloaded(page, 'download-model');
        expect(JSON.parse(json).format).toBe('webgpu-em/gmm@1');
        using model = GaussianMixture.fromJSON(json, { backend: 'cpu' });
        const data = await generate(SPEC);
        const predicted = await model.predict({ data: data.data, rows: data.rows, cols: data.cols });
        // float64 here, float32 on the GPU: only samples on a boundary may differ.
        expect(predicted.filter((l, i) => l !== labels[i]).length).toBeLessThan(SPEC.n * 1e-3);
        // The plot as its render pipeline drew it (Save plot image: drawn into a texture, read back).
        const [image] = await Promise.all([page.waitForEvent('download'), page.click('#download-image')]);
        const png = readFileSync((await image.path())!).toString('base64');
        // Headless Chromium's screenshots here leave WebGPU canvases blank: lay the plot's own image
        // over the canvas, then photograph the page.
        const coloured = await page.evaluate(async (src) => {
          const img = document.createElement('img');
          img.src = `data:image/png;base64,${src}`;
          await img.decode();
          img.style.cssText = 'position:absolute;inset:0;width:100%;height:100%';
          document.getElementById('plot-area')!.append(img);
          const c = new OffscreenCanvas(img.naturalWidth, img.naturalHeight);
          const g = c.getContext('2d')!;
          g.drawImage(img, 0, 0);
          const px = g.getImageData(0, 0, c.width, c.height).data;
          // Pixels of the points' colours (not the background, not white outlines).
          let n = 0;
          for (let i = 0; i < px.length; i += 4) {
            const [r, gr, b] = [px[i], px[i + 1], px[i + 2]];
            if (Math.max(r, gr, b) - Math.min(r, gr, b) > 60) n++;
          }
          return n;
        }, png);
        expect(coloured).toBeGreaterThan(20_000);
        await page.evaluate(() => document.querySelector('aside')!.scrollTo(0, 0));
        mkdirSync(join(repo, '.demo-out'), { recursive: true });
        await page.screenshot({ path: SCREENSHOT });
        expect(readFileSync(SCREENSHOT).length).toBeGreaterThan(10_000);
        expect(errors).toEqual([]);
        console.log(
          `demo: N = ${SPEC.n}, ${iterations} iterations, last ${await text(page, 'seconds')} ` +
            `(labels + frame ${await text(page, 'frame')}) and ` +
            `${await text(page, 'throughput')}, ARI ${await text(page, 'ari')}, adapter ${await text(page, 'adapter')}`,
        );
      } finally {
        await page.close();
      }
    },
    4 * WAIT,
  );

  it('fits well-separated blobs with the Bayesian mixture at K = 10 and shows the components switching off', async () => {
    // Eight groups under K = 10: the fit switches the two spare components off within a few dozen
    // steps (from fewer groups, a group split among several components takes hundreds).
    const spec = { shape: 'blobs', n: 20_000, d: 2, k: 8, seed: 2 } as const;
    const { page, errors } = await open();
    try {
      await state(page, 'ready');
      await page.selectOption('#algorithm', 'bgmm-full');
      // The entry's own K (an upper bound) and its prior's controls.
      expect(await page.inputValue('#k')).toBe('10');
      expect(await page.inputValue('#param-prior-type')).toBe('dirichlet_process');
      expect(await page.getAttribute('#param-prior', 'placeholder')).toBe('1 / K');
      await page.fill('#n', String(spec.n));
      await page.fill('#groups', String(spec.k));
      await page.fill('#data-seed', String(spec.seed));
      await page.click('#generate');
      await page.waitForFunction((n) => document.body.dataset.rows === String(n), spec.n);
      await state(page, 'ready');
      // Every count the panel shows, one per step.
      await page.evaluate(() => {
        const seen: string[] = [];
        (window as unknown as { counts: string[] }).counts = seen;
        const active = document.getElementById('active')!;
        new MutationObserver(() => {
          if (active.dataset.value) seen.push(active.dataset.value);
        }).observe(active, { attributes: true, attributeFilter: ['data-value'] });
      });
      await page.click('#run');
      await state(page, 'done');
      const iterations = Number(await text(page, 'iteration'));
      const counts = (await page.evaluate(() => (window as unknown as { counts: string[] }).counts)).map(
        Number,
      );
      expect(counts.length).toBe(iterations);
      const active = Number(await page.locator('#active').getAttribute('data-value'));
      expect(await text(page, 'active')).toBe(`${active} of 10 components above 1%`);
      expect(active).toBeGreaterThanOrEqual(spec.k);
      expect(active).toBeLessThanOrEqual(spec.k + 1);
      // Components switched off as the fit went: more were on after the first step than at the end.
      expect(counts[0]).toBeGreaterThan(active);
      expect(counts.at(-1)).toBe(active);
      // The page's count is the downloaded model's: its weights above 1%.
      const json = JSON.parse(await downloaded(page, 'download-model')) as {
        format: string;
        weights: number[];
      };
      expect(json.format).toBe('webgpu-em/bgmm@1');
      expect(json.weights.filter((w) => w >= 0.01).length).toBe(active);
      expect(Number(await page.locator('#ari').getAttribute('data-value'))).toBeGreaterThan(0.9);
      expect(errors).toEqual([]);
      console.log(
        `demo, Bayesian mixture: N = ${spec.n}, K = 10, ${iterations} iterations, components above 1% ` +
          `per step ${counts.join(' ')}, ARI ${await text(page, 'ari')}`,
      );
    } finally {
      await page.close();
    }
  });

  it('steps, pauses, resumes and cancels a run, and pans and zooms', async () => {
    const { page, errors } = await open();
    try {
      await state(page, 'ready');
      // tol 0: the run goes on until paused (maxIter iterations).
      await page.selectOption('#algorithm', 'gmm-diag');
      await page.fill('#tol', '0');
      await page.fill('#max-iter', '500');
      await page.click('#step');
      await page.waitForFunction(() => document.getElementById('iteration')!.textContent === '1');
      await state(page, 'paused');
      await page.click('#step');
      await page.waitForFunction(() => document.getElementById('iteration')!.textContent === '2');
      await page.click('#run');
      await page.waitForFunction(() => Number(document.getElementById('iteration')!.textContent) >= 3);
      await page.click('#pause');
      await state(page, 'paused');
      const paused = Number(await text(page, 'iteration'));
      await page.waitForTimeout(300);
      expect(Number(await text(page, 'iteration'))).toBe(paused);
      // Pan and zoom while paused: the Worker redraws without an error.
      const box = (await page.locator('#plot').boundingBox())!;
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.wheel(0, -400);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width / 2 + 80, box.y + box.height / 2 + 30);
      await page.mouse.up();
      // Resuming continues the same run.
      await page.click('#step');
      await page.waitForFunction(
        (n) => Number(document.getElementById('iteration')!.textContent) === n + 1,
        paused,
      );
      await page.click('#cancel');
      await state(page, 'cancelled');
      expect(await text(page, 'iteration')).toBe('–');
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('loads a CSV through the file input and fits it with k-means, and names the line of one that does not parse', async () => {
    const { page, errors } = await open();
    try {
      await state(page, 'ready');
      await page.selectOption('#algorithm', 'kmeans');
      const rows = ['x,y'];
      for (let i = 0; i < 300; i++)
        rows.push(`${(i % 3) * 10 + Math.sin(i)},${(i % 3) * -7 + Math.cos(i * 1.3)}`);
      const good = join(work, 'points.csv');
      writeFileSync(good, `${rows.join('\n')}\n`);
      await page.fill('#k', '3');
      await page.setInputFiles('#file', good);
      await page.waitForFunction(() =>
        /points\.csv: 300 rows × 2 features/.test(document.getElementById('data-info')!.textContent!),
      );
      await state(page, 'ready');
      await page.click('#run');
      await state(page, 'done');
      const bad = join(work, 'bad.csv');
      writeFileSync(bad, 'x,y\n1,2\n3,4\n5,abc\n');
      await page.setInputFiles('#file', bad);
      await page.waitForFunction(() => document.getElementById('error')!.textContent !== '');
      expect(await text(page, 'error')).toBe("line 4, column 2: 'abc' is not a number");
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('loads a Fortran-order .npy through the file input as its C-order copy', async () => {
    const { page, errors } = await open();
    try {
      await state(page, 'ready');
      await page.selectOption('#algorithm', 'kmeans');
      await page.fill('#k', '3');
      const [rows, cols] = [300, 2];
      const c = new Float64Array(rows * cols);
      for (let i = 0; i < rows; i++) {
        c[i * cols] = (i % 3) * 10 + Math.sin(i);
        c[i * cols + 1] = (i % 3) * -7 + Math.cos(i * 1.3);
      }
      // The same values column-major, under NumPy's header for them (the same length: 'True ').
      const f = encodeNpy(c, rows, cols);
      const text = new TextDecoder().decode(f.subarray(10, 80));
      f.set(new TextEncoder().encode(text.replace("'fortran_order': False", "'fortran_order': True ")), 10);
      const t = new Float64Array(rows * cols);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = c[i * cols + j];
      f.set(new Uint8Array(t.buffer), f.length - t.byteLength);
      writeFileSync(join(work, 'c-order.npy'), encodeNpy(c, rows, cols));
      writeFileSync(join(work, 'f-order.npy'), f);
      const fit = async (name: string) => {
        await page.setInputFiles('#file', join(work, name));
        await page.waitForFunction(
          (n) => document.getElementById('data-info')!.textContent!.startsWith(`${n}: 300 rows × 2 features`),
          name,
        );
        await state(page, 'ready');
        await page.click('#run');
        await state(page, 'done');
        return downloaded(page, 'download-labels');
      };
      const fromC = await fit('c-order.npy');
      expect(fromC.trim().split('\n')).toHaveLength(rows + 1);
      expect(await fit('f-order.npy')).toBe(fromC);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('without navigator.gpu says which browsers work and fits small data on the CPU', async () => {
    const { page, errors } = await open(() => {
      Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined });
    });
    try {
      await page.waitForSelector('#banner:not([hidden])');
      expect(await text(page, 'banner')).toMatch(/WebGPU is not available.*Chrome/s);
      await page.fill('#n', '3000');
      await page.click('#banner button');
      await state(page, 'ready', 30_000);
      expect(await text(page, 'data-info')).toMatch(/3,000 rows/);
      await page.click('#run');
      await state(page, 'done', 60_000);
      expect(Number(await page.locator('#ari').getAttribute('data-value'))).toBeGreaterThan(0.9);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
