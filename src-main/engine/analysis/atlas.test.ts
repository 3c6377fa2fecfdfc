/**
 * The neuron atlas against a plain float64 reference (test/reference/atlas.ts: the neuron's
 * weights through the final norm and the head, then a full sort) on random-weight models of
 * each MLP kind and norm: gated with RMSNorm (Llama/SmolLM, Qwen2), plain with LayerNorm
 * (GPT-2), and int8-quantized weights (the reference reads the dequantized values).
 */
import { describe, expect, it } from 'vitest';
import { useRandomModel, type LoadedRandomModel } from '../../test/fixtures/random-engine';
import { expectEngineError } from '../../test/expect-engine-error';
import { weightGetter, type WeightGetter } from '../../test/reference/forward';
import { distributionOf, referenceDecode, referenceDirection, sortedIds, type Matrix } from '../../test/reference/atlas';
import { dequantize } from '../../test/reference/quantized-weights';
import { quantizeRows, quantLayout } from '../graph/quantize';
import { hookName } from '../hooks/names';
import { weightOptions } from '../model/weight-format';
import { atlasResultSchema, type AtlasResult, type NeuronDecoding } from '../../../src-shared/analysis-schema';
import { neuronAtlas } from './atlas';

const shape = { layers: 2, dModel: 32, dMlp: 48, nHeads: 4, nKvHeads: 2, dHead: 8 };
const smol = useRandomModel('atlas-smol', { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', ...shape, seed: 21 });
const gpt2 = useRandomModel('atlas-gpt2', { config: 'openai-community__gpt2', tokenizer: 'HuggingFaceTB__SmolLM2-135M-Instruct', ...shape, nKvHeads: 4, seed: 22 });
const qwen = useRandomModel('atlas-qwen', { config: 'Qwen__Qwen2.5-0.5B-Instruct', tokenizer: 'HuggingFaceTB__SmolLM2-135M-Instruct', ...shape, seed: 23 });
// accuracy level 0: MatMulNBits multiplies the dequantized weights in float32, as the reference does.
const int8 = useRandomModel('atlas-int8', { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', ...shape, seed: 24 }, { weights: weightOptions('int8', { accuracyLevel: 0 }) });
// int4 with blocks of 16: d_model 32 is two blocks per up row, d_mlp 48 three per down row (an odd count: a half-used zero-point byte).
const int4 = useRandomModel('atlas-int4', { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', ...shape, seed: 25 }, { weights: weightOptions('int4', { accuracyLevel: 0, blockSize: 16 }) });

/** The checkpoint's weights, or what the int8 model stores: its linear weights (the head included) quantized and read back. */
function storedWeights(loaded: LoadedRandomModel, quantized: false | { bits: 4 | 8; blockSize: number }): WeightGetter {
  const weight = weightGetter(loaded.model.weights);
  const { spec } = loaded.model;
  const isLinear = (name: string): boolean => name.endsWith('_proj.weight') || name === 'unembed.weight' || (spec.tiedEmbeddings && name === 'embed.weight');
  return (name) => {
    const values = weight(name);
    if (!quantized || !isLinear(name)) return values;
    const inFeatures = name.includes('down_proj') ? spec.dMlp : spec.dModel; // [out, in]
    const layout = quantLayout(values.length / inFeatures, inFeatures, quantized.bits, quantized.blockSize);
    return dequantize(layout, quantizeRows(layout, values));
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

  it('reports progress in neurons and stops when cancelled', async () => {
    const seen: number[] = [];
    await neuronAtlas(gpt2.handle, { layer: 1, top: 2, chunkSize: 16 }, { onProgress: (progress) => seen.push(progress.done) });
    expect(seen).toEqual([16, 32, 48, 64, 80, 96]);
    const abort = new AbortController();
    abort.abort();
    await expectEngineError(() => neuronAtlas(gpt2.handle, { layer: 1 }, { signal: abort.signal }), 'cancelled', 'neuron atlas cancelled');
  });

  it('names a bad request field', async () => {
    await expectEngineError(() => neuronAtlas(gpt2.handle, { layer: 9 }), 'bad_argument', "layer: layer 9 is outside the model's blocks (0..1)");
    await expectEngineError(() => neuronAtlas(gpt2.handle, { search: 5, searchMatrix: 'gate' }), 'bad_argument', "searchMatrix: this model's MLP has no gate matrix (it has up, down)");
    await expectEngineError(() => neuronAtlas(gpt2.handle, { top: 0 }), 'bad_argument', 'top:');
  });
});
