/**
 * The published package as a new user gets it: `npm pack` from a copy of the sources with no
 * build in it (prepack builds), the tarball installed into a fresh app in a temporary folder
 * (without Dawn, an optional peer), then that app (test/consumer/) built with Vite and served on
 * 127.0.0.1: in headless Chromium it fits in the page and in a module Worker, on the CPU backend
 * and on navigator.gpu (kernels inside the JavaScript, nothing fetched), and the same package
 * loads with no bundler through an import map. A strict TypeScript consumer type-checks against
 * the published declarations, and Node without Dawn is told what to install.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import type { Browser } from 'playwright-core';
import { createServer as createViteServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './helpers/chromium.js';

const repo = new URL('..', import.meta.url).pathname;
const bin = (path: string) => join(repo, 'node_modules', path);

let work: string;
let app: string;
let tarball: string;
let viteOutput: string;
let server: Server;
let browser: Browser;

function run(command: string, args: string[], cwd: string): string {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  return `${r.stdout}\n${r.stderr}`;
}

const MIME: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** Serves `root` as static files (no directory listing, nothing outside it). */
function serve(root: string): Promise<Server> {
  const s = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const file = join(root, path);
    if (!file.startsWith(root) || !existsSync(file) || !MIME[extname(file)]) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': MIME[extname(file)] }).end(readFileSync(file));
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'webgpu-em-package-'));
  // A fresh checkout: the tracked and new source files, no dist/.
  const clone = join(work, 'clone');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: repo,
    encoding: 'utf8',
  });
  for (const f of files.split('\0').filter((f) => f && existsSync(join(repo, f)) && !f.startsWith('dist/'))) {
    cpSync(join(repo, f), join(clone, f), { dereference: false });
  }
  symlinkSync(join(repo, 'node_modules'), join(clone, 'node_modules'));
  const packed = run('npm', ['pack', '--silent', '--pack-destination', work], clone).trim().split('\n')[0];
  tarball = join(work, packed);

  app = join(work, 'app');
  cpSync(new URL('consumer/', import.meta.url).pathname, app, { recursive: true });
  cpSync(join(app, 'package.template.json'), join(app, 'package.json'));
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app);
  // The tools come from this repository; the app installs only the package. Linked one package
  // at a time, after the install: npm prunes what it did not install, through links too.
  mkdirSync(join(app, 'node_modules', '@types'));
  symlinkSync(bin('@types/node'), join(app, 'node_modules', '@types', 'node'));
  viteOutput = run(process.execPath, [bin('vite/bin/vite.js'), 'build'], app);
  server = await serve(app);
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Fit {
  backend: string;
  lowerBound: number;
  labels: number[];
  inertia: number;
}
type Fits = { cpu: Fit; webgpu: Fit; error?: undefined } | { error: string };

async function pageResult(
  path: string,
  port = (server.address() as AddressInfo).port,
): Promise<Record<string, Fits>> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  try {
    await page.goto(`http://127.0.0.1:${port}/${path}`);
    await page.waitForFunction(() => (window as { result?: unknown }).result !== undefined, null, {
      timeout: 120_000,
    });
    const result = (await page.evaluate(() => (window as { result?: unknown }).result)) as Record<
      string,
      Fits
    >;
    expect(errors).toEqual([]);
    return result;
  } finally {
    await page.close();
  }
}

let built: Promise<Record<string, Fits>> | undefined;
/** The Vite build's page, loaded once. */
const vitePage = () => (built ??= pageResult('dist/index.html'));

/** The WebGPU fit agrees with the CPU one (float32 against float64, as in the browser test). */
function expectAgreement(fits: Fits): { cpu: Fit; webgpu: Fit } {
  if (fits.error !== undefined) throw new Error(fits.error);
  expect(fits.cpu.backend).toBe('cpu');
  expect(fits.webgpu.backend).toBe('webgpu');
  const { cpu, webgpu } = fits;
  expect(Math.abs(webgpu.lowerBound - cpu.lowerBound)).toBeLessThan(1e-4 * Math.abs(cpu.lowerBound));
  expect(webgpu.labels.filter((l, i) => l !== cpu.labels[i]).length).toBeLessThanOrEqual(2);
  expect(Math.abs(webgpu.inertia - cpu.inertia) / cpu.inertia).toBeLessThan(1e-5);
  return fits;
}

describe('the packed package', () => {
  it('ships a build, its kernels inside the JavaScript, a LICENSE, and no Dawn', () => {
    const root = join(app, 'node_modules', 'webgpu-em');
    expect(existsSync(join(root, 'dist', 'src', 'index.js'))).toBe(true);
    expect(existsSync(join(root, 'dist', 'src', 'index.d.ts'))).toBe(true);
    expect(readFileSync(join(root, 'LICENSE'), 'utf8')).toMatch(/MIT License/);
    expect(readFileSync(join(root, 'dist', 'src', 'gpu', 'kernels.generated.js'), 'utf8')).toMatch(
      /"kmeans_assign\.wgsl": ".*@compute/,
    );
    expect(existsSync(join(app, 'node_modules', 'webgpu'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', '@webgpu', 'types'))).toBe(true);
  });

  it('builds with Vite without Dawn in the bundle or a warning about it', () => {
    expect(viteOutput).not.toMatch(/externali[sz]ed|dawn|["'`]webgpu["'`]/i);
    const assets = join(app, 'dist', 'assets');
    const code = readdirSync(assets)
      .map((f) => readFileSync(join(assets, f), 'utf8'))
      .join('\n');
    // The package's `browser` field swapped Dawn's loader (dist/src/gpu/dawn.js) for its stub:
    // not even an empty chunk stands in for the uninstalled peer.
    expect(code).toContain('in a browser use navigator.gpu');
    expect(code).not.toMatch(/npm install webgpu|optional-peer-dep|dawn\.node/);
  });

  it('fits in a Vite page and in its module Worker, on the CPU and on navigator.gpu', async () => {
    const result = await vitePage();
    const page = expectAgreement(result.page);
    const worker = expectAgreement(result.worker);
    // The same float64 code on the same data in the same browser: the same numbers.
    expect(worker.cpu).toEqual(page.cpu);
  });

  it("fits in Vite's dev server, page and Worker", async () => {
    const dev = await createViteServer({
      root: app,
      configFile: join(app, 'vite.config.js'),
      server: { host: '127.0.0.1', port: 0 },
    });
    try {
      await dev.listen();
      const result = await pageResult('index.html', (dev.httpServer!.address() as AddressInfo).port);
      expectAgreement(result.page);
      expectAgreement(result.worker);
    } finally {
      await dev.close();
    }
  });

  it('loads with no bundler through an import map', async () => {
    const plain = expectAgreement((await pageResult('plain.html')).page);
    const vite = expectAgreement((await vitePage()).page);
    expect(plain.cpu).toEqual(vite.cpu);
  });

  it('type-checks in a strict TypeScript consumer without skipLibCheck', () => {
    for (const config of ['tsconfig.node.json', 'tsconfig.bundler.json']) {
      run(process.execPath, [bin('typescript/bin/tsc'), '-p', config], app);
    }
  });

  it('runs in Node; without Dawn, WebGPU says what to install', () => {
    const script = [
      "const { fits } = await import('./src/fits.js');",
      "console.log(JSON.stringify(await fits('cpu')));",
      "try { await fits('webgpu'); } catch (e) { console.log(e.message); }",
    ].join('\n');
    const [json, message] = run(process.execPath, ['--input-type=module', '-e', script], app)
      .trim()
      .split('\n');
    expect((JSON.parse(json) as Fit).backend).toBe('cpu');
    expect(message).toMatch(/npm install webgpu/);
    const cli = spawnSync(join(app, 'node_modules', '.bin', 'webgpu-em'), ['info', '--backend', 'webgpu'], {
      cwd: app,
      encoding: 'utf8',
    });
    expect(cli.status).toBe(1);
    expect(cli.stderr).toMatch(/npm install webgpu/);
  });
});
