import { defineConfig } from 'vitest/config';

// GPU test files run one at a time: software Vulkan drivers use every core and compile slowly.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'cpu',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.gpu.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'gpu',
          include: ['test/**/*.gpu.test.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
