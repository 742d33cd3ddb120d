/**
 * The browser path for real: the library's sources served by Vite, run in headless Chromium
 * (Debian's package, its built-in SwiftShader adapter) through navigator.gpu. The packed package
 * in a fresh app is test/package.test.ts. No Chromium is a failure, never a skip
 * (scripts/setup.sh installs it).
 */
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './helpers/chromium.js';

const root = new URL('..', import.meta.url).pathname;

let server: ViteDevServer;
let browser: Browser;

beforeAll(async () => {
  server = await createServer({
    root,
    logLevel: 'error',
    configFile: false,
    server: { host: '127.0.0.1', port: 0, strictPort: false },
    optimizeDeps: { noDiscovery: true, include: [] },
  });
  await server.listen();
  browser = await launchChromium();
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
