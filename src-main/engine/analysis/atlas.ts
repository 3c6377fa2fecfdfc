/**
 * Neuron atlas (METHODS.md 5, Davies "Flash Interpretability"): every MLP neuron's up row
 * (and gate row, where the MLP is gated) and down column pushed through the final norm
 * and the unembedding; the top tokens label the neuron. The decoding runs in the graph
 * runtime (graph/atlas-graph.ts), a chunk of neuron directions per run with a TopK, so a
 * layer's [d_mlp, d_vocab] logits never exist at once; each layer and matrix is cached on
 * disk per model (atlas-cache.ts; atlas-decode.ts runs it). Tokens are ranked by logit, or
 * by the logit's z-score across the layer's neurons. On top of the decoded layers: a token
 * search (neurons ranked by that token's logit, or z-score, in their decoded direction) and
 * the neurons most active on a prompt (mlp.hook_post).
 */
import type { ModelHandle } from '../engine';
import { EngineError } from '../errors';
import { atlasIo } from '../graph/atlas-graph';
import { neuronMatrices } from '../graph/weight-rows';
import { hookName } from '../hooks/names';
import { float32 } from '../runtime/tensor';
import { atlasRequestSchema, type AtlasNeuron, type AtlasRequestInput, type AtlasResult, type NeuronDecoding, type NeuronMatrix } from '../../../src-shared/analysis-schema';
import { outsideRange } from '../../../src-shared/issues';
import type { LayerDecoding, TokenStats } from './atlas-cache';
import { decodeLayers, decodeRuns, graphOf, layerKey, newDecodeStats, rankingIssue, runAtlasGraph, runProgress, zScore, type DecodeStats, type RunProgress } from './atlas-decode';
import { chunks, requestError, throwIfCancelled, type AnalysisControl } from './control';

/** Directions scored per run by a search: only [n, 1] leaves the graph. */
const SCORE_ROWS_PER_RUN = 4096;

export async function neuronAtlas(model: ModelHandle, input: AtlasRequestInput, control: AnalysisControl = {}): Promise<AtlasResult> {
  const parsed = atlasRequestSchema.safeParse(input);
  if (!parsed.success) throw requestError('atlas', parsed.error.issues);
  const request = parsed.data;
  const { nLayers, dVocab, dMlp } = model.spec;
  const matrices = neuronMatrices(model.spec);
  const issues: { path: string[]; message: string }[] = [];
  if (request.layer !== null && request.layer >= nLayers) issues.push({ path: ['layer'], message: outsideRange('layer', request.layer, nLayers) });
  if (request.search !== null && request.search >= dVocab) issues.push({ path: ['search'], message: outsideRange('token', request.search, dVocab) });
  if (!matrices.includes(request.searchMatrix)) issues.push({ path: ['searchMatrix'], message: `this model's MLP has no ${request.searchMatrix} matrix (it has ${matrices.join(', ')})` });
  if (request.ids?.some((id) => id >= dVocab)) issues.push({ path: ['ids'], message: `a token id is outside the vocabulary (0..${dVocab - 1})` });
  const rankIssue = rankingIssue(model.spec, request.normalise);
  if (rankIssue) issues.push({ path: ['normalise'], message: rankIssue });
  if (issues.length > 0) throw requestError('atlas', issues);

  const layers = request.layer === null ? Array.from({ length: nLayers }, (_, layer) => layer) : [request.layer];
  const stats = newDecodeStats();
  const searchRuns = request.search === null ? 0 : layers.length * Math.ceil(dMlp / SCORE_ROWS_PER_RUN);
  const onRuns = runProgress(layers.length * matrices.length * decodeRuns(model.spec, request) + searchRuns, control);
  const decodings = await decodeLayers(model, layers, matrices, request, stats, control, onRuns);

  const decodingOf = (layer: number, matrix: NeuronMatrix, neuron: number): NeuronDecoding => {
    const { top, ids, logits, logSumExp, entropy, ranked } = decodings.get(layerKey(layer, matrix)) as LayerDecoding;
    const row = (values: Float32Array): number[] => Array.from(values.subarray(neuron * top, (neuron + 1) * top));
    return { ids: row(ids), probs: row(logits).map((logit) => Math.exp(logit - logSumExp[neuron])), entropy: entropy[neuron], scores: ranked && row(ranked.scores) };
  };
  const neuronOf = (layer: number, neuron: number): AtlasNeuron => ({
    layer,
    neuron,
    up: decodingOf(layer, 'up', neuron),
    gate: matrices.includes('gate') ? decodingOf(layer, 'gate', neuron) : null,
    down: decodingOf(layer, 'down', neuron),
  });

  let search: AtlasResult['search'] = null;
  if (request.search !== null) {
    const token = request.search;
    const statsOf = (layer: number): TokenStats | null => (decodings.get(layerKey(layer, request.searchMatrix)) as LayerDecoding).ranked?.stats ?? null;
    const scored = await searchToken(model, layers, request.searchMatrix, token, request.finalNorm, statsOf, control, stats, onRuns);
    search = {
      token,
      matrix: request.searchMatrix,
      neurons: topBy(scored, request.limit, (entry) => entry.score ?? entry.logit).map(({ layer, neuron, logit, score }) => {
        const { top, ids, logSumExp } = decodings.get(layerKey(layer, request.searchMatrix)) as LayerDecoding;
        const rank = ids.subarray(neuron * top, (neuron + 1) * top).indexOf(token);
        return { ...neuronOf(layer, neuron), logit, score, prob: Math.exp(logit - logSumExp[neuron]), rank: rank < 0 ? null : rank };
      }),
    };
  }

  let active: AtlasResult['active'] = null;
  if (request.ids !== null) {
    const activity = await mostActive(model, layers, request.ids);
    active = { ids: request.ids, neurons: topBy(activity, request.limit, (entry) => Math.abs(entry.activation)).map((entry) => ({ ...neuronOf(entry.layer, entry.neuron), activation: entry.activation, position: entry.position })) };
  }

  return {
    layers,
    dMlp,
    matrices,
    top: request.top,
    finalNorm: request.finalNorm,
    normalise: request.normalise,
    table: request.layer === null ? null : Array.from({ length: dMlp }, (_, neuron) => neuronOf(request.layer as number, neuron)),
    search,
    active,
    decoded: stats.decoded,
    cached: stats.cached,
    seconds: stats.seconds,
    neuronsPerSecond: stats.decoded > 0 && stats.seconds > 0 ? stats.decoded / stats.seconds : null,
    graphRuns: stats.graphRuns,
  };
}

interface Scored {
  layer: number;
  neuron: number;
  logit: number;
  /** The logit's z-score among the layer's neurons, when the atlas ranks so. */
  score: number | null;
}

/**
 * The token's logit in every neuron's decoded direction: the normed directions times the
 * token's unembedding column (the decode graph's logit at that token, without the rest of
 * the vocabulary). With quantized weights the column is dequantized in float32, so it can
 * differ from the decode graph's int8-activation product in the last digits. With the
 * layer's token statistics (z-score ranking), each logit also gets its z-score there.
 */
async function searchToken(
  model: ModelHandle,
  layers: number[],
  matrix: NeuronMatrix,
  token: number,
  finalNorm: boolean,
  statsOf: (layer: number) => TokenStats | null,
  control: AnalysisControl,
  stats: DecodeStats,
  onRuns: RunProgress,
): Promise<Scored[]> {
  const { dModel, dMlp } = model.spec;
  const rows = model.weightRows();
  const column = float32([dModel, 1], rows.unembedDirections([token]));
  const scored: Scored[] = [];
  const graph = graphOf('score', finalNorm);
  for (const layer of layers) {
    const directions = rows.neuronDirections(layer, matrix);
    const tokenStats = statsOf(layer);
    for (const chunk of chunks(Array.from({ length: dMlp }, (_, i) => i), SCORE_ROWS_PER_RUN)) {
      throwIfCancelled(control.signal, 'neuron atlas');
      const first = chunk[0];
      const feeds = { [atlasIo.rows]: float32([chunk.length, dModel], directions.slice(first * dModel, (first + chunk.length) * dModel)), [atlasIo.directions]: column };
      const outputs = await runAtlasGraph(model, graph, feeds, [atlasIo.scores], stats, onRuns);
      (outputs[atlasIo.scores].data as Float32Array).forEach((logit, i) => scored.push({ layer, neuron: first + i, logit, score: tokenStats && zScore(tokenStats, token, logit) }));
    }
  }
  return scored;
}

interface Activity {
  layer: number;
  neuron: number;
  activation: number;
  position: number;
}

/** Every neuron's largest |mlp.hook_post| over the prompt's positions, with its signed value, from one captured forward pass. */
async function mostActive(model: ModelHandle, layers: number[], ids: number[]): Promise<Activity[]> {
  const { dMlp } = model.spec;
  const { captures } = await model.run(ids, { captures: layers.map((layer) => ({ hook: hookName.mlpPost(layer), positions: 'all' as const })) });
  const activity: Activity[] = [];
  for (const layer of layers) {
    const post = captures[hookName.mlpPost(layer)]; // [pos, d_mlp]
    if (!post) throw new EngineError('runtime_error', `neuron atlas: no capture of ${hookName.mlpPost(layer)}`);
    for (let neuron = 0; neuron < dMlp; neuron++) {
      let best = { activation: 0, position: 0 };
      for (let p = 0; p < ids.length; p++) {
        const value = post.data[p * dMlp + neuron];
        if (Math.abs(value) > Math.abs(best.activation)) best = { activation: value, position: p };
      }
      activity.push({ layer, neuron, ...best });
    }
  }
  return activity;
}

/** The `limit` entries with the largest score, highest first (ties: lower layer, then lower neuron, as listed). */
function topBy<T>(entries: T[], limit: number, score: (entry: T) => number): T[] {
  return entries
    .map((entry, order) => ({ entry, order, value: score(entry) }))
    .sort((a, b) => b.value - a.value || a.order - b.order)
    .slice(0, limit)
    .map(({ entry }) => entry);
}
