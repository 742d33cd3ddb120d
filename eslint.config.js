import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'demo/dist/**',
      '.demo-out/**',
      'dist-bench/**',
      '.gpu-run/**',
      '.bench-out/**',
      'node_modules/**',
      'coverage/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { console: 'readonly', process: 'readonly', navigator: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The fresh app of test/package.test.ts: browser and Worker code.
    files: ['test/consumer/**'],
    languageOptions: { globals: { window: 'readonly', self: 'readonly', Worker: 'readonly' } },
  },
  {
    // The demo: a user's app (page and Worker). It takes the library by its package name only.
    files: ['demo/**'],
    ignores: ['demo/vite.config.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/src/*', '!./*'], message: "import the library as 'webgpu-em', as a user would" },
          ],
        },
      ],
    },
  },
);
