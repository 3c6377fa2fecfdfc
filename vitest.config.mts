import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';
import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

const root = import.meta.dirname;

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'main',
          include: ['src-main/**/*.test.ts', 'src-shared/**/*.test.ts'],
          environment: 'node',
          // Model loading and ONNX session creation are slow on 2 shared cores.
          testTimeout: 120_000,
          hookTimeout: 120_000,
          pool: 'forks',
        },
      },
      {
        // Svelte components in jsdom (no canvas: charts are checked in Playwright).
        plugins: [svelte({ configFile: resolve(root, 'svelte.config.mjs') }), svelteTesting()],
        test: {
          name: 'renderer',
          include: ['src-renderer/**/*.test.ts'],
          environment: 'jsdom',
          testTimeout: 20_000,
        },
      },
    ],
  },
});
