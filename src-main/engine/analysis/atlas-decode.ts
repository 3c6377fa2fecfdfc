/**
 * The neuron atlas's decoding (METHODS.md 5): each layer's matrix of neuron directions
 * through the decode graph (graph/atlas-graph.ts), a chunk of directions per run with a
 * TopK, so a layer's [d_mlp, d_vocab] logits never exist at once; each decoded layer and
 * matrix is cached on disk per model (atlas-cache.ts). Shared by the atlas (atlas.ts) and
 * the comparison of two models' atlases (atlas-compare.ts).
 *
 * Ranked by z-score, each token's mean and standard deviation over the layer's neurons
 * come first, exactly and without a second decoding pass: from the mean direction m and
 * the covariance C of the normed directions (two 'moments' passes over the directions,
 * d_model x d_model each), through the head as W_U[t]·m and W_U[t]ᵀ C W_U[t] ('token_moments':
 * d_model rows of C through the head, against W_U's rows: on the SmolLM2-135M shape 576
 * head rows beside the layer's 1536 neurons).
 *
 * Progress is counted in graph runs, all of them (moments, token_moments, decode, and the
 * atlas's search runs): each run is a bounded chunk, so the total is known before the first
 * (decodeRuns) and the bar moves through the z-score statistics too, not only the decoding.
 */
import type { ModelHandle } from '../engine';
import { buildAtlasGraph, atlasIo, type AtlasGraphKind } from '../graph/atlas-graph';
import type { ModelSpec } from '../model/spec';
import { float32, int64, type HostTensor } from '../runtime/tensor';
import type { AtlasRanking, NeuronMatrix } from '../../../src-shared/analysis-schema';
import { readCachedDecoding, writeCachedDecoding, type LayerDecoding, type TokenStats } from './atlas-cache';
import { chunks, throwIfCancelled, type AnalysisControl } from './control';

/** Decoded logits held per graph run (the [n, d_vocab] product and its softmax): bounds a run's memory. */
const DECODE_BYTES_PER_RUN = 64 * 1024 * 1024;
/** Directions per 'moments' run: only [d_model, d_model] leaves the graph. */
const MOMENT_ROWS_PER_RUN = 1024;
/**
 * A token whose logit varies over the neurons by less than this fraction of the typical
 * (RMS) standard deviation is taken as constant: its z-score is 0, not a large ratio of
 * rounding errors (the variance is a float32 sum over d_model products).
 */
const CONSTANT_STD = 1e-3;

export interface DecodeOptions {
  top: number;
  finalNorm: boolean;
  normalise: AtlasRanking;
  chunkSize: number;
}

export interface DecodeStats {
  decoded: number;
  cached: number;
  seconds: number;
  graphRuns: number;
}

/**
 * Why a ranking cannot be used with this model, or null. The z-scores' exact mean and
 * variance need logits linear in the direction; a soft-capped head (Gemma 2) is not.
 */
export function rankingIssue(spec: ModelSpec, normalise: AtlasRanking): string | null {
  if (normalise === 'zscore' && spec.traits.finalSoftcap !== null) return `z-scores need logits linear in the neuron's direction, and this model soft-caps its logits (cap ${spec.traits.finalSoftcap}): rank by logit instead`;
  return null;
}

/** Counts graph runs done against a total known up front, and reports each step (analysis/control.ts). */
export type RunProgress = (runs: number) => void;

export function runProgress(total: number, control: AnalysisControl): RunProgress {
  let done = 0;
  return (runs) => {
    done += runs;
    control.onProgress?.({ done, total, unit: 'graph runs' });
  };
}

const decodeRowsPerRun = (dVocab: number, chunkSize: number): number => Math.max(1, Math.min(chunkSize, Math.floor(DECODE_BYTES_PER_RUN / (dVocab * 4))));
/** C's rows per 'token_moments' run: its [b, d_vocab] product and W_U's [b, d_vocab] rows. */
const momentRowsPerRun = (dVocab: number): number => Math.max(1, Math.floor(DECODE_BYTES_PER_RUN / (dVocab * 4 * 2)));
const runsFor = (rows: number, perRun: number): number => Math.ceil(rows / perRun);

/** The graph runs that decode one layer's matrix (decodeLayer): the z-score's two moments passes and token_moments first, when so ranked. */
export function decodeRuns(spec: ModelSpec, options: DecodeOptions): number {
  const { dModel, dMlp, dVocab } = spec;
  const decode = runsFor(dMlp, decodeRowsPerRun(dVocab, options.chunkSize));
  if (options.normalise !== 'zscore') return decode;
  return 2 * runsFor(dMlp, MOMENT_ROWS_PER_RUN) + runsFor(dModel, momentRowsPerRun(dVocab)) + decode;
}

export const newDecodeStats = (): DecodeStats => ({ decoded: 0, cached: 0, seconds: 0, graphRuns: 0 });

export const layerKey = (layer: number, matrix: NeuronMatrix): string => `${layer}.${matrix}`;

export const graphOf = (kind: AtlasGraphKind, finalNorm: boolean) => ({
  key: `atlas.${kind}.${finalNorm}`,
  build: (spec: Parameters<typeof buildAtlasGraph>[0], manifest: Parameters<typeof buildAtlasGraph>[1]) => buildAtlasGraph(spec, manifest, kind, finalNorm),
});

/** One atlas graph run, counted in the stats and reported as a step of progress. */
export async function runAtlasGraph(
  model: ModelHandle,
  graph: ReturnType<typeof graphOf>,
  feeds: Record<string, HostTensor>,
  fetches: string[],
  stats: DecodeStats,
  onRuns: RunProgress,
): Promise<Record<string, HostTensor>> {
  const outputs = await model.runGraph(graph.key, graph.build, feeds, fetches);
  stats.graphRuns++;
  onRuns(1);
  return outputs;
}

/**
 * Every (layer, matrix) of `layers` x `matrices` decoded, from the cache or through the
 * graph (then cached), keyed by layerKey. `onRuns` hears of each graph run, and of a
 * cached layer's decodeRuns at once.
 */
export async function decodeLayers(
  model: ModelHandle,
  layers: readonly number[],
  matrices: readonly NeuronMatrix[],
  options: DecodeOptions,
  stats: DecodeStats,
  control: AnalysisControl,
  onRuns: RunProgress,
): Promise<Map<string, LayerDecoding>> {
  const { dMlp } = model.spec;
  const decodings = new Map<string, LayerDecoding>();
  for (const layer of layers) {
    for (const matrix of matrices) {
      throwIfCancelled(control.signal, 'neuron atlas');
      const key = { layer, matrix, finalNorm: options.finalNorm, normalise: options.normalise };
      let decoding = readCachedDecoding(model.cacheFolder, key, dMlp, options.top);
      if (decoding) {
        stats.cached += dMlp;
        onRuns(decodeRuns(model.spec, options));
      } else {
        const started = performance.now();
        decoding = await decodeLayer(model, layer, matrix, options, control, stats, onRuns);
        stats.seconds += (performance.now() - started) / 1000;
        writeCachedDecoding(model.cacheFolder, key, decoding);
      }
      decodings.set(layerKey(layer, matrix), decoding);
    }
  }
  return decodings;
}

/** One layer's matrix through the decode graph, `chunkSize` neuron directions per run (fewer for a large vocabulary). */
async function decodeLayer(model: ModelHandle, layer: number, matrix: NeuronMatrix, options: DecodeOptions, control: AnalysisControl, stats: DecodeStats, onRuns: RunProgress): Promise<LayerDecoding> {
  const { dModel, dMlp, dVocab } = model.spec;
  const k = Math.min(options.top, dVocab);
  const directions = model.weightRows().neuronDirections(layer, matrix); // [d_mlp, d_model]
  const tokenStats = options.normalise === 'zscore' ? await tokenMoments(model, directions, options.finalNorm, control, stats, onRuns) : null;
  const out: LayerDecoding = {
    top: k,
    ids: new Float32Array(dMlp * k),
    logits: new Float32Array(dMlp * k),
    logSumExp: new Float32Array(dMlp),
    entropy: new Float32Array(dMlp),
    ranked: tokenStats && { scores: new Float32Array(dMlp * k), stats: tokenStats },
  };
  const rankFeeds = tokenStats && { [atlasIo.tokenMean]: float32([1, dVocab], tokenStats.mean), [atlasIo.tokenInvStd]: float32([1, dVocab], inverseStd(tokenStats.std)) };
  const graph = graphOf(tokenStats ? 'decode_z' : 'decode', options.finalNorm);
  const fetches = [atlasIo.topLogits, atlasIo.topIds, atlasIo.topProbs, atlasIo.expectedLogit, atlasIo.logSumExp, ...(tokenStats ? [atlasIo.topScores] : [])];
  for (const chunk of chunks(Array.from({ length: dMlp }, (_, i) => i), decodeRowsPerRun(dVocab, options.chunkSize))) {
    throwIfCancelled(control.signal, 'neuron atlas');
    const first = chunk[0];
    const n = chunk.length;
    // slice, not subarray: a view would send the whole layer's buffer to the worker.
    const feeds = { [atlasIo.rows]: float32([n, dModel], directions.slice(first * dModel, (first + n) * dModel)), [atlasIo.k]: int64([1], [k]), ...rankFeeds };
    const outputs = await runAtlasGraph(model, graph, feeds, fetches, stats, onRuns);
    stats.decoded += n;
    out.logits.set(outputs[atlasIo.topLogits].data as Float32Array, first * k);
    out.ids.set(Array.from(outputs[atlasIo.topIds].data as BigInt64Array, Number), first * k);
    out.ranked?.scores.set(outputs[atlasIo.topScores].data as Float32Array, first * k);
    const logSumExp = outputs[atlasIo.logSumExp].data as Float32Array;
    const expected = outputs[atlasIo.expectedLogit].data as Float32Array;
    out.logSumExp.set(logSumExp, first);
    // H = log-sum-exp - E_p[z].
    for (let i = 0; i < n; i++) out.entropy[first + i] = logSumExp[i] - expected[i];
  }
  return out;
}

/** 1 / std per token, 0 for a token constant over the neurons (its z-score is 0). */
const inverseStd = (std: Float32Array): Float32Array => std.map((s) => (s > 0 ? 1 / s : 0));

/** A token's z-score among the layer's neurons: 0 for a token whose logit is constant over them (std 0). */
export function zScore(stats: TokenStats, token: number, logit: number): number {
  const std = stats.std[token];
  return std > 0 ? (logit - stats.mean[token]) / std : 0;
}

/**
 * Each token's mean and standard deviation (over the neurons, 1/n) of its logit in the
 * decoded directions `rows` [n, d_model]: the directions' mean and covariance through the
 * head. A constant token's std is 0.
 */
async function tokenMoments(model: ModelHandle, rows: Float32Array, finalNorm: boolean, control: AnalysisControl, stats: DecodeStats, onRuns: RunProgress): Promise<TokenStats> {
  const { dModel, dVocab } = model.spec;
  const n = rows.length / dModel;
  // Pass 1 finds the mean; pass 2 sums about it, so the covariance is no difference of large sums.
  const mean = (await directionMoments(model, rows, new Float32Array(dModel), finalNorm, control, stats, onRuns)).sum.map((s) => s / n);
  const { sum, gram } = await directionMoments(model, rows, Float32Array.from(mean), finalNorm, control, stats, onRuns);
  const covariance = new Float32Array(dModel * dModel);
  for (let a = 0; a < dModel; a++) for (let b = 0; b < dModel; b++) covariance[a * dModel + b] = gram[a * dModel + b] / n - (sum[a] / n) * (sum[b] / n);

  const graph = graphOf('token_moments', finalNorm);
  const centre = float32([1, dModel], Float32Array.from(mean));
  const variance = new Float64Array(dVocab);
  let tokenMean: Float32Array | null = null;
  // Float32 weights hold W_U's rows as they are (the graph gathers them); quantized ones give them through the head.
  const storedRows = model.weights.format === 'f32';
  for (const block of chunks(Array.from({ length: dModel }, (_, a) => a), momentRowsPerRun(dVocab))) {
    throwIfCancelled(control.signal, 'neuron atlas');
    const first = block[0];
    const unembedRows: [string, HostTensor] = storedRows ? [atlasIo.block, int64([block.length], block)] : [atlasIo.basis, float32([block.length, dModel], identityRows(block, dModel))];
    const feeds = { [atlasIo.rows]: float32([block.length, dModel], covariance.slice(first * dModel, (first + block.length) * dModel)), [atlasIo.centre]: centre, [unembedRows[0]]: unembedRows[1] };
    const outputs = await runAtlasGraph(model, graph, feeds, [atlasIo.quad, atlasIo.tokenMean], stats, onRuns);
    (outputs[atlasIo.quad].data as Float32Array).forEach((value, t) => (variance[t] += value));
    tokenMean ??= outputs[atlasIo.tokenMean].data as Float32Array;
  }
  const std = Float32Array.from(variance, (v) => Math.sqrt(Math.max(v, 0)));
  const rms = Math.sqrt(std.reduce((sum, s) => sum + s * s, 0) / dVocab);
  return { mean: tokenMean ?? new Float32Array(dVocab), std: std.map((s) => (s > CONSTANT_STD * rms ? s : 0)) };
}

/** Rows `block` of the [d, d] identity: through the head, the same rows of W_U. */
function identityRows(block: readonly number[], d: number): Float32Array {
  const rows = new Float32Array(block.length * d);
  block.forEach((a, r) => (rows[r * d + a] = 1));
  return rows;
}

/** Σ (r_i - centre) and Σ (r_i - centre)(r_i - centre)ᵀ over the normed rows, summed in float64 over runs. */
async function directionMoments(model: ModelHandle, rows: Float32Array, centre: Float32Array, finalNorm: boolean, control: AnalysisControl, stats: DecodeStats, onRuns: RunProgress): Promise<{ sum: Float64Array; gram: Float64Array }> {
  const { dModel } = model.spec;
  const graph = graphOf('moments', finalNorm);
  const sum = new Float64Array(dModel);
  const gram = new Float64Array(dModel * dModel);
  const centreFeed = float32([1, dModel], centre);
  for (const chunk of chunks(Array.from({ length: rows.length / dModel }, (_, i) => i), MOMENT_ROWS_PER_RUN)) {
    throwIfCancelled(control.signal, 'neuron atlas');
    const first = chunk[0];
    const feeds = { [atlasIo.rows]: float32([chunk.length, dModel], rows.slice(first * dModel, (first + chunk.length) * dModel)), [atlasIo.centre]: centreFeed };
    const outputs = await runAtlasGraph(model, graph, feeds, [atlasIo.rowSum, atlasIo.gram], stats, onRuns);
    (outputs[atlasIo.rowSum].data as Float32Array).forEach((value, a) => (sum[a] += value));
    (outputs[atlasIo.gram].data as Float32Array).forEach((value, i) => (gram[i] += value));
  }
  return { sum, gram };
}
