/**
 * Comparing two models' atlases on random-weight fixtures whose agreement is known by
 * construction: a model against an identical copy (100%), and against a copy whose layer 1
 * up rows 0..9 are those of neurons 10..19 (layer 0 agrees fully; in layer 1 exactly the
 * neurons whose row now decodes to another neuron's top token change, to that token).
 */
import { describe, expect, it } from 'vitest';
import { useRandomModel } from '../../test/fixtures/random-engine';
import { expectEngineError } from '../../test/expect-engine-error';
import { paramName } from '../model/spec';
import { atlasCompareResultSchema } from '../../../src-shared/analysis-schema';
import { neuronAtlas } from './atlas';
import { compareAtlases } from './atlas-compare';

const shape = { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', layers: 2, dModel: 32, dMlp: 48, nHeads: 4, nKvHeads: 2, dHead: 8 };
const MOVED = 10;
/** Layer 1's up rows 0..9 replaced by rows 10..19 (up_proj is [d_mlp, d_model]: a neuron's row is contiguous). */
function moveRows(weights: Map<string, Float32Array>): void {
  const up = weights.get(paramName.up(1)) as Float32Array;
  up.copyWithin(0, MOVED * shape.dModel, 2 * MOVED * shape.dModel);
}
const base = useRandomModel('compare-base', { ...shape, seed: 41 });
const copy = useRandomModel('compare-copy', { ...shape, seed: 41 });
const tuned = useRandomModel('compare-tuned', { ...shape, seed: 41, edit: moveRows });
const wider = useRandomModel('compare-wider', { ...shape, dMlp: 64, seed: 42 });

describe('atlas comparison', () => {
  it('finds every top-1 token the same in an identical model, by logit and by z-score', async () => {
    const result = await compareAtlases(base.handle, copy.handle, {});
    expect(result.perLayer).toEqual([
      { layer: 0, same: 48, agreement: 1 },
      { layer: 1, same: 48, agreement: 1 },
    ]);
    expect([result.agreement, result.changedCount, result.changed, result.warnings]).toEqual([1, 0, [], []]);
    expect(result.decoded).toBe(2 * 2 * 48); // two models' up rows, none cached yet
    const ranked = await compareAtlases(base.handle, copy.handle, { layers: [1], normalise: 'zscore' });
    expect([ranked.agreement, ranked.normalise]).toEqual([1, 'zscore']);
    expect(atlasCompareResultSchema.parse(ranked)).toEqual(ranked);
  });

  it('finds exactly the neurons whose moved row decodes to another top token, with both tokens', async () => {
    const table = (await neuronAtlas(base.handle, { layer: 1, top: 1 })).table ?? [];
    const top1 = (neuron: number) => table[neuron].up.ids[0];
    const expected = Array.from({ length: MOVED }, (_, i) => i).filter((i) => top1(i) !== top1(i + MOVED));
    expect(expected.length).toBeGreaterThan(0); // else the fixture would test nothing

    const progress: number[] = [];
    const result = await compareAtlases(base.handle, tuned.handle, { limit: 1000 }, { onProgress: (p) => progress.push(p.done) });
    expect(result.perLayer[0]).toEqual({ layer: 0, same: 48, agreement: 1 });
    expect(result.perLayer[1]).toEqual({ layer: 1, same: 48 - expected.length, agreement: (48 - expected.length) / 48 });
    expect(result.agreement).toBeCloseTo((96 - expected.length) / 96, 12);
    expect(result.changed.map((entry) => [entry.layer, entry.neuron, entry.base.id, entry.other.id])).toEqual(expected.map((i) => [1, i, top1(i), top1(i + MOVED)]));
    expect(result.changed[0].other.prob).toBeCloseTo(table[expected[0] + MOVED].up.probs[0], 5);
    expect(result.cached).toBe(2 * 48); // the base's layers, decoded by the first comparison
    expect(progress).toEqual([1, 2, 3, 4]); // one graph run a layer and model (48 neurons), the base's from the cache at once

    const limited = await compareAtlases(base.handle, tuned.handle, { layers: [1], limit: 1 });
    expect([limited.changed.length, limited.changedCount, limited.total]).toEqual([1, expected.length, 48]);
  });

  it('names the shape difference, and a bad layer', async () => {
    await expectEngineError(() => compareAtlases(base.handle, wider.handle, {}), 'bad_argument', 'atlas comparison: the models differ in shape (d_mlp 48 vs 64)');
    await expectEngineError(() => compareAtlases(base.handle, copy.handle, { layers: [2] }), 'bad_argument', "layers: layer 2 is outside the models' blocks (0..1)");
  });
});
