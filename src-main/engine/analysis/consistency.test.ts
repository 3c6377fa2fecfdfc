/**
 * The lens readings internal consistency is scored from: equal to the float64 logit lens
 * of the captured residual stream, the last block's reading is the model's own greedy
 * choice, and a variant's plan (here a steering vector on generated positions only) is
 * applied as generation applied it. The scores (src-shared/consistency.ts) on known readings.
 */
import { describe, expect, it } from 'vitest';
import { useRandomModel } from '../../test/fixtures/random-engine';
import { argmax, referenceLens, weightGetter } from '../../test/reference/forward';
import { generationSettingsSchema } from '../generate/settings';
import { hookName } from '../hooks/names';
import { blockAgreement, responseConsistency, tokenConsistency } from '../../../src-shared/consistency';
import { lensTopTokens } from './consistency';

const loaded = useRandomModel('consistency', { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', layers: 3, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 2, dHead: 16, seed: 31 });

async function greedy(promptIds: number[], plan: unknown, tokens: number): Promise<number[]> {
  const settings = generationSettingsSchema.parse({ maxNewTokens: tokens, temperature: 0, stopAtEos: false });
  const stream = loaded.handle.generateVariants(promptIds, settings, [{ plan: plan as never }]);
  let step = await stream.next();
  while (!step.done) step = await stream.next();
  return step.value[0].ids.slice(promptIds.length);
}

describe('internal consistency lens readings', () => {
  it("equal the float64 lens of the captured stream, and the last block reads the model's greedy choice", async () => {
    const promptIds = loaded.handle.tokenizer.encode('The cat sat on');
    const generated = await greedy(promptIds, {}, 6);
    const readings = await lensTopTokens(loaded.handle, {}, promptIds, generated);
    expect(readings).toHaveLength(6);
    const ids = [...promptIds, ...generated.slice(0, -1)];
    const { spec } = loaded.model;
    const captures = (await loaded.handle.run(ids, { captures: [0, 1, 2].map((layer) => ({ hook: hookName.residPost(layer), positions: 'all' as const })) })).captures;
    readings.forEach((blocks, t) => {
      const p = promptIds.length - 1 + t;
      blocks.forEach((id, layer) => {
        const resid = captures[hookName.residPost(layer)].data.subarray(p * spec.dModel, (p + 1) * spec.dModel);
        expect(id, `token ${t}, block ${layer}`).toBe(argmax(referenceLens(spec, weightGetter(loaded.model.weights), resid)));
      });
      expect(blocks[2]).toBe(generated[t]); // greedy: the last block's lens is the output
    });
  });

  it("apply the variant's plan where generation applied it (a vector added at generated positions only)", async () => {
    const promptIds = loaded.handle.tokenizer.encode('Once upon a time');
    const vector = Array.from({ length: loaded.model.spec.dModel }, (_, i) => Math.sin(i) * 4);
    const plan = { interventions: [{ op: 'add', hook: hookName.residPost(0), vector, scale: 1, positions: 'generated' }] };
    const generated = await greedy(promptIds, plan, 5);
    const readings = await lensTopTokens(loaded.handle, plan, promptIds, generated);
    readings.forEach((blocks, t) => expect(blocks[2], `token ${t}`).toBe(generated[t]));
    const unsteered = await lensTopTokens(loaded.handle, {}, promptIds, generated);
    expect(unsteered).not.toEqual(readings);
  });

  it('scores a token by the blocks before the last that agree, and a response by the mean', () => {
    expect(blockAgreement([7, 3, 7], 7)).toEqual([true, false, true]);
    expect(tokenConsistency([7, 3, 7], 7)).toBe(0.5);
    expect(tokenConsistency([3, 3, 7], 7)).toBe(0);
    expect(tokenConsistency([7], 7)).toBe(1);
    expect(responseConsistency([{ id: 7, lensTop1: [7, 7, 7] }, { id: 1, lensTop1: [2, 1, 1] }, { id: 4 }])).toBe(0.75);
    expect(responseConsistency([{ id: 4 }])).toBeNull();
  });
});
