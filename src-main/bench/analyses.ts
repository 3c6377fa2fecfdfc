/**
 * Analysis benchmarks (issue 12): a full resid_pre patching sweep (every layer x every
 * position of a 16-token prompt) on the SmolLM2-135M-shaped model, batched as the engine
 * runs it against one forward pass per patch. The unbatched sweep would take minutes, so
 * it is timed on the first two layers' cells and compared per cell (both give the same
 * cells: src-main/engine/analysis/patching.test.ts), so only the time differs.
 */
import { Engine, patchingSweep, type ExecutionProvider, type ModelHandle } from '../engine/api';

export const PATCH_PROMPT_TOKENS = 16;
const UNBATCHED_LAYERS = 2;
export const PATCH_BATCHED_TARGET = 4; // batched at least 4x faster per cell

export interface PatchingBench {
  cells: number;
  batched: { batchSize: number; forwardPasses: number; ms: number; msPerCell: number };
  unbatched: { cells: number; forwardPasses: number; ms: number; msPerCell: number };
  speedup: number;
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await run();
  return { value, ms: performance.now() - started };
}

export async function benchPatching(model: ModelHandle, batchSize = 32): Promise<PatchingBench> {
  const { dVocab } = model.spec;
  const clean = Array.from({ length: PATCH_PROMPT_TOKENS }, (_, i) => (i * 7919 + 13) % dVocab);
  const corrupted = clean.map((id, i) => (i === 5 || i === 11 ? (id + 101) % dVocab : id));
  const request = { clean, corrupted, answer: 100, wrong: 200, site: 'resid_pre' as const };
  await patchingSweep(model, { ...request, batchSize }); // compile and warm both graphs
  const batched = await timed(() => patchingSweep(model, { ...request, batchSize }));
  // One pass per patch: the same sweep with one cell per pass, stopped after the first layers.
  const abort = new AbortController();
  const unbatchedCells = UNBATCHED_LAYERS * PATCH_PROMPT_TOKENS;
  let unbatchedPasses = 0;
  const unbatched = await timed(async () => {
    try {
      await patchingSweep(model, { ...request, batchSize: 1 }, { signal: abort.signal, onProgress: ({ done }) => ((unbatchedPasses = done), done === unbatchedCells && abort.abort()) });
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    }
  });
  const cells = batched.value.cells;
  const batchedPerCell = batched.ms / cells;
  const unbatchedPerCell = unbatched.ms / unbatchedCells;
  return {
    cells,
    batched: { batchSize, forwardPasses: batched.value.forwardPasses, ms: batched.ms, msPerCell: batchedPerCell },
    unbatched: { cells: unbatchedCells, forwardPasses: unbatchedPasses + 1, ms: unbatched.ms, msPerCell: unbatchedPerCell },
    speedup: unbatchedPerCell / batchedPerCell,
  };
}

/** Load the model in its own engine (reusing `cacheDir`'s converted weights) and run the analysis benchmarks. */
export async function benchAnalyses(path: string, cacheDir: string, options: { threads: number; ep: ExecutionProvider }): Promise<PatchingBench> {
  const engine = Engine.create({ cacheDir, threads: options.threads, executionProvider: options.ep });
  try {
    return await benchPatching(await engine.loadModel(path));
  } finally {
    await engine.close();
  }
}
