/**
 * The neuron atlas against a plain float64 reference (test/reference/atlas.ts: the neuron's
 * weights through the final norm and the head, then a full sort) on random-weight models of
 * each MLP kind and norm: gated with RMSNorm (Llama/SmolLM, Qwen2), plain with LayerNorm
 * (GPT-2), and int8-quantized weights (the reference reads the dequantized values).
 */
import { describe, expect, it, vi } from 'vitest';
import { useRandomModel, type LoadedRandomModel } from '../../test/fixtures/random-engine';
import { expectEngineError } from '../../test/expect-engine-error';
import { weightGetter, type WeightGetter } from '../../test/reference/forward';
import { distributionOf, referenceDecode, referenceDirection, referenceZScores, sortedIds, type Matrix } from '../../test/reference/atlas';
import { dequantize } from '../../test/reference/quantized-weights';
import { quantizeRows, quantLayout } from '../graph/quantize';
import { hookName } from '../hooks/names';
import { paramName } from '../model/spec';
import { weightOptions } from '../model/weight-format';
import { atlasResultSchema, type AtlasResult, type NeuronDecoding } from '../../../src-shared/analysis-schema';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { neuronAtlas } from './atlas';
import type { AnalysisProgress } from './control';
import { rankingIssue } from './atlas-decode';

const shape = { layers: 2, dModel: 32, dMlp: 48, nHeads: 4, nKvHeads: 2, dHead: 8 };
const smol = useRandomModel('atlas-smol', { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', ...shape, seed: 21 });
const gpt2 = useRandomModel('atlas-gpt2', { config: 'openai-community__gpt2', tokenizer: 'HuggingFaceTB__SmolLM2-135M-Instruct', ...shape, nKvHeads: 4, seed: 22 });
const qwen = useRandomModel('atlas-qwen', { config: 'Qwen__Qwen2.5-0.5B-Instruct', tokenizer: 'HuggingFaceTB__SmolLM2-135M-Instruct', ...shape, seed: 23 });
// accuracy level 0: MatMulNBits multiplies the dequantized weights in float32, as the reference does.
const int8 = useRandomModel('atlas-int8', { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', ...shape, seed: 24 }, { weights: weightOptions('int8', { accuracyLevel: 0 }) });
// int4 with blocks of 16: d_model 32 is two blocks per up row, d_mlp 48 three per down row (an odd count: a half-used zero-point byte).
const int4 = useRandomModel('atlas-int4', { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', ...shape, seed: 25 }, { weights: weightOptions('int4', { accuracyLevel: 0, blockSize: 16 }) });

/**
 * A token that tops almost every neuron by logit: layer 1's up rows share a large common
 * component v, and token COMMON's unembedding (tied: its embedding) points along the normed
 * v, three times as long as the other tokens' rows.
 */
const COMMON = 777;
function commonComponent(weights: Map<string, Float32Array>): void {
  const { dModel } = shape;
  const up = weights.get(paramName.up(1)) as Float32Array;
  const gain = weights.get(paramName.lnFinal()) as Float32Array;
  const embed = weights.get(paramName.embed()) as Float32Array;
  const rms = (values: Float32Array): number => Math.sqrt(values.reduce((sum, x) => sum + x * x, 0) / values.length);
  const v = Float32Array.from({ length: dModel }, (_, d) => 4 * rms(up) * Math.cos(d));
  for (let i = 0; i < up.length; i++) up[i] += v[i % dModel];
  const toward = v.map((x, d) => x * gain[d]);
  const scale = (3 * rms(embed) * Math.sqrt(dModel)) / (rms(toward) * Math.sqrt(dModel));
  embed.set(toward.map((x) => x * scale), COMMON * dModel);
}
const common = useRandomModel('atlas-common', { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', ...shape, seed: 26, edit: commonComponent });

/** The checkpoint's weights, or what the int8 model stores: its linear weights (the head included) quantized and read back. */
function storedWeights(loaded: LoadedRandomModel, quantized: false | { bits: 4 | 8; blockSize: number }): WeightGetter {
  const weight = weightGetter(loaded.model.weights);
  const { spec } = loaded.model;
  const isLinear = (name: string): boolean => name.endsWith('_proj.weight') || name === 'unembed.weight' || (spec.tiedEmbeddings && name === 'embed.weight');
  const read = new Map<string, Float32Array>(); // each weight dequantized once: the z-score reference reads the head per neuron
  return (name) => {
    const values = weight(name);
    if (!quantized || !isLinear(name)) return values;
    const inFeatures = name.includes('down_proj') ? spec.dMlp : spec.dModel; // [out, in]
    const layout = quantLayout(values.length / inFeatures, inFeatures, quantized.bits, quantized.blockSize);
    if (!read.has(name)) read.set(name, dequantize(layout, quantizeRows(layout, values)));
    return read.get(name) as Float32Array;
  };
}

/** Each kept token is the reference's token of that rank (or ties it), with the reference's probability; entropy matches. */
function expectDecoding(loaded: LoadedRandomModel, weight: WeightGetter, layer: number, matrix: Matrix, neuron: number, decoding: NeuronDecoding, finalNorm = true): void {
  const logits = referenceDecode(loaded.model.spec, weight, referenceDirection(loaded.model.spec, weight, layer, matrix, neuron), finalNorm);
  const order = sortedIds(logits);
  const { logSumExp, entropy } = distributionOf(logits);
  decoding.ids.forEach((id, rank) => {
    expect(logits[id], `${matrix} ${layer}.${neuron} rank ${rank}`).toBeCloseTo(logits[order[rank]], 4);
    expect(decoding.probs[rank]).toBeCloseTo(Math.exp(logits[id] - logSumExp), 5);
  });
  expect(decoding.entropy).toBeCloseTo(entropy, 3);
}

function expectLayer(loaded: LoadedRandomModel, result: AtlasResult, quantized: Parameters<typeof storedWeights>[1] = false): void {
  const weight = storedWeights(loaded, quantized);
  const table = result.table ?? [];
  expect(table.map((entry) => entry.neuron)).toEqual(Array.from({ length: loaded.model.spec.dMlp }, (_, i) => i));
  for (const neuron of [0, 7, loaded.model.spec.dMlp - 1]) {
    const entry = table[neuron];
    for (const matrix of result.matrices) expectDecoding(loaded, weight, entry.layer, matrix, neuron, entry[matrix] as NeuronDecoding, result.finalNorm);
  }
  expect(atlasResultSchema.parse(result)).toEqual(result); // what experiment files keep
}

/**
 * Ranked by z-score: each kept token is the float64 reference's token of that rank (or
 * ties it), with the reference's z-score and probability. Returns the largest z-score error.
 */
function expectRanked(loaded: LoadedRandomModel, result: AtlasResult, quantized: Parameters<typeof storedWeights>[1] = false): number {
  const weight = storedWeights(loaded, quantized);
  const { spec } = loaded.model;
  const layer = result.layers[0];
  let worst = 0;
  for (const matrix of result.matrices) {
    const z = referenceZScores(spec, weight, layer, matrix, result.finalNorm);
    for (const neuron of [0, 7, spec.dMlp - 1]) {
      const decoding = result.table?.[neuron][matrix] as NeuronDecoding;
      const order = sortedIds(z[neuron]);
      const logits = referenceDecode(spec, weight, referenceDirection(spec, weight, layer, matrix, neuron), result.finalNorm);
      const { logSumExp, entropy } = distributionOf(logits);
      decoding.ids.forEach((id, rank) => {
        expect(z[neuron][id], `${matrix} ${layer}.${neuron} rank ${rank}`).toBeCloseTo(z[neuron][order[rank]], 3);
        const score = decoding.scores?.[rank] as number;
        worst = Math.max(worst, Math.abs(score - z[neuron][id]));
        expect(score).toBeCloseTo(z[neuron][id], 3);
        expect(decoding.probs[rank]).toBeCloseTo(Math.exp(logits[id] - logSumExp), 5);
      });
      expect(decoding.entropy).toBeCloseTo(entropy, 3);
    }
  }
  expect(atlasResultSchema.parse(result)).toEqual(result);
  return worst;
}

describe('neuron atlas', () => {
  it('decodes every up, gate and down direction of a gated RMSNorm model like the reference product', async () => {
    const result = await neuronAtlas(smol.handle, { layer: 1, top: 5 });
    expect(result.matrices).toEqual(['up', 'gate', 'down']);
    expect(result.decoded).toBe(3 * smol.model.spec.dMlp);
    expect(result.neuronsPerSecond).toBeGreaterThan(0);
    expectLayer(smol, result);
  });

  it('decodes a plain LayerNorm MLP (GPT-2): no gate, the norm centres and scales, its bias is left out', async () => {
    const result = await neuronAtlas(gpt2.handle, { layer: 0, top: 4 });
    expect(result.matrices).toEqual(['up', 'down']);
    expect(result.table?.[0].gate).toBeNull();
    expectLayer(gpt2, result);
  });

  it('decodes Qwen2 and the raw directions without the final norm', async () => {
    expectLayer(qwen, await neuronAtlas(qwen.handle, { layer: 1, top: 3 }));
    expectLayer(qwen, await neuronAtlas(qwen.handle, { layer: 0, top: 3, finalNorm: false }));
  });

  it('decodes int8- and int4-quantized weights as the dequantized reference', async () => {
    expectLayer(int8, await neuronAtlas(int8.handle, { layer: 0, top: 5, chunkSize: 7 }), { bits: 8, blockSize: 32 });
    expectLayer(int4, await neuronAtlas(int4.handle, { layer: 1, top: 5 }), { bits: 4, blockSize: 16 });
  });

  it('is cached on disk per model: a second run decodes nothing, and a smaller top reads the same file', async () => {
    const first = await neuronAtlas(smol.handle, { layer: 0, top: 6 });
    const again = await neuronAtlas(smol.handle, { layer: 0, top: 6 });
    expect(again.decoded).toBe(0);
    expect(again.cached).toBe(3 * smol.model.spec.dMlp);
    expect(again.neuronsPerSecond).toBeNull();
    expect(again.table).toEqual(first.table);
    const fewer = await neuronAtlas(smol.handle, { layer: 0, top: 2 });
    expect(fewer.decoded).toBe(0);
    expect(fewer.table?.[5].down.ids).toEqual(first.table?.[5].down.ids.slice(0, 2));
  });

  it('ranks neurons by a searched token\'s logit across every layer', async () => {
    const weight = storedWeights(smol, false);
    const token = 1234;
    const result = await neuronAtlas(smol.handle, { search: token, limit: 5 });
    const { spec } = smol.model;
    const all = [0, 1].flatMap((layer) => Array.from({ length: spec.dMlp }, (_, neuron) => ({ layer, neuron, logit: referenceDecode(spec, weight, referenceDirection(spec, weight, layer, 'up', neuron))[token] })));
    all.sort((a, b) => b.logit - a.logit);
    const found = result.search?.neurons ?? [];
    expect(found.map(({ layer, neuron }) => [layer, neuron])).toEqual(all.slice(0, 5).map(({ layer, neuron }) => [layer, neuron]));
    found.forEach((entry, i) => expect(entry.logit).toBeCloseTo(all[i].logit, 4));
    expect(result.table).toBeNull();
  });

  it('lists the neurons most active on a prompt, by |mlp.hook_post|', async () => {
    const ids = smol.handle.tokenizer.encode('The dog barked at the cat');
    const result = await neuronAtlas(smol.handle, { layer: 1, ids, limit: 4 });
    const post = (await smol.handle.run(ids, { captures: [{ hook: hookName.mlpPost(1), positions: 'all' }] })).captures[hookName.mlpPost(1)].data;
    const dMlp = smol.model.spec.dMlp;
    const best = Array.from({ length: dMlp }, (_, neuron) => Math.max(...ids.map((_, p) => Math.abs(post[p * dMlp + neuron]))));
    const expected = Array.from(best.keys()).sort((a, b) => best[b] - best[a]).slice(0, 4);
    const active = result.active?.neurons ?? [];
    expect(active.map((entry) => entry.neuron)).toEqual(expected);
    active.forEach((entry) => expect(Math.abs(entry.activation)).toBeCloseTo(best[entry.neuron], 5));
  });

  it('reports progress in graph runs and stops when cancelled', async () => {
    const seen: AnalysisProgress[] = [];
    await neuronAtlas(gpt2.handle, { layer: 1, top: 2, chunkSize: 16 }, { onProgress: (progress) => seen.push(progress) });
    // 48 neurons, 16 a run, up and down.
    expect(seen).toEqual([1, 2, 3, 4, 5, 6].map((done) => ({ done, total: 6, unit: 'graph runs' })));
    const again: number[] = [];
    await neuronAtlas(gpt2.handle, { layer: 1, top: 2, chunkSize: 16 }, { onProgress: (progress) => again.push(progress.done) });
    expect(again).toEqual([3, 6]); // each cached matrix at once
    const abort = new AbortController();
    abort.abort();
    await expectEngineError(() => neuronAtlas(gpt2.handle, { layer: 1 }, { signal: abort.signal }), 'cancelled', 'neuron atlas cancelled');
  });

  it('moves the progress through the z-score statistics before the decoding, and stops between their passes', async () => {
    const runGraph = vi.spyOn(smol.handle, 'runGraph');
    const kindOf = (call: number): string => String(runGraph.mock.calls[call][0]).split('.')[1];
    const seen: { done: number; total: number; kinds: string[] }[] = [];
    const request = { layer: 0, top: 2, chunkSize: 16, normalise: 'zscore', finalNorm: false } as const;
    const result = await neuronAtlas(smol.handle, request, { onProgress: ({ done, total }) => seen.push({ done, total, kinds: runGraph.mock.calls.map((_, call) => kindOf(call)) }) });
    // Per matrix (up, gate, down): two moments runs, one token_moments run (32 rows of C), three decode runs of 16 neurons.
    const perMatrix = ['moments', 'moments', 'token_moments', 'decode_z', 'decode_z', 'decode_z'];
    expect(seen.map(({ done }) => done)).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
    expect(seen.every(({ total }) => total === 18)).toBe(true);
    expect(result.graphRuns).toBe(18);
    expect(seen.at(-1)?.kinds).toEqual([...perMatrix, ...perMatrix, ...perMatrix]);
    expect(seen[0].kinds).toEqual(['moments']); // the bar moves before the first decode run
    runGraph.mockClear();

    const abort = new AbortController();
    const cancelled = neuronAtlas(smol.handle, { ...request, layer: 1 }, { signal: abort.signal, onProgress: () => abort.abort() });
    await expectEngineError(() => cancelled, 'cancelled', 'neuron atlas cancelled');
    expect(runGraph.mock.calls.map((_, call) => kindOf(call))).toEqual(['moments']); // the second moments pass never ran
    expect(existsSync(join(smol.handle.cacheFolder, 'atlas', 'L1-up-raw-zscore.safetensors'))).toBe(false);
    runGraph.mockRestore();
  });

  it('names a bad request field', async () => {
    await expectEngineError(() => neuronAtlas(gpt2.handle, { layer: 9 }), 'bad_argument', "layer: layer 9 is outside the model's blocks (0..1)");
    await expectEngineError(() => neuronAtlas(gpt2.handle, { search: 5, searchMatrix: 'gate' }), 'bad_argument', "searchMatrix: this model's MLP has no gate matrix (it has up, down)");
    await expectEngineError(() => neuronAtlas(gpt2.handle, { top: 0 }), 'bad_argument', 'top:');
  });

  it('ranks by z-score across the layer\'s neurons like the float64 reference (Llama, GPT-2, Qwen2 raw, int8, int4)', async () => {
    const errors = [
      expectRanked(smol, await neuronAtlas(smol.handle, { layer: 1, top: 5, normalise: 'zscore' })),
      expectRanked(gpt2, await neuronAtlas(gpt2.handle, { layer: 0, top: 4, normalise: 'zscore', chunkSize: 20 })),
      expectRanked(qwen, await neuronAtlas(qwen.handle, { layer: 1, top: 3, normalise: 'zscore', finalNorm: false })),
      expectRanked(int8, await neuronAtlas(int8.handle, { layer: 0, top: 5, normalise: 'zscore' }), { bits: 8, blockSize: 32 }),
      expectRanked(int4, await neuronAtlas(int4.handle, { layer: 1, top: 5, normalise: 'zscore' }), { bits: 4, blockSize: 16 }),
    ];
    expect(Math.max(...errors)).toBeLessThan(1e-4); // measured: 1.2e-6
  });

  it('keeps z-score rankings in their own cache file, apart from the logit ranking', async () => {
    const ranked = await neuronAtlas(qwen.handle, { layer: 0, top: 4, normalise: 'zscore' });
    expect(existsSync(join(qwen.handle.cacheFolder, 'atlas', 'L0-up-norm-zscore.safetensors'))).toBe(true);
    const again = await neuronAtlas(qwen.handle, { layer: 0, top: 4, normalise: 'zscore' });
    expect(again.decoded).toBe(0);
    expect(again.table).toEqual(ranked.table);
    const byLogit = await neuronAtlas(qwen.handle, { layer: 0, top: 4 });
    expect(byLogit.normalise).toBe('none');
    expect(byLogit.table?.[0].up.scores).toBeNull();
    // The rankings differ for some neuron: the z-score divides by each token's spread over the neurons.
    const top1 = (result: AtlasResult) => result.table?.map((entry) => entry.up.ids[0]);
    expect(top1(byLogit)).not.toEqual(top1(ranked));
  });

  it('searches by z-score across layers when so ranked', async () => {
    const weight = storedWeights(gpt2, false);
    const token = 4321;
    let last: AnalysisProgress | null = null;
    const result = await neuronAtlas(gpt2.handle, { search: token, limit: 6, normalise: 'zscore' }, { onProgress: (progress) => (last = progress) });
    // Per layer: up and down, each 2 moments + 1 token_moments + 1 decode run, then 1 search run.
    expect(last).toEqual({ done: 18, total: 18, unit: 'graph runs' });
    const { spec } = gpt2.model;
    const all = [0, 1].flatMap((layer) => referenceZScores(spec, weight, layer, 'up').map((z, neuron) => ({ layer, neuron, score: z[token] })));
    all.sort((a, b) => b.score - a.score);
    const found = result.search?.neurons ?? [];
    expect(found.map(({ layer, neuron }) => [layer, neuron])).toEqual(all.slice(0, 6).map(({ layer, neuron }) => [layer, neuron]));
    found.forEach((entry, i) => expect(entry.score).toBeCloseTo(all[i].score, 3));
  });

  it('stops a token that tops many neurons by logit from labelling them all when ranked by z-score', async () => {
    const topsOf = (result: AtlasResult) => (result.table ?? []).filter((entry) => entry.up.ids[0] === COMMON).length;
    const byLogit = await neuronAtlas(common.handle, { layer: 1, top: 3 });
    const byZ = await neuronAtlas(common.handle, { layer: 1, top: 3, normalise: 'zscore' });
    expect(topsOf(byLogit)).toBeGreaterThan(0.9 * shape.dMlp);
    expect(topsOf(byZ)).toBeLessThan(0.1 * shape.dMlp);
  });

  it('refuses z-scores for a soft-capped head, naming why', async () => {
    const capped = { ...gpt2.model.spec, traits: { ...gpt2.model.spec.traits, finalSoftcap: 30 } };
    expect(rankingIssue(capped, 'zscore')).toMatch(/soft-caps its logits \(cap 30\)/);
    expect(rankingIssue(capped, 'none')).toBeNull();
    expect(rankingIssue(gpt2.model.spec, 'zscore')).toBeNull();
  });
});
