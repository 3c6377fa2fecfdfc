// Svelte compiler options shared by electron-vite (renderer), vitest and svelte-check.
// Svelte 5 strips TypeScript itself, so no preprocessor is needed.
export default {
  compilerOptions: {
    runes: true,
  },
};
