/**
 * Build layout (electron-vite). The engine is plain TypeScript that also runs under
 * Node, so the main-side bundle holds several entries side by side in out/main:
 *   main            the Electron main process (package.json "main")
 *   engine-process  the app's engine, started by main as a utilityProcess
 *   serve           `npm run serve`: the engine behind the WebSocket transport, plain Node
 *   cli             the command line
 *   ort-worker      the inference worker, which the engine starts from beside its bundle
 * The preload is its own single-file bundle (a sandboxed preload cannot load chunks).
 * src-shared (the schemas and issue wording both sides use) is bundled into the main-side
 * entries and into the renderer alike; the renderer's dev server may read it because
 * it lies inside the project root (Vite's default server.fs.allow).
 */
import { resolve } from 'node:path';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'electron-vite';

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: {
          main: resolve(__dirname, 'src-main/app/main.ts'),
          'engine-process': resolve(__dirname, 'src-main/app/engine-process.ts'),
          serve: resolve(__dirname, 'src-main/transport/serve.ts'),
          cli: resolve(__dirname, 'src-main/cli/main.ts'),
          'ort-worker': resolve(__dirname, 'src-main/engine/runtime/ort-worker.ts'),
        },
        // Native and data-heavy packages load from node_modules at run time.
        external: ['onnxruntime-node', '@huggingface/tokenizers', '@huggingface/jinja', 'zod', 'ws'],
        // Entries share the engine as a chunk; it must sit in out/main itself, because the
        // runtime starts ort-worker.js from its own folder (__dirname).
        output: { chunkFileNames: '[name]-[hash].js' },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rollupOptions: {
        input: { preload: resolve(__dirname, 'src-main/preload/preload.ts') },
      },
    },
  },
  // The Svelte UI. `npm run serve` serves this same out/renderer build to a browser.
  renderer: {
    root: resolve(__dirname, 'src-renderer'),
    build: {
      outDir: resolve(__dirname, 'out/renderer'),
      rollupOptions: { input: resolve(__dirname, 'src-renderer/index.html') },
    },
    // vite-plugin-svelte looks for svelte.config.* in the Vite root unless told.
    plugins: [svelte({ configFile: resolve(__dirname, 'svelte.config.mjs') })],
  },
});
