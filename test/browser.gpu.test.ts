/**
 * The browser path for real: the library's sources served by Vite, run in headless Chromium
 * (Debian's package, its built-in SwiftShader adapter) through navigator.gpu. The packed package
 * in a fresh app is test/package.test.ts. No Chromium is a failure, never a skip
 * (scripts/setup.sh installs it).
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const root = new URL('..', import.meta.url).pathname;

let server: ViteDevServer;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}; run \`bash scripts/setup.sh\` (or set CHROMIUM_PATH)`,
    );
  }
  server = await createServer({
    root,
    logLevel: 'error',
    configFile: false,
    server: { host: '127.0.0.1', port: 0, strictPort: false },
    optimizeDeps: { noDiscovery: true, include: [] },
  });
  await server.listen();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--headless',
      '--enable-unsafe-webgpu',
      '--enable-unsafe-swiftshader',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('in a browser', () => {
  it('fits on navigator.gpu and agrees with the CPU backend in the same page', async () => {
    const { port } = server.httpServer!.address() as AddressInfo;
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${port}/test/browser/index.html`);
    await page.waitForFunction(() => window.webgpuEmResult !== undefined, null, { timeout: 240_000 });
    const result = (await page.evaluate(() => window.webgpuEmResult)) as Record<string, unknown>;
    expect(errors).toEqual([]);
    expect(result.error).toBeUndefined();
    expect(result.backend).toBe('webgpu');
    expect(typeof result.adapter).toBe('string');
    console.log(`browser adapter: ${String(result.adapter)}`);
    const [g, c] = [result.gpuLowerBound as number, result.cpuLowerBound as number];
    expect(Math.abs(g - c)).toBeLessThan(1e-4 * Math.abs(c));
    const gl = result.gpuLabels as number[];
    const cl = result.cpuLabels as number[];
    expect(gl.filter((l, i) => l !== cl[i]).length).toBeLessThanOrEqual(2);
    const [gi, ci] = [result.gpuInertia as number, result.cpuInertia as number];
    expect(Math.abs(gi - ci) / ci).toBeLessThan(1e-5);
    await page.close();
  });
});
