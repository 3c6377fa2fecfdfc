/**
 * Neuron atlas (METHODS.md 5, Davies "Flash Interpretability"): every MLP neuron's up row
 * (and gate row, where the MLP is gated) and down column pushed through the final norm
 * and the unembedding; the top tokens label the neuron. The decoding runs in the graph
 * runtime (graph/atlas-graph.ts), a chunk of neuron directions per run with a TopK, so a
 * layer's [d_mlp, d_vocab] logits never exist at once; each layer and matrix is cached on
 * disk per model (atlas-cache.ts). On top of the decoded layers: a token search (neurons
 * ranked by that token's logit in their decoded direction) and the neurons most active on
 * a prompt (mlp.hook_post).
 */
import type { ModelHandle } from '../engine';
import { EngineError } from '../errors';
import { buildAtlasGraph, atlasIo } from '../graph/atlas-graph';
import { neuronMatrices } from '../graph/weight-rows';
import { hookName } from '../hooks/names';
import { float32, int64 } from '../runtime/tensor';
import { atlasRequestSchema, type AtlasNeuron, type AtlasRequestInput, type AtlasResult, type NeuronDecoding, type NeuronMatrix } from '../../../src-shared/analysis-schema';
import { readCachedDecoding, writeCachedDecoding, type LayerDecoding } from './atlas-cache';
import { chunks, requestError, throwIfCancelled, type AnalysisControl } from './control';

/** Decoded logits held per graph run (the [n, d_vocab] product and its softmax): bounds a run's memory. */
const DECODE_BYTES_PER_RUN = 64 * 1024 * 1024;
/** Directions scored per run by a search: only [n, 1] leaves the graph. */
const SCORE_ROWS_PER_RUN = 4096;

const layerKey = (layer: number, matrix: NeuronMatrix): string => `${layer}.${matrix}`;

export async function neuronAtlas(model: ModelHandle, input: AtlasRequestInput, control: AnalysisControl = {}): Promise<AtlasResult> {
  const parsed = atlasRequestSchema.safeParse(input);
  if (!parsed.success) throw requestError('atlas', parsed.error.issues);
  const request = parsed.data;
  const { nLayers, dVocab, dMlp } = model.spec;
  const matrices = neuronMatrices(model.spec);
  const issues: { path: string[]; message: string }[] = [];
  if (request.layer !== null && request.layer >= nLayers) issues.push({ path: ['layer'], message: `layer ${request.layer} is outside the model's blocks (0..${nLayers - 1})` });
  if (request.search !== null && request.search >= dVocab) issues.push({ path: ['search'], message: `token ${request.search} is outside the vocabulary (0..${dVocab - 1})` });
  if (!matrices.includes(request.searchMatrix)) issues.push({ path: ['searchMatrix'], message: `this model's MLP has no ${request.searchMatrix} matrix (it has ${matrices.join(', ')})` });
  if (request.ids?.some((id) => id >= dVocab)) issues.push({ path: ['ids'], message: `a token id is outside the vocabulary (0..${dVocab - 1})` });
  if (issues.length > 0) throw requestError('atlas', issues);

  const layers = request.layer === null ? Array.from({ length: nLayers }, (_, layer) => layer) : [request.layer];
  const stats = { decoded: 0, cached: 0, seconds: 0, graphRuns: 0 };
  const decodings = new Map<string, LayerDecoding>();
  const total = layers.length * matrices.length * dMlp;
  const report = (): void => control.onProgress?.({ done: stats.decoded + stats.cached, total, unit: 'neurons' });
  for (const layer of layers) {
    for (const matrix of matrices) {
      throwIfCancelled(control.signal, 'neuron atlas');
      const key = { layer, matrix, finalNorm: request.finalNorm };
      let decoding = readCachedDecoding(model.cacheFolder, key, dMlp, request.top);
      if (decoding) {
        stats.cached += dMlp;
        report();
      } else {
        const started = performance.now();
        decoding = await decodeLayer(model, layer, matrix, request.top, request.finalNorm, request.chunkSize, control, (rows) => {
          stats.decoded += rows;
          stats.graphRuns++;
          report();
        });
        stats.seconds += (performance.now() - started) / 1000;
        writeCachedDecoding(model.cacheFolder, key, decoding);
      }
      decodings.set(layerKey(layer, matrix), decoding);
    }
  }

  const decodingOf = (layer: number, matrix: NeuronMatrix, neuron: number): NeuronDecoding => {
    const { top, ids, logits, logSumExp, entropy } = decodings.get(layerKey(layer, matrix)) as LayerDecoding;
    const row = (values: Float32Array): number[] => Array.from(values.subarray(neuron * top, (neuron + 1) * top));
    return { ids: row(ids), probs: row(logits).map((logit) => Math.exp(logit - logSumExp[neuron])), entropy: entropy[neuron] };
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
    const scored = await searchToken(model, layers, request.searchMatrix, token, request.finalNorm, control, () => stats.graphRuns++);
    search = {
      token,
      matrix: request.searchMatrix,
      neurons: topBy(scored, request.limit, (entry) => entry.logit).map(({ layer, neuron, logit }) => {
        const { top, ids, logSumExp } = decodings.get(layerKey(layer, request.searchMatrix)) as LayerDecoding;
        const rank = ids.subarray(neuron * top, (neuron + 1) * top).indexOf(token);
        return { ...neuronOf(layer, neuron), logit, prob: Math.exp(logit - logSumExp[neuron]), rank: rank < 0 ? null : rank };
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

/** One layer's matrix through the decode graph, `chunkSize` neuron directions per run (fewer for a large vocabulary). */
async function decodeLayer(
  model: ModelHandle,
  layer: number,
  matrix: NeuronMatrix,
  top: number,
  finalNorm: boolean,
  chunkSize: number,
  control: AnalysisControl,
  onRun: (rows: number) => void,
): Promise<LayerDecoding> {
  const { dModel, dMlp, dVocab } = model.spec;
  const k = Math.min(top, dVocab);
  const directions = model.weightRows().neuronDirections(layer, matrix); // [d_mlp, d_model]
  const out: LayerDecoding = { top: k, ids: new Float32Array(dMlp * k), logits: new Float32Array(dMlp * k), logSumExp: new Float32Array(dMlp), entropy: new Float32Array(dMlp) };
  const perRun = Math.max(1, Math.min(chunkSize, Math.floor(DECODE_BYTES_PER_RUN / (dVocab * 4))));
  const neurons = Array.from({ length: dMlp }, (_, i) => i);
  for (const chunk of chunks(neurons, perRun)) {
    throwIfCancelled(control.signal, 'neuron atlas');
    const first = chunk[0];
    const n = chunk.length;
    // slice, not subarray: a view would send the whole layer's buffer to the worker.
    const feeds = { [atlasIo.rows]: float32([n, dModel], directions.slice(first * dModel, (first + n) * dModel)), [atlasIo.k]: int64([1], [k]) };
    const outputs = await model.runGraph(`atlas.decode.${finalNorm}`, (spec, manifest) => buildAtlasGraph(spec, manifest, 'decode', finalNorm), feeds, [atlasIo.topLogits, atlasIo.topIds, atlasIo.topProbs, atlasIo.expectedLogit]);
    const topLogits = outputs[atlasIo.topLogits].data as Float32Array;
    const topProbs = outputs[atlasIo.topProbs].data as Float32Array;
    const expected = outputs[atlasIo.expectedLogit].data as Float32Array;
    out.logits.set(topLogits, first * k);
    out.ids.set(Array.from(outputs[atlasIo.topIds].data as BigInt64Array, Number), first * k);
    for (let i = 0; i < n; i++) {
      // p(top1) = exp(z(top1) - lse), so lse = z(top1) - log p(top1); H = lse - E_p[z].
      const logSumExp = topLogits[i * k] - Math.log(topProbs[i * k]);
      out.logSumExp[first + i] = logSumExp;
      out.entropy[first + i] = logSumExp - expected[i];
    }
    onRun(n);
  }
  return out;
}

interface Scored {
  layer: number;
  neuron: number;
  logit: number;
}

/**
 * The token's logit in every neuron's decoded direction: the normed directions times the
 * token's unembedding column (the decode graph's logit at that token, without the rest of
 * the vocabulary). With quantized weights the column is dequantized in float32, so it can
 * differ from the decode graph's int8-activation product in the last digits.
 */
async function searchToken(model: ModelHandle, layers: number[], matrix: NeuronMatrix, token: number, finalNorm: boolean, control: AnalysisControl, onRun: () => void): Promise<Scored[]> {
  const { dModel, dMlp } = model.spec;
  const rows = model.weightRows();
  const column = float32([dModel, 1], rows.unembedDirections([token]));
  const scored: Scored[] = [];
  for (const layer of layers) {
    const directions = rows.neuronDirections(layer, matrix);
    for (const chunk of chunks(Array.from({ length: dMlp }, (_, i) => i), SCORE_ROWS_PER_RUN)) {
      throwIfCancelled(control.signal, 'neuron atlas');
      const first = chunk[0];
      const feeds = { [atlasIo.rows]: float32([chunk.length, dModel], directions.slice(first * dModel, (first + chunk.length) * dModel)), [atlasIo.directions]: column };
      const outputs = await model.runGraph(`atlas.score.${finalNorm}`, (spec, manifest) => buildAtlasGraph(spec, manifest, 'score', finalNorm), feeds, [atlasIo.scores]);
      onRun();
      (outputs[atlasIo.scores].data as Float32Array).forEach((logit, i) => scored.push({ layer, neuron: first + i, logit }));
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
