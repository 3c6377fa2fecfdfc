/**
 * The lens readings internal consistency is scored from: equal to the float64 logit lens
 * of the captured residual stream, the last block's reading is the model's own greedy
 * choice, and a variant's plan (here a steering vector on generated positions only) is
 * applied as generation applied it. Over an answer set Y, each block's reading equals the
 * float64 lens's argmax over Y at the answer's position. The scores (src-shared/consistency.ts)
 * on known readings, over every layer set.
 */
import { describe, expect, it } from 'vitest';
import { useRandomModel } from '../../test/fixtures/random-engine';
import { argmax, referenceLens, weightGetter } from '../../test/reference/forward';
import { generationSettingsSchema } from '../generate/settings';
import { hookName } from '../hooks/names';
import { blockAgreement, consistencyLayers, responseConsistency, tokenConsistency } from '../../../src-shared/consistency';
import { expectEngineError } from '../../test/expect-engine-error';
import { answerSet, internalConsistency, lensTopTokens } from './consistency';

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

  it("reads each block's argmax over the answer set at the position that predicted the response's last answer token", async () => {
    const promptIds = loaded.handle.tokenizer.encode('The cat sat on');
    const generated = await greedy(promptIds, {}, 6);
    const tokenizer = loaded.handle.tokenizer;
    // Y: the third generated token and a token the response never emits.
    const other = [...Array(tokenizer.vocabSize).keys()].find((id) => !generated.includes(id) && tokenizer.tokenText(id).length > 1) ?? 0;
    const answers = [`#${generated[2]}`, `#${other}`];
    const result = await internalConsistency(loaded.handle, { plan: {}, promptIds, generated, answers });
    const index = generated.lastIndexOf(generated[2]);
    expect(result.answer?.at?.index).toBe(index);
    expect(result.answer?.answers).toEqual([generated[2], other]);
    const ids = [...promptIds, ...generated];
    const { spec } = loaded.model;
    const captures = (await loaded.handle.run(ids, { captures: [0, 1, 2].map((layer) => ({ hook: hookName.residPost(layer), positions: 'all' as const })) })).captures;
    const p = promptIds.length - 1 + index;
    const expected = [0, 1, 2].map((layer) => {
      const logits = referenceLens(spec, weightGetter(loaded.model.weights), captures[hookName.residPost(layer)].data.subarray(p * spec.dModel, (p + 1) * spec.dModel));
      return logits[generated[2]] >= logits[other] ? generated[2] : other;
    });
    expect(result.answer?.at?.readings).toEqual(expected);
    expect(expected[2]).toBe(generated[2]); // greedy: the last block says the answer
    expect(result.answer?.at?.score).toBe(tokenConsistency(expected, generated[2]));
    expect(result.forwardPasses).toBe(2);
    // The full-vocabulary readings are lensTopTokens', scored over L' (blocks 0..1).
    expect(result.lensTop1).toEqual(await lensTopTokens(loaded.handle, {}, promptIds, generated));
    expect(result.layers).toEqual([0, 1]);
    expect(result.score).toBe(responseConsistency(generated.map((id, t) => ({ id, lensTop1: result.lensTop1[t] }))));
    // From the middle block (floor(3 / 2) = 1): only block 1 counts.
    const middle = await internalConsistency(loaded.handle, { plan: {}, promptIds, generated, fromLayer: 'middle', answers });
    expect(middle.layers).toEqual([1]);
    expect(middle.scores).toEqual(generated.map((id, t) => (result.lensTop1[t][1] === id ? 1 : 0)));
    expect(middle.answer?.at?.score).toBe(expected[1] === generated[2] ? 1 : 0);
    await expectEngineError(() => internalConsistency(loaded.handle, { plan: {}, promptIds, generated, fromLayer: 2 }), 'bad_argument', 'from layer 2: this model has 3 blocks');
  });

  it('resolves answers by the first-token convention, refuses two answers of one token, and names an answer spelt unlike the response', async () => {
    const tokenizer = loaded.handle.tokenizer;
    const [word] = tokenizer.encode(' cat', { addSpecialTokens: false });
    const multi = answerSet(tokenizer, [' cat', ' zqxjkv']);
    const first = tokenizer.encode(' zqxjkv', { addSpecialTokens: false });
    expect(first.length).toBeGreaterThan(1);
    expect(multi.ids).toEqual([word, first[0]]);
    expect(multi.warnings).toEqual([expect.stringMatching(/^answer " zqxjkv" is \d+ tokens \(.*\): its first token stands for it \(first-token convention\)$/)]);
    expect(() => answerSet(tokenizer, [' cat', `#${word}`])).toThrow(/answers " cat" and "#\d+" are the same token/);
    // The model writes " cat" (with its leading space); the answer asked "cat" (without).
    const bare = tokenizer.encode('cat', { addSpecialTokens: false });
    expect(bare).toHaveLength(1);
    expect(bare[0]).not.toBe(word);
    const promptIds = tokenizer.encode('The dog');
    const result = await internalConsistency(loaded.handle, { plan: {}, promptIds, generated: [word, word], answers: ['cat', ' dog'] });
    expect(result.answer?.at).toBeNull();
    expect(result.answer?.warnings.at(-1)).toMatch(/^the response never emits an answer token \("cat" \(#\d+\), " dog" \(#\d+\)\), so there is no answer to score; it emits " cat" \(#\d+\): write the answers as the model tokenizes them/);
    expect(result.forwardPasses).toBe(1);
  });

  it('scores a token by the blocks of the layer set that agree, and a response by the mean', () => {
    expect(blockAgreement([7, 3, 7], 7)).toEqual([true, false, true]);
    expect(tokenConsistency([7, 3, 7], 7)).toBe(0.5);
    expect(tokenConsistency([3, 3, 7], 7)).toBe(0);
    expect(tokenConsistency([7], 7)).toBe(1);
    expect(responseConsistency([{ id: 7, lensTop1: [7, 7, 7] }, { id: 1, lensTop1: [2, 1, 1] }, { id: 4 }])).toBe(0.75);
    expect(responseConsistency([{ id: 4 }])).toBeNull();
    // L': 1..N-1 by default, from a block, or from the middle (never past the block before the last).
    expect(consistencyLayers(6)).toEqual([0, 1, 2, 3, 4]);
    expect(consistencyLayers(6, 2)).toEqual([2, 3, 4]);
    expect(consistencyLayers(6, 'middle')).toEqual([3, 4]);
    expect(consistencyLayers(2, 'middle')).toEqual([0]);
    expect(consistencyLayers(1)).toEqual([0]);
    expect(consistencyLayers(6, 5)).toEqual([]);
    expect(tokenConsistency([3, 3, 7, 7, 3, 7], 7, 'middle')).toBe(0.5);
    expect(tokenConsistency([3, 3, 7, 7, 3, 7], 7, 5)).toBe(0);
    expect(responseConsistency([{ id: 7, lensTop1: [3, 7, 7] }], 1)).toBe(1);
    expect(responseConsistency([{ id: 7, lensTop1: [3, 7, 7] }], 2)).toBeNull();
  });
});
