/**
 * Analysis benchmarks (issue 12): a full resid_pre patching sweep (every layer x every
 * position of a 16-token prompt) on the SmolLM2-135M-shaped model, batched as the engine
 * runs it (batched rows, each pass fed from its cells' first patched position on, after
 * the base run's kept prefix, through the blocks from their segment's first: analysis/
 * sweep-passes.ts) against the naive method: one full forward pass of the whole
 * prompt per patch (no prefix reuse). The unbatched sweep would take minutes, so it is
 * timed on the first two layers' cells and compared per cell (both give the same cells:
 * src-main/engine/analysis/patching.test.ts), so only the time differs.
 *
 * And the neuron atlas: one layer's up, gate and down directions decoded (neurons per
 * second), against the plain matrix product it is built on, [chunk, d_model] x [d_model,
 * d_vocab] with the unembedding, timed in the same run: that product's throughput bounds
 * the atlas, which adds the final norm, the softmax statistics and the TopK per row.
 */
import { Engine, neuronAtlas, patchingSweep, type ExecutionProvider, type ModelHandle } from '../engine/api';
import { GraphBuilder } from '../engine/graph/builder';
import { weightOps } from '../engine/graph/weight-ops';
import { float32 } from '../engine/runtime/tensor';

export const PATCH_PROMPT_TOKENS = 16;
const UNBATCHED_LAYERS = 2;
export const PATCH_BATCHED_TARGET = 4; // batched at least 4x faster per cell

export interface PatchingBench {
  cells: number;
  /** blockPositions: blocks x positions the passes ran, over their rows (the batched sweep skips the base run's work). */
  batched: { batchSize: number; forwardPasses: number; blockPositions: number; ms: number; msPerCell: number };
  unbatched: { cells: number; forwardPasses: number; blockPositions: number; ms: number; msPerCell: number };
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
      // Reusing nothing of the base run: every patch is a full forward pass of the whole prompt, the naive method.
      await patchingSweep(model, { ...request, batchSize: 1 }, { signal: abort.signal, onProgress: ({ done }) => ((unbatchedPasses = done), done === unbatchedCells && abort.abort()) }, { reuseBaseRun: false });
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    }
  });
  const cells = batched.value.cells;
  const fullCell = PATCH_PROMPT_TOKENS * model.spec.nLayers; // block-positions of one full pass
  const batchedPerCell = batched.ms / cells;
  const unbatchedPerCell = unbatched.ms / unbatchedCells;
  return {
    cells,
    batched: { batchSize, forwardPasses: batched.value.forwardPasses, blockPositions: batched.value.blockPositions ?? cells * fullCell, ms: batched.ms, msPerCell: batchedPerCell },
    unbatched: { cells: unbatchedCells, forwardPasses: unbatchedPasses + 1, blockPositions: unbatchedCells * fullCell, ms: unbatched.ms, msPerCell: unbatchedPerCell },
    speedup: unbatchedPerCell / batchedPerCell,
  };
}

export const ATLAS_CHUNK = 256;
const MATMUL_RUNS = 5; // after one warm-up

export interface AtlasBench {
  layer: number;
  /** Neuron directions decoded (up, gate and down of one layer) and how fast. */
  neurons: number;
  seconds: number;
  neuronsPerSecond: number;
  /** The bare product [chunk, d_model] x [d_model, d_vocab] (median of runs): GFLOP/s, and the rows per second it allows. */
  matmul: { rows: number; medianMs: number; gflops: number; rowsPerSecond: number };
  /** Atlas neurons per second over the bare product's rows per second. */
  fractionOfMatmul: number;
  /**
   * The same layer ranked by z-score (its own cache file, so decoded again): the moments
   * passes and the d_model head rows of the covariance come on top of the decoding.
   */
  zscore: { seconds: number; neuronsPerSecond: number; costOverLogit: number };
}

/** The atlas's main product and nothing else: rows times the unembedding, reduced to one number per row so the output stays small. */
async function timeUnembedMatmul(model: ModelHandle, rows: Float32Array, count: number): Promise<number[]> {
  const { dModel } = model.spec;
  const build: Parameters<ModelHandle['runGraph']>[1] = (spec, manifest) => {
    const g = new GraphBuilder('bench-unembed-matmul');
    const { matmul } = weightOps(g, manifest);
    const product = matmul(g.input('rows', 'float32', ['n', spec.dModel]), 'unembed.weight', spec.dModel);
    g.output(g.op1('ReduceMax', [product, g.constant('int64', [1], [-1])], { attrs: { keepdims: 1 }, output: 'row_max' }), 'float32', ['n', 1]);
    return g.toModel();
  };
  const feeds = { rows: float32([count, dModel], rows.slice(0, count * dModel)) };
  const times: number[] = [];
  for (let run = 0; run <= MATMUL_RUNS; run++) {
    const started = performance.now();
    await model.runGraph('bench.unembed-matmul', build, feeds, ['row_max']);
    if (run > 0) times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

export async function benchAtlas(model: ModelHandle, layer = 0): Promise<AtlasBench> {
  const { dModel, dVocab } = model.spec;
  const times = await timeUnembedMatmul(model, model.weightRows().neuronDirections(layer, 'up'), ATLAS_CHUNK);
  const medianMs = times[Math.floor(times.length / 2)];
  const result = await neuronAtlas(model, { layer, top: 10, chunkSize: ATLAS_CHUNK });
  const rowsPerSecond = (ATLAS_CHUNK * 1000) / medianMs;
  const neuronsPerSecond = result.neuronsPerSecond ?? 0;
  const ranked = await neuronAtlas(model, { layer, top: 10, chunkSize: ATLAS_CHUNK, normalise: 'zscore' });
  return {
    layer,
    neurons: result.decoded,
    seconds: result.seconds,
    neuronsPerSecond,
    matmul: { rows: ATLAS_CHUNK, medianMs, gflops: (2 * ATLAS_CHUNK * dModel * dVocab) / (medianMs * 1e6), rowsPerSecond },
    fractionOfMatmul: neuronsPerSecond / rowsPerSecond,
    zscore: { seconds: ranked.seconds, neuronsPerSecond: ranked.neuronsPerSecond ?? 0, costOverLogit: ranked.seconds / result.seconds },
  };
}

/** Load the model in its own engine (reusing `cacheDir`'s converted weights) and run the analysis benchmarks. */
export async function benchAnalyses(path: string, cacheDir: string, options: { threads: number; ep: ExecutionProvider }): Promise<{ patching: PatchingBench; atlas: AtlasBench }> {
  const engine = Engine.create({ cacheDir, threads: options.threads, executionProvider: options.ep });
  try {
    const model = await engine.loadModel(path);
    return { patching: await benchPatching(model), atlas: await benchAtlas(model) };
  } finally {
    await engine.close();
  }
}
