/**
 * Build layout (electron-vite). The engine is plain TypeScript that also runs under
 * Node, so the main-side bundle holds the CLI and the inference worker; the worker is
 * its own entry because the engine starts it as out/main/ort-worker.js beside the bundle.
 * The Electron shell and the Svelte renderer join this file when the app lands.
 */
import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: {
          cli: resolve(__dirname, 'src-main/cli/main.ts'),
          'ort-worker': resolve(__dirname, 'src-main/engine/runtime/ort-worker.ts'),
        },
        // Native and data-heavy packages load from node_modules at run time.
        external: ['onnxruntime-node', '@huggingface/tokenizers', '@huggingface/jinja', 'zod'],
      },
    },
  },
});
