/**
 * Gemma3ForConditionalGeneration (Gemma 3 4B and larger): Tiller runs its language model.
 * The same random-weight Gemma 3 text model, saved as transformers saves the multimodal
 * checkpoint (config under text_config; tensors under language_model.model., as on the hub,
 * or model.language_model., as transformers 4.52 and later save them), gives the same
 * logits as the Gemma3ForCausalLM folder it came from.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type ModelHandle } from '../engine/engine';
import { expectedParams } from '../engine/model/spec';
import { fixtureFamilyOf } from './fixtures/fixture-families';
import { buildRandomModel, type RandomModel } from './fixtures/random-model';
import { writeSafetensors, type WriterTensor } from './fixtures/safetensors-writer';

const PROMPT = 'The quick brown fox jumps over the lazy dog.';

let dir: string;
let engine: Engine;
let model: RandomModel;
let causal: ModelHandle;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tiller-gemma3-mm-'));
  engine = Engine.create({ cacheDir: join(dir, 'cache') });
  model = buildRandomModel(join(dir, 'causal'), {
    config: 'google__gemma-3-1b-it',
    tokenizer: 'HuggingFaceTB__SmolLM2-135M-Instruct',
    layers: 2, dModel: 32, dMlp: 64, nHeads: 2, nKvHeads: 1, dHead: 16, seed: 41, dtype: 'BF16',
    configFields: { sliding_window: 4, sliding_window_pattern: 2 },
  });
  causal = await engine.loadModel(model.dir);
});

afterAll(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The causal model's folder rewritten as a Gemma3ForConditionalGeneration checkpoint whose tensor names get `rename`. */
function multimodalFolder(name: string, rename: (tensor: string) => string): string {
  const folder = join(dir, name);
  mkdirSync(folder);
  for (const file of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json']) {
    if (existsSync(join(model.dir, file))) copyFileSync(join(model.dir, file), join(folder, file));
  }
  const { architectures: _, torch_dtype, ...text } = model.config;
  const config = { architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3', text_config: { ...text, model_type: 'gemma3_text' }, vision_config: { model_type: 'siglip_vision_model' }, torch_dtype };
  writeFileSync(join(folder, 'config.json'), JSON.stringify(config));
  const params = new Map([...expectedParams(model.spec)].map(([param, shape]) => [param, { shape, data: model.weights.get(param)! }]));
  const tensors: Record<string, WriterTensor> = {};
  for (const tensor of fixtureFamilyOf(model.config).checkpoint(model.spec, params)) tensors[rename(tensor.name)] = { dtype: 'BF16', shape: tensor.shape, data: tensor.data };
  writeSafetensors(join(folder, 'model.safetensors'), tensors, { format: 'pt' });
  return folder;
}

describe('Gemma3ForConditionalGeneration', () => {
  it.each([
    ['language_model.model. (the hub files)', (tensor: string) => `language_model.${tensor}`],
    ['model.language_model. (transformers >= 4.52)', (tensor: string) => tensor.replace(/^model\./, 'model.language_model.')],
  ])('runs its language model from tensors under %s', async (name, rename) => {
    const handle = await engine.loadModel(multimodalFolder(name.split(' ')[0].replace(/\W+/g, '-'), rename));
    expect(handle.spec).toEqual({ ...model.spec, architecture: 'Gemma3ForConditionalGeneration' });
    const ids = handle.tokenizer.encode(PROMPT);
    expect(await handle.forward(ids)).toEqual(await causal.forward(ids));
    await handle.unload();
  });
});
