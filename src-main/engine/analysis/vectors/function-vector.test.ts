/**
 * Function vectors against a reference computed here: each head's hook_z slice at the
 * last token projected through W_O by hand (no bias), averaged over the prompts. Three
 * families: Llama-style with grouped KV heads (no biases), GPT-2 (o_proj has a bias b_O,
 * which must not be counted once per head) and Qwen2.5 (q/k/v biases, no b_O).
 */
import { describe, expect, it } from 'vitest';
import { hookName } from '../../hooks/names';
import { paramName } from '../../model/spec';
import { useRandomModel } from '../../../test/fixtures/random-engine';
import type { RandomModelOptions } from '../../../test/fixtures/random-model';
import { expectEngineError } from '../../../test/expect-engine-error';
import { functionVector } from './function-vector';
import { dot } from './pca';

const fixtures: { name: string; options: RandomModelOptions }[] = [
  { name: 'SmolLM2 (GQA, no biases)', options: { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', layers: 3, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 2, dHead: 16, seed: 11 } },
  { name: 'GPT-2 (o_proj bias)', options: { config: 'openai-community__gpt2', layers: 3, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 4, dHead: 16, seed: 12 } },
  { name: 'Qwen2.5 (q/k/v biases)', options: { config: 'Qwen__Qwen2.5-0.5B-Instruct', layers: 3, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 2, dHead: 16, seed: 13 } },
];

const prompts = ['hot: cold, big: small, up:', 'fast: slow, light: dark, in:', 'yes: no, old: new, high:'];

describe.each(fixtures)('function vectors on $name', ({ name, options }) => {
  const loaded = useRandomModel(`fv-${name.split(' ')[0]}`, options);

  /** Head `head` of `layer` at the last token of `text`: z[head] @ W_O[:, head]^T, bias excluded. */
  async function headOutput(layer: number, head: number, text: string): Promise<Float64Array> {
    const { handle, model } = loaded;
    const { dModel, dHead, nHeads } = handle.spec;
    const wO = model.weights.get(paramName.o(layer)) as Float32Array; // [d_model, n_heads * d_head]
    const ids = handle.tokenizer.encode(text);
    const z = (await handle.run(ids, { captures: [{ hook: hookName.z(layer), positions: 'last' }] })).captures[hookName.z(layer)].data;
    return Float64Array.from({ length: dModel }, (_, i) => {
      let sum = 0;
      for (let j = 0; j < dHead; j++) sum += wO[i * nHeads * dHead + head * dHead + j] * z[head * dHead + j];
      return sum;
    });
  }

  it("sum the chosen heads' mean last-token outputs, each its hook_z slice through W_O", async () => {
    const { handle } = loaded;
    const heads = [{ layer: 1, head: 2 }, { layer: 0, head: 0 }, { layer: 1, head: 3 }];
    const result = await functionVector(handle, { prompts, heads, layer: 1, batchSize: 4 });
    expect(result.hook).toBe('blocks.1.hook_resid_post');
    const expected = new Float64Array(handle.spec.dModel);
    for (const [k, { layer, head }] of heads.entries()) {
      const outputs = await Promise.all(prompts.map((text) => headOutput(layer, head, text)));
      const mean = outputs.reduce((sum, row) => sum.map((value, i) => value + row[i] / prompts.length), new Float64Array(handle.spec.dModel));
      result.heads[k].output.forEach((value, i) => expect(value).toBeCloseTo(mean[i], 4));
      mean.forEach((value, i) => (expected[i] += value));
    }
    result.vector.forEach((value, i) => expect(value).toBeCloseTo(expected[i], 4));
    expect(result.norm).toBeCloseTo(Math.sqrt(dot(expected, expected)), 4);
    // Compared with the residual stream where it is added: resid_post of block 1 at the last token.
    const lastNorms = await Promise.all(
      prompts.map(async (text) => {
        const h = (await handle.run(handle.tokenizer.encode(text), { captures: [{ hook: result.hook, positions: 'last' }] })).captures[result.hook].data;
        return Math.sqrt(dot(h, h));
      }),
    );
    const residualNorm = lastNorms.reduce((sum, value) => sum + value, 0) / prompts.length;
    expect(result.residualNorm).toBeCloseTo(residualNorm, 4);
    expect(result.relativeNorm).toBeCloseTo(result.norm / residualNorm, 5);
  });

  it("every head of a layer, plus o_proj's bias if it has one, sums to hook_attn_out", async () => {
    const { handle, model } = loaded;
    const layer = 2;
    const heads = Array.from({ length: handle.spec.nHeads }, (_, head) => ({ layer, head }));
    const text = prompts[0];
    const result = await functionVector(handle, { prompts: [text], heads });
    const bias = model.weights.get(paramName.bias(paramName.o(layer)));
    expect(bias !== undefined).toBe(options.config === 'openai-community__gpt2');
    const attnOut = (await handle.run(handle.tokenizer.encode(text), { captures: [{ hook: hookName.attnOut(layer), positions: 'last' }] })).captures[hookName.attnOut(layer)].data;
    attnOut.forEach((value, i) => expect(result.vector[i] + (bias?.[i] ?? 0)).toBeCloseTo(value, 4));
  });

  it('refuses heads the model does not have', async () => {
    await expectEngineError(() => functionVector(loaded.handle, { prompts: ['a'], heads: [{ layer: 0, head: 4 }] }), 'bad_argument', 'head 0.4 does not exist');
  });
});
