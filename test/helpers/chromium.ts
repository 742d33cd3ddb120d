import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (scripts/setup.sh installs it), or $CHROMIUM_PATH. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Headless Chromium's WebGPU canvases present frames only with ANGLE on SwiftShader and Vulkan
 * on: without these a device that configures a canvas is lost ('destroyed') at its first frame.
 */
const CANVAS_ARGS = ['--use-gl=angle', '--use-angle=swiftshader', '--enable-features=Vulkan'];

/**
 * Headless Chromium with WebGPU on (lavapipe or SwiftShader here); fails, never skips, without it.
 * `canvas: true` also lets WebGPU draw into canvases (see CANVAS_ARGS).
 */
export async function launchChromium(options: { canvas?: boolean } = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}; run \`bash scripts/setup.sh\` (or set CHROMIUM_PATH)`,
    );
  }
  return chromium.launch({
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
      ...(options.canvas ? CANVAS_ARGS : []),
    ],
  });
}
