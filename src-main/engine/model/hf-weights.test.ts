import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectEngineError } from '../../test/expect-engine-error';
import { writeSafetensors, writeShardedSafetensors, type WriterDtype, type WriterTensor } from '../../test/fixtures/safetensors-writer';
import { specFromConfig } from './config';
import { openHfWeights } from './hf-weights';
import { expectedParams, paramName } from './spec';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tiller-hf-weights-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tinyConfig = (tied: boolean) => ({
  architectures: ['LlamaForCausalLM'],
  hidden_size: 8,
  intermediate_size: 12,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  vocab_size: 16,
  max_position_embeddings: 32,
  rms_norm_eps: 1e-5,
  tie_word_embeddings: tied,
});

/** HF-named tensors for the tiny config, every value distinct (tensor index * 1000 + element). */
function tinyTensors(dtype: WriterDtype = 'F32'): Record<string, WriterTensor> {
  const d = 8;
  const shapes: Record<string, number[]> = { 'model.embed_tokens.weight': [16, d] };
  for (let i = 0; i < 2; i++) {
    const layer = `model.layers.${i}`;
    Object.assign(shapes, {
      [`${layer}.input_layernorm.weight`]: [d],
      [`${layer}.self_attn.q_proj.weight`]: [d, d],
      [`${layer}.self_attn.k_proj.weight`]: [4, d],
      [`${layer}.self_attn.v_proj.weight`]: [4, d],
      [`${layer}.self_attn.o_proj.weight`]: [d, d],
      [`${layer}.post_attention_layernorm.weight`]: [d],
      [`${layer}.mlp.gate_proj.weight`]: [12, d],
      [`${layer}.mlp.up_proj.weight`]: [12, d],
      [`${layer}.mlp.down_proj.weight`]: [d, 12],
    });
  }
  Object.assign(shapes, { 'model.norm.weight': [d], 'lm_head.weight': [16, d] });
  return Object.fromEntries(
    Object.entries(shapes).map(([name, shape], t) => {
      const count = shape.reduce((a, b) => a * b, 1);
      return [name, { dtype, shape, data: Float32Array.from({ length: count }, (_, i) => t * 1000 + i) }];
    }),
  );
}

let folderCount = 0;
function modelFolder(tied: boolean, tensors: Record<string, WriterTensor>, shards = 1): string {
  const folder = join(dir, `model-${folderCount++}`);
  mkdirSync(folder);
  writeFileSync(join(folder, 'config.json'), JSON.stringify(tinyConfig(tied)));
  if (shards === 1) writeSafetensors(join(folder, 'model.safetensors'), tensors);
  else writeShardedSafetensors(folder, tensors, shards);
  return folder;
}

describe('Hugging Face folder weights', () => {
  it('exposes every expected parameter under its canonical name', () => {
    const tensors = tinyTensors();
    const folder = modelFolder(false, tensors);
    const weights = openHfWeights(folder, specFromConfig(folder));
    expect(weights.files).toEqual([join(folder, 'model.safetensors')]);
    expect(weights.read(paramName.k(1))).toEqual(tensors['model.layers.1.self_attn.k_proj.weight'].data);
    expect(weights.read(paramName.unembed())).toEqual(tensors['lm_head.weight'].data);
    expect(weights.info(paramName.down(0))).toEqual({ dtype: 'F32', shape: [8, 12] });
    weights.close();
  });

  it('tied models ignore lm_head, present or absent', async () => {
    const withHead = modelFolder(true, tinyTensors());
    const weights = openHfWeights(withHead, specFromConfig(withHead));
    expect(weights.has(paramName.unembed())).toBe(false);
    await expectEngineError(() => weights.read(paramName.unembed()), 'bad_argument', 'unembed.weight');
    weights.close();
    const { 'lm_head.weight': _head, ...rest } = tinyTensors();
    const withoutHead = modelFolder(true, rest);
    openHfWeights(withoutHead, specFromConfig(withoutHead)).close();
  });

  it('sharded folders read the same as single files, BF16 included', () => {
    const tensors = tinyTensors('BF16');
    const single = modelFolder(false, tensors);
    const sharded = modelFolder(false, tensors, 3);
    const spec = specFromConfig(single);
    const a = openHfWeights(single, spec);
    const b = openHfWeights(sharded, spec);
    expect(b.files).toHaveLength(3);
    for (const name of expectedParams(spec).keys()) expect(b.read(name), name).toEqual(a.read(name));
    a.close();
    b.close();
  });

  it('a missing tensor names the tensor and the file', async () => {
    const { 'model.layers.1.mlp.up_proj.weight': _up, ...rest } = tinyTensors();
    const folder = modelFolder(false, rest);
    await expectEngineError(() => openHfWeights(folder, specFromConfig(folder)), 'bad_model_file', 'model.layers.1.mlp.up_proj.weight', 'model.safetensors', 'missing');
    const { 'lm_head.weight': _head, ...untied } = tinyTensors();
    const noHead = modelFolder(false, untied);
    await expectEngineError(() => openHfWeights(noHead, specFromConfig(noHead)), 'bad_model_file', 'lm_head.weight', 'missing');
  });

  it('a wrong shape names the tensor, the actual and the expected shape', async () => {
    const tensors = tinyTensors();
    tensors['model.layers.0.self_attn.q_proj.weight'] = { dtype: 'F32', shape: [8, 4], data: new Float32Array(32) };
    const folder = modelFolder(false, tensors);
    await expectEngineError(() => openHfWeights(folder, specFromConfig(folder)), 'bad_model_file', 'model.layers.0.self_attn.q_proj.weight', '[8, 4]', 'expected [8, 8]', 'model.safetensors');
  });

  it('a folder without safetensors weights', async () => {
    const folder = join(dir, 'no-weights');
    mkdirSync(folder);
    writeFileSync(join(folder, 'config.json'), JSON.stringify(tinyConfig(true)));
    await expectEngineError(() => openHfWeights(folder, specFromConfig(folder)), 'bad_model_file', 'no-weights', 'model.safetensors');
  });
});
