/**
 * Two models' neuron atlases side by side (METHODS.md 5): a base model and a model tuned
 * from it (its instruct version) have the same neurons, so each neuron's top-1 decoded
 * token can be compared; the paper finds 75.4% of up rows keep theirs. Both atlases come
 * from the shared decoding and cache (atlas-decode.ts), so a layer already decoded in
 * either model is read, not decoded again.
 */
import type { ModelHandle } from '../engine';
import { EngineError } from '../errors';
import { neuronMatrices } from '../graph/weight-rows';
import { atlasCompareRequestSchema, type AtlasCompareRequestInput, type AtlasCompareResult } from '../../../src-shared/analysis-schema';
import type { LayerDecoding } from './atlas-cache';
import { decodeLayers, decodeRuns, layerKey, newDecodeStats, rankingIssue, runProgress } from './atlas-decode';
import { requestError, type AnalysisControl } from './control';

/** Tokens kept per neuron when a comparison decodes a layer: the atlas's default, so its cache serves the atlas later. */
const COMPARE_TOP = 10;

/** The shape fields two models must share for their neurons to be the same neurons. */
function shapeDifferences(base: ModelHandle, other: ModelHandle): string[] {
  const a = base.spec;
  const b = other.spec;
  const fields: [string, string | number, string | number][] = [
    ['family', a.family, b.family],
    ['MLP', a.traits.mlp, b.traits.mlp],
    ['layers', a.nLayers, b.nLayers],
    ['d_model', a.dModel, b.dModel],
    ['d_mlp', a.dMlp, b.dMlp],
    ['vocabulary', a.dVocab, b.dVocab],
  ];
  return fields.filter(([, x, y]) => x !== y).map(([name, x, y]) => `${name} ${x} vs ${y}`);
}

/** The token text of `id`, or null where the tokenizer has none (a vocabulary padded past it). */
function textOf(model: ModelHandle, id: number): string | null {
  try {
    return model.tokenizer.tokenText(id);
  } catch {
    return null;
  }
}

/**
 * Tokens are compared by id, so the two vocabularies should be one: a warning naming how
 * many ids have another text in the other tokenizer (an instruct tune may rename a special token).
 */
function vocabularyWarning(base: ModelHandle, other: ModelHandle): string | null {
  let count = 0;
  let first = '';
  for (let id = 0; id < base.spec.dVocab; id++) {
    const [a, b] = [textOf(base, id), textOf(other, id)];
    if (a === b) continue;
    if (count++ === 0) first = `#${id} ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
  }
  return count === 0 ? null : `the tokenizers differ at ${count} of ${base.spec.dVocab} token ids (first: ${first}): at those ids the comparison matches ids, not texts`;
}

export async function compareAtlases(base: ModelHandle, other: ModelHandle, input: AtlasCompareRequestInput, control: AnalysisControl = {}): Promise<AtlasCompareResult> {
  const parsed = atlasCompareRequestSchema.safeParse(input);
  if (!parsed.success) throw requestError('atlas comparison', parsed.error.issues);
  const request = parsed.data;
  const differences = shapeDifferences(base, other);
  if (differences.length > 0) {
    throw new EngineError('bad_argument', `atlas comparison: the models differ in shape (${differences.join(', ')}): only a model and one tuned from it have the same neurons`, { differences });
  }
  const { nLayers, dMlp } = base.spec;
  const issues: { path: string[]; message: string }[] = [];
  const outside = request.layers?.find((layer) => layer >= nLayers);
  if (outside !== undefined) issues.push({ path: ['layers'], message: `layer ${outside} is outside the models' blocks (0..${nLayers - 1})` });
  const matrices = neuronMatrices(base.spec);
  if (!matrices.includes(request.matrix)) issues.push({ path: ['matrix'], message: `these models' MLPs have no ${request.matrix} matrix (they have ${matrices.join(', ')})` });
  const rankIssue = rankingIssue(base.spec, request.normalise);
  if (rankIssue) issues.push({ path: ['normalise'], message: rankIssue });
  if (issues.length > 0) throw requestError('atlas comparison', issues);

  const layers = request.layers ?? Array.from({ length: nLayers }, (_, layer) => layer);
  const stats = newDecodeStats();
  const options = { top: COMPARE_TOP, finalNorm: request.finalNorm, normalise: request.normalise, chunkSize: request.chunkSize };
  const onRuns = runProgress(2 * layers.length * decodeRuns(base.spec, options), control);
  const decoded = [];
  for (const model of [base, other]) decoded.push(await decodeLayers(model, layers, [request.matrix], options, stats, control, onRuns));
  const [baseLayers, otherLayers] = decoded;

  const topOf = (decoding: LayerDecoding, neuron: number) => {
    const at = neuron * decoding.top;
    return { id: decoding.ids[at], prob: Math.exp(decoding.logits[at] - decoding.logSumExp[neuron]), score: decoding.ranked ? decoding.ranked.scores[at] : null };
  };
  const perLayer: AtlasCompareResult['perLayer'] = [];
  const changed: AtlasCompareResult['changed'] = [];
  let changedCount = 0;
  for (const layer of layers) {
    const a = baseLayers.get(layerKey(layer, request.matrix)) as LayerDecoding;
    const b = otherLayers.get(layerKey(layer, request.matrix)) as LayerDecoding;
    let same = 0;
    for (let neuron = 0; neuron < dMlp; neuron++) {
      if (a.ids[neuron * a.top] === b.ids[neuron * b.top]) {
        same++;
        continue;
      }
      changedCount++;
      if (changed.length < request.limit) changed.push({ layer, neuron, base: topOf(a, neuron), other: topOf(b, neuron) });
    }
    perLayer.push({ layer, same, agreement: same / dMlp });
  }
  const same = perLayer.reduce((sum, entry) => sum + entry.same, 0);
  const all = layers.length * dMlp;
  return {
    layers,
    matrix: request.matrix,
    finalNorm: request.finalNorm,
    normalise: request.normalise,
    dMlp,
    perLayer,
    same,
    total: all,
    agreement: same / all,
    changed,
    changedCount,
    decoded: stats.decoded,
    cached: stats.cached,
    seconds: stats.seconds,
    warnings: [vocabularyWarning(base, other)].filter((warning): warning is string => warning !== null),
  };
}
