/**
 * The logit lens against its definition: the final norm and the unembedding applied
 * (in the float64 reference) to the residual stream the engine captured, and the last
 * block's lens equal to the model's own logits.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useRandomModel } from '../../test/fixtures/random-engine';
import { hookName } from '../hooks/names';
import { expectEngineError } from '../../test/expect-engine-error';
import { argmax, referenceLens, weightGetter } from '../../test/reference/forward';
import { logitStats } from './distribution';
import { logitLens } from './lens';
import { lensResultSchema } from '../../../src-shared/analysis-schema';

const loaded = useRandomModel('lens', { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', layers: 3, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 2, dHead: 16, seed: 5 });
let ids: number[];

beforeAll(() => {
  ids = loaded.handle.tokenizer.encode('The cat sat on the mat');
});

describe('logit lens', () => {
  it('equals the final norm and head applied to the captured resid_post, at every layer and position', async () => {
    const target = ids[2];
    const lens = await logitLens(loaded.handle, { ids, target });
    const captures = (await loaded.handle.run(ids, { captures: lens.layers.map((layer) => ({ hook: hookName.residPost(layer), positions: 'all' as const })) })).captures;
    const weight = weightGetter(loaded.model.weights);
    for (const layer of lens.layers) {
      const resid = captures[hookName.residPost(layer)];
      for (const p of lens.positions) {
        const expected = referenceLens(loaded.model.spec, weight, resid.data.subarray(p * loaded.model.spec.dModel, (p + 1) * loaded.model.spec.dModel));
        const stats = logitStats(expected);
        expect(lens.top1[layer][p], `top1 at layer ${layer}, position ${p}`).toBe(argmax(expected));
        expect(lens.top1Prob[layer][p]).toBeCloseTo(stats.top1Prob, 5);
        expect(lens.entropy[layer][p]).toBeCloseTo(stats.entropy, 4);
        expect(lens.targetProb?.[layer][p]).toBeCloseTo(Math.exp(expected[target] - stats.logSumExp), 5);
      }
    }
    expect(lens.forwardPasses).toBe(1);
    expect(lensResultSchema.parse(lens)).toEqual(lens); // what experiment files keep
  });

  it("reads the model's own logits at the last block: KL 0 to the final distribution", async () => {
    const lens = await logitLens(loaded.handle, { ids });
    const last = lens.layers.length - 1;
    expect(lens.top1[last]).toEqual(lens.final.top1);
    lens.klToFinal[last].forEach((kl) => expect(kl).toBeLessThan(1e-6));
    lens.top1Prob[last].forEach((prob, p) => expect(prob).toBeCloseTo(lens.final.top1Prob[p], 6));
    // Earlier layers are a different readout of a random model: not the final distribution.
    expect(Math.max(...lens.klToFinal[0])).toBeGreaterThan(1e-3);
  });

  it('reads the raw stream without the final norm when asked', async () => {
    const normed = await logitLens(loaded.handle, { ids, site: 'mlp_out' });
    const raw = await logitLens(loaded.handle, { ids, site: 'mlp_out', finalNorm: false });
    expect(raw.finalNorm).toBe(false);
    expect(raw.entropy).not.toEqual(normed.entropy);
  });

  it('reports progress per pass and stops when cancelled', async () => {
    const seen: number[] = [];
    await logitLens(loaded.handle, { ids }, { onProgress: (progress) => seen.push(progress.done / progress.total) });
    expect(seen).toEqual([1]);
    const abort = new AbortController();
    abort.abort();
    await expectEngineError(() => logitLens(loaded.handle, { ids }, { signal: abort.signal }), 'cancelled', 'logit lens cancelled');
  });

  it('names a bad request field', async () => {
    await expectEngineError(() => logitLens(loaded.handle, { ids: [], site: 'resid_post' }), 'bad_argument', 'ids: must not be empty');
    await expectEngineError(() => logitLens(loaded.handle, { ids, target: 10 ** 7 }), 'bad_argument', 'target: token 10000000 is outside the vocabulary');
  });
});
