/**
 * The clamp curve against what it must equal: each batched row the same clamp run alone
 * through a plan, and the float64 reference forward with the neuron set in a hook; a
 * one-token prompt clamped to the activation the neuron already has reads as the
 * unclamped run. On a Llama (SmolLM2, gated SiLU MLP, RMSNorm) and a GPT-2 (plain GELU
 * MLP, LayerNorm) random-weight model.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useRandomModel, type LoadedRandomModel } from '../../test/fixtures/random-engine';
import { expectEngineError } from '../../test/expect-engine-error';
import { referenceForward, weightGetter } from '../../test/reference/forward';
import { clampCurveResultSchema } from '../../../src-shared/clamp-schema';
import { hookName } from '../hooks/names';
import { clampCurve } from './clamp-curve';
import { logitStats, rankOf } from './distribution';

const shape = { layers: 3, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 2, dHead: 16 };
const llama = useRandomModel('clamp-llama', { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', ...shape, seed: 41 });
const gpt2 = useRandomModel('clamp-gpt2', { config: 'openai-community__gpt2', tokenizer: 'HuggingFaceTB__SmolLM2-135M-Instruct', ...shape, nKvHeads: 4, seed: 42 });
const TOKEN = 300;
const LAYER = 1;
const NEURON = 37;

/** log p(token) of a row of logits, in float64. */
const logProb = (row: ArrayLike<number>, id: number): number => row[id] - logitStats(row).logSumExp;

describe.each([
  ['Llama', llama],
  ['GPT-2', gpt2],
] as [string, LoadedRandomModel][])('clamp curve on %s', (_, loaded) => {
  let ids: number[];
  beforeAll(() => {
    ids = loaded.handle.tokenizer.encode('The dog chased the ball across the park');
  });

  it('reads each batched row as the same clamp run alone, and as the float64 reference', async () => {
    const values = [-3, 0, 0.5, 4, 25];
    const result = await clampCurve(loaded.handle, { ids, layer: LAYER, neuron: NEURON, token: TOKEN, values, scale: 'absolute', average: true });
    expect(clampCurveResultSchema.parse(result)).toEqual(result); // what experiment files keep
    expect(result.forwardPasses).toBe(2); // the baseline, then every value in one pass
    expect(result.points.map((point) => point.value)).toEqual(values);
    const { spec, weights } = loaded.model;
    const hook = hookName.mlpPost(LAYER);
    for (const [i, value] of values.entries()) {
      const alone = (await loaded.handle.run(ids, { interventions: [{ op: 'set', hook, indices: [NEURON], values: [value], positions: 'all' }] })).logits;
      const last = alone[alone.length - 1];
      const point = result.points[i];
      // In log p: a random model's p(token) is ~1e-5, so an absolute 1e-5 on p would hold for almost anything.
      expect(Math.abs(Math.log(point.prob) - logProb(last, TOKEN)), `value ${value}`).toBeLessThanOrEqual(1e-5);
      expect(point.rank).toBe(rankOf(last, TOKEN));
      const mean = alone.reduce((sum, row) => sum + Math.exp(logProb(row, TOKEN)), 0) / alone.length;
      expect(Math.abs(Math.log(point.meanProb ?? NaN) - Math.log(mean))).toBeLessThanOrEqual(1e-5);

      const reference = referenceForward(spec, weightGetter(weights), ids, {
        logits: 'last',
        hook: (name, rows) => (name === hook ? rows.map((row) => Float64Array.from(row).fill(value, NEURON, NEURON + 1)) : undefined),
      }).logits;
      expect(Math.abs(Math.log(point.prob) - logProb(reference[reference.length - 1], TOKEN)), `log p at ${value} vs float64`).toBeLessThan(1e-4);
    }
    // The clamp does something: switching the neuron off moves p away from the unclamped run.
    expect(Math.abs(Math.log(result.points[1].prob) - Math.log(result.baseline.prob))).toBeGreaterThan(1e-4);
  });

  it('takes multiples of the largest activation on the prompt or a reference text, the same in one pass as in one pass per value', async () => {
    const hook = hookName.mlpPost(LAYER);
    const capture = async (tokens: number[]) => (await loaded.handle.run(tokens, { captures: [{ hook, positions: 'all' }] })).captures[hook].data;
    const column = (data: Float32Array) => Array.from({ length: data.length / shape.dMlp }, (_, p) => data[p * shape.dMlp + NEURON]);
    const onPrompt = column(await capture(ids));
    const largest = Math.max(...onPrompt.map(Math.abs));

    const batched = await clampCurve(loaded.handle, { ids, layer: LAYER, neuron: NEURON, token: TOKEN });
    expect(Math.abs(batched.maxActivation)).toBe(largest);
    expect(batched.maxActivation).toBe(onPrompt[batched.maxPosition]);
    expect(batched.points.map((point) => point.value)).toEqual([0, 1, 2, 5, 10, 20].map((k) => k * batched.maxActivation));
    expect(batched.baseline.meanProb).toBeNull();
    const progress: number[] = [];
    const single = await clampCurve(loaded.handle, { ids, layer: LAYER, neuron: NEURON, token: TOKEN, batchSize: 1 }, { onProgress: (step) => progress.push(step.done) });
    expect(progress).toEqual([1, 2, 3, 4, 5, 6]);
    expect(single.forwardPasses).toBe(7);
    single.points.forEach((point, i) => expect(Math.abs(Math.log(point.prob) - Math.log(batched.points[i].prob))).toBeLessThanOrEqual(1e-5));

    const referenceIds = loaded.handle.tokenizer.encode('A cat sat');
    const onReference = column(await capture(referenceIds));
    const fromReference = await clampCurve(loaded.handle, { ids, layer: LAYER, neuron: NEURON, token: TOKEN, values: [3], reference: referenceIds });
    expect(fromReference.maxActivation).toBe(onReference[fromReference.maxPosition]);
    expect(Math.abs(fromReference.maxActivation)).toBe(Math.max(...onReference.map(Math.abs)));
    expect(fromReference.points[0].value).toBe(3 * fromReference.maxActivation);
    expect(fromReference.forwardPasses).toBe(3);
  });

  it('reads a one-token prompt clamped to the activation the neuron already has as the unclamped run', async () => {
    const one = [ids[1]];
    const result = await clampCurve(loaded.handle, { ids: one, layer: 2, neuron: 5, token: TOKEN, values: [1, 0] });
    expect(result.points[0].value).toBe(result.maxActivation);
    expect(Math.abs(Math.log(result.points[0].prob) - Math.log(result.baseline.prob))).toBeLessThanOrEqual(1e-6);
    expect(result.points[0].rank).toBe(result.baseline.rank);
    expect(Math.abs(Math.log(result.points[1].prob) - Math.log(result.baseline.prob))).toBeGreaterThan(1e-5); // 0 is not its value
  });
});

describe('clamp curve requests', () => {
  it('names a layer, neuron or token out of range, and stops when cancelled', async () => {
    const ids = [1, 2, 3];
    const handle = llama.handle;
    await expectEngineError(() => clampCurve(handle, { ids, layer: 3, neuron: 0, token: TOKEN }), 'bad_argument', "layer: layer 3 is outside the model's blocks (0..2)");
    await expectEngineError(() => clampCurve(handle, { ids, layer: 0, neuron: 128, token: TOKEN }), 'bad_argument', "neuron: neuron 128 is outside the layer's MLP (0..127)");
    await expectEngineError(() => clampCurve(handle, { ids, layer: 0, neuron: 0, token: handle.spec.dVocab }), 'bad_argument', `token: token ${handle.spec.dVocab} is outside the vocabulary`);
    await expectEngineError(() => clampCurve(handle, { ids, layer: 0, neuron: 0, token: TOKEN, values: [] }), 'bad_argument', 'values: must hold at least one value');
    await expectEngineError(() => clampCurve(handle, { ids, layer: 0, neuron: 0, token: TOKEN, values: [Infinity] }), 'bad_argument', 'values.0: must be a finite number');
    const abort = new AbortController();
    abort.abort();
    await expectEngineError(() => clampCurve(handle, { ids, layer: 0, neuron: 0, token: TOKEN }, { signal: abort.signal }), 'cancelled', 'clamp curve cancelled');
  });
});
