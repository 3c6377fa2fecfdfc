import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectEngineError } from '../../test/expect-engine-error';
import { sharedPath } from '../../test/shared-paths';
import { familyOf, specFromConfig, supportedArchitectures } from './config';
import { GEMMA2_CONFIG } from '../../test/fixtures/gemma2-config';
import { storiesSpec } from '../../test/fixtures/specs';
import { resolveWeight } from './families/family';
import { gemma3Family } from './families/gemma3';
import { gpt2Family } from './families/gpt2';
import { llamaFamily } from './families/llama';
import { paramName } from './spec';

const meta = (model: string) => sharedPath('hf-meta', model);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tiller-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let folderCount = 0;
/** A folder holding `config` (an object, or raw text) as config.json. */
function configFolder(config: unknown): string {
  const folder = join(dir, `model-${folderCount++}`);
  mkdirSync(folder);
  writeFileSync(join(folder, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return folder;
}

/** TinyLlama's real config with some fields replaced (undefined removes a field). */
function tinyLlamaWith(changes: Record<string, unknown>): Record<string, unknown> {
  const config = JSON.parse(readFileSync(join(meta('TinyLlama__TinyLlama-1.1B-Chat-v1.0'), 'config.json'), 'utf8')) as Record<string, unknown>;
  return { ...config, ...changes };
}

describe('real configs', () => {
  it('SmolLM2-135M: tied embeddings, 9 heads over 3 KV heads, head_dim 64', () => {
    expect(specFromConfig(meta('HuggingFaceTB__SmolLM2-135M-Instruct'))).toEqual({
      family: 'llama',
      architecture: 'LlamaForCausalLM',
      dModel: 576,
      nLayers: 30,
      nHeads: 9,
      nKvHeads: 3,
      dHead: 64,
      dMlp: 1536,
      dVocab: 49152,
      nCtx: 8192,
      normEps: 1e-5,
      ropeTheta: 100000,
      ropeScaling: null,
      tiedEmbeddings: true,
      bosTokenId: 1,
      eosTokenIds: [2],
      traits: {
        norm: 'rms',
        normOffset: 0,
        positions: 'rotary',
        mlp: 'gated',
        activation: 'silu',
        qkvBias: false,
        oBias: false,
        mlpBias: false,
        qkNorm: false,
        sandwichNorms: false,
        embedScale: 1,
        attnScale: 1 / 8,
        attnSoftcap: null,
        finalSoftcap: null,
        slidingWindow: Array.from({ length: 30 }, () => null),
        ropeLocalTheta: null,
        rotaryDim: null,
      },
    });
  });

  it('TinyLlama-1.1B: untied, 32 heads over 4 KV heads', () => {
    expect(specFromConfig(meta('TinyLlama__TinyLlama-1.1B-Chat-v1.0'))).toMatchObject({
      dModel: 2048, nLayers: 22, nHeads: 32, nKvHeads: 4, dHead: 64, dMlp: 5632, dVocab: 32000, nCtx: 2048,
      ropeTheta: 10000, ropeScaling: null, tiedEmbeddings: false, bosTokenId: 1, eosTokenIds: [2],
    });
  });

  it('Llama-3.2-1B: llama3 rope scaling, explicit head_dim, list of EOS ids', () => {
    expect(specFromConfig(meta('meta-llama__Llama-3.2-1B-Instruct'))).toMatchObject({
      dModel: 2048, nLayers: 16, nHeads: 32, nKvHeads: 8, dHead: 64, dMlp: 8192, dVocab: 128256, nCtx: 131072,
      ropeTheta: 500000,
      ropeScaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 },
      tiedEmbeddings: true, bosTokenId: 128000, eosTokenIds: [128001, 128008, 128009],
    });
  });

  it('Mistral-7B: a 4096-position sliding window in every block', () => {
    const spec = specFromConfig(meta('mistralai__Mistral-7B-v0.1'));
    expect(spec).toMatchObject({
      family: 'mistral', architecture: 'MistralForCausalLM', dModel: 4096, nLayers: 32, nHeads: 32, nKvHeads: 8, dHead: 128, dMlp: 14336, nCtx: 32768, tiedEmbeddings: false,
    });
    expect(spec.traits.slidingWindow).toEqual(Array.from({ length: 32 }, () => 4096));
  });

  it("Mistral: sliding_window null turns the window off, absent is MistralConfig's 4096", () => {
    const edited = (fields: Record<string, unknown>) => {
      const { sliding_window: _, ...rest } = JSON.parse(readFileSync(join(meta('mistralai__Mistral-7B-v0.1'), 'config.json'), 'utf8')) as Record<string, unknown>;
      return configFolder({ ...rest, ...fields });
    };
    expect(specFromConfig(edited({ sliding_window: null })).traits.slidingWindow.every((window) => window === null)).toBe(true);
    expect(specFromConfig(edited({})).traits.slidingWindow[0]).toBe(4096);
  });

  it("Gemma 2 (the Gemma2Config fixture, 2B's shapes): scaled embedding, (1 + w) norms, sandwich norms, soft caps, even blocks local", () => {
    const spec = specFromConfig(configFolder(GEMMA2_CONFIG));
    expect(spec).toMatchObject({ family: 'gemma2', dModel: 2304, nLayers: 26, nHeads: 8, nKvHeads: 4, dHead: 256, dMlp: 9216, dVocab: 256000, tiedEmbeddings: true, bosTokenId: 2, eosTokenIds: [1] });
    expect(spec.traits).toMatchObject({ norm: 'rms', normOffset: 1, sandwichNorms: true, activation: 'gelu_tanh', qkNorm: false, embedScale: 48, attnScale: 1 / 16, attnSoftcap: 50, finalSoftcap: 30, ropeLocalTheta: null });
    expect(spec.traits.slidingWindow.slice(0, 4)).toEqual([4096, null, 4096, null]);
    // Gemma 2 9B's 3584: sqrt is 59.87, bfloat16 holds 59.75 (what transformers multiplies by); float32 checkpoints keep 59.87.
    expect(specFromConfig(configFolder({ ...GEMMA2_CONFIG, hidden_size: 3584 })).traits.embedScale).toBe(59.75);
    expect(specFromConfig(configFolder({ ...GEMMA2_CONFIG, hidden_size: 3584, torch_dtype: 'float32' })).traits.embedScale).toBeCloseTo(Math.sqrt(3584), 5);
    expect(specFromConfig(configFolder({ ...GEMMA2_CONFIG, layer_types: Array.from({ length: 26 }, () => 'full_attention') })).traits.slidingWindow.every((w) => w === null)).toBe(true);
  });

  it('stories260K-hf', () => {
    expect(specFromConfig(sharedPath('models', 'stories260K-hf'))).toMatchObject({ dModel: 64, nHeads: 8, nKvHeads: 4, dHead: 8, tiedEmbeddings: true });
  });

  it('GPT-2: LayerNorm, learned positions, plain gelu_new MLP, biases, tied', () => {
    const spec = specFromConfig(meta('openai-community__gpt2'));
    expect(spec).toMatchObject({ family: 'gpt2', dModel: 768, nLayers: 12, nHeads: 12, nKvHeads: 12, dHead: 64, dMlp: 3072, dVocab: 50257, nCtx: 1024, normEps: 1e-5, tiedEmbeddings: true, bosTokenId: 50256, eosTokenIds: [50256] });
    expect(spec.traits).toMatchObject({ norm: 'layer', positions: 'learned', mlp: 'plain', activation: 'gelu_tanh', qkvBias: true, oBias: true, mlpBias: true, qkNorm: false, attnScale: 1 / 8 });
  });

  it('Qwen2.5: q/k/v biases only, GQA 7:1, tied, rope_theta 1e6', () => {
    const spec = specFromConfig(meta('Qwen__Qwen2.5-0.5B-Instruct'));
    expect(spec).toMatchObject({ family: 'qwen2', dModel: 896, nLayers: 24, nHeads: 14, nKvHeads: 2, dHead: 64, dVocab: 151936, ropeTheta: 1e6, tiedEmbeddings: true });
    expect(spec.traits).toMatchObject({ norm: 'rms', positions: 'rotary', mlp: 'gated', qkvBias: true, oBias: false, mlpBias: false, qkNorm: false });
  });

  it('Qwen3: q/k norms, head_dim 128 from the config (not 1024 / 16)', () => {
    const spec = specFromConfig(meta('Qwen__Qwen3-0.6B'));
    expect(spec).toMatchObject({ family: 'qwen3', dModel: 1024, nHeads: 16, nKvHeads: 8, dHead: 128, ropeTheta: 1e6, tiedEmbeddings: true });
    expect(spec.traits).toMatchObject({ qkNorm: true, qkvBias: false, oBias: false, attnScale: 1 / Math.sqrt(128) });
  });

  it('Gemma 3 1B: q/k norms, 5 local blocks per global one with their own rotary base, MQA, no soft caps', () => {
    const spec = specFromConfig(meta('google__gemma-3-1b-it'));
    expect(spec).toMatchObject({ family: 'gemma3', dModel: 1152, nLayers: 26, nHeads: 4, nKvHeads: 1, dHead: 256, dMlp: 6912, dVocab: 262144, ropeTheta: 1e6, ropeScaling: null, tiedEmbeddings: true, bosTokenId: 2, eosTokenIds: [1, 106] });
    // sqrt(1152) = 33.94 is 34 in bfloat16, the config's torch_dtype.
    expect(spec.traits).toMatchObject({ normOffset: 1, sandwichNorms: true, qkNorm: true, activation: 'gelu_tanh', embedScale: 34, attnScale: 1 / 16, attnSoftcap: null, finalSoftcap: null, ropeLocalTheta: 10000 });
    expect(spec.traits.slidingWindow.slice(0, 12)).toEqual([512, 512, 512, 512, 512, null, 512, 512, 512, 512, 512, null]);
  });

  it("Gemma 3 4B (Gemma3ForConditionalGeneration): the language model from text_config with Gemma3TextConfig's defaults", () => {
    // The shape of gemma-3-4b-it's config.json: a sparse text_config, the dtype at the top.
    const spec = specFromConfig(configFolder({
      architectures: ['Gemma3ForConditionalGeneration'],
      text_config: { hidden_size: 2560, intermediate_size: 10240, model_type: 'gemma3_text', num_hidden_layers: 34, rope_scaling: { factor: 8.0, rope_type: 'linear' }, sliding_window: 1024 },
      vision_config: { hidden_size: 1152, model_type: 'siglip_vision_model' },
      torch_dtype: 'bfloat16',
    }));
    expect(spec).toMatchObject({ family: 'gemma3', architecture: 'Gemma3ForConditionalGeneration', dModel: 2560, nLayers: 34, nHeads: 8, nKvHeads: 4, dHead: 256, dVocab: 262208, nCtx: 131072, ropeTheta: 1e6, ropeScaling: { type: 'linear', factor: 8 } });
    expect(spec.traits).toMatchObject({ embedScale: 50.5, ropeLocalTheta: 10000, qkNorm: true });
    expect(spec.traits.slidingWindow.filter((w) => w === null)).toHaveLength(5); // blocks 5, 11, 17, 23, 29
    // Its language model's tensors, under either prefix transformers has saved them with.
    for (const prefix of ['language_model.model.', 'model.language_model.']) {
      const ref = resolveWeight(gemma3Family, 'blocks.3.ln2.weight', spec, (tensor) => tensor.startsWith(prefix));
      expect(ref).toMatchObject({ tensor: `${prefix}layers.3.pre_feedforward_layernorm.weight`, addOne: true });
    }
  });

  it('Gemma 3: an attention soft cap (which transformers would ignore) is refused by name', async () => {
    const edited = configFolder({ ...JSON.parse(readFileSync(join(meta('google__gemma-3-1b-it'), 'config.json'), 'utf8')), attn_logit_softcapping: 50 });
    await expectEngineError(() => specFromConfig(edited), 'unsupported_architecture', 'attn_logit_softcapping');
  });

  it('architectures without a family are unsupported_architecture, listing the supported ones', async () => {
    await expectEngineError(() => specFromConfig(configFolder({ architectures: ['MambaForCausalLM'] })), 'unsupported_architecture', 'MambaForCausalLM', 'LlamaForCausalLM', 'GPT2LMHeadModel', 'Qwen3ForCausalLM', 'config.json');
    expect(supportedArchitectures()).toEqual(['LlamaForCausalLM', 'MistralForCausalLM', 'GPT2LMHeadModel', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM', 'Gemma2ForCausalLM', 'Gemma3ForCausalLM', 'Gemma3ForConditionalGeneration', 'Phi3ForCausalLM']);
  });

  it('family variants the graph does not build are refused by name', async () => {
    const edited = (model: string, fields: Record<string, unknown>) => configFolder({ ...JSON.parse(readFileSync(join(meta(model), 'config.json'), 'utf8')), ...fields });
    await expectEngineError(() => specFromConfig(edited('openai-community__gpt2', { activation_function: 'relu' })), 'unsupported_architecture', 'relu');
    await expectEngineError(() => specFromConfig(edited('openai-community__gpt2', { scale_attn_by_inverse_layer_idx: true })), 'unsupported_architecture', 'scale_attn_by_inverse_layer_idx');
    await expectEngineError(() => specFromConfig(edited('Qwen__Qwen2.5-0.5B-Instruct', { use_sliding_window: true })), 'unsupported_architecture', 'use_sliding_window');
    await expectEngineError(() => specFromConfig(edited('Qwen__Qwen3-0.6B', { hidden_act: 'gelu' })), 'unsupported_architecture', 'gelu');
  });
});

describe('config problems', () => {
  it('missing config.json and malformed JSON are bad_config naming the file', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    await expectEngineError(() => specFromConfig(empty), 'bad_config', join(empty, 'config.json'), 'does not exist');
    await expectEngineError(() => specFromConfig(configFolder('{"architectures": [')), 'bad_config', 'config.json', 'not valid JSON');
    await expectEngineError(() => specFromConfig(configFolder('[1]')), 'bad_config', 'config.json', 'not a JSON object');
    await expectEngineError(() => specFromConfig(configFolder({ hidden_size: 8 })), 'bad_config', 'config.json', 'architectures');
  });

  it('schema failures list every offending field path', async () => {
    const folder = configFolder(tinyLlamaWith({ hidden_size: 'big', num_hidden_layers: undefined, eos_token_id: [2, -1], rope_scaling: { type: 'linear', factor: 'x' } }));
    await expectEngineError(() => specFromConfig(folder), 'bad_config', 'config.json', 'hidden_size', 'num_hidden_layers', 'eos_token_id', 'rope_scaling.factor');
  });

  it('inconsistent head counts', async () => {
    await expectEngineError(() => specFromConfig(configFolder(tinyLlamaWith({ num_key_value_heads: 5 }))), 'bad_config', 'num_key_value_heads');
    await expectEngineError(() => specFromConfig(configFolder(tinyLlamaWith({ num_attention_heads: 3, num_key_value_heads: 1 }))), 'bad_config', 'hidden_size', 'head_dim');
  });

  it('defaults: KV heads = heads, rope_theta 10000, untied, no token ids', () => {
    const spec = specFromConfig(configFolder(tinyLlamaWith({ num_key_value_heads: undefined, rope_theta: undefined, tie_word_embeddings: undefined, bos_token_id: null, eos_token_id: undefined })));
    expect(spec).toMatchObject({ nKvHeads: 32, ropeTheta: 10000, tiedEmbeddings: false, bosTokenId: null, eosTokenIds: [] });
  });

  it('rope_scaling variants', async () => {
    const scaled = (ropeScaling: unknown) => specFromConfig(configFolder(tinyLlamaWith({ rope_scaling: ropeScaling }))).ropeScaling;
    expect(scaled({ type: 'linear', factor: 4 })).toEqual({ type: 'linear', factor: 4 });
    expect(scaled({ rope_type: 'default' })).toBeNull();
    expect(scaled({ type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 })).toEqual({
      type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192,
    });
    await expectEngineError(() => scaled({ rope_type: 'llama3', factor: 8 }), 'bad_config', 'rope_scaling.low_freq_factor');
    await expectEngineError(() => scaled({ rope_type: 'yarn', factor: 4 }), 'unsupported_architecture', 'yarn', 'config.json');
    await expectEngineError(() => scaled({ type: 'dynamic', factor: 2 }), 'unsupported_architecture', 'dynamic');
  });

  it('attention_bias and mlp_bias become bias traits', () => {
    const { traits } = specFromConfig(configFolder(tinyLlamaWith({ attention_bias: true, mlp_bias: true })));
    expect([traits.qkvBias, traits.oBias, traits.mlpBias]).toEqual([true, true, true]);
  });

  it('variants the graph cannot build are unsupported_architecture', async () => {
    await expectEngineError(() => specFromConfig(configFolder(tinyLlamaWith({ hidden_act: 'gelu' }))), 'unsupported_architecture', 'gelu');
  });
});

describe('llama weight names', () => {
  it('map every canonical parameter to its Hugging Face tensor', () => {
    const spec = storiesSpec();
    const name = (canonical: string) => resolveWeight(llamaFamily, canonical, spec, () => true)?.tensor ?? null;
    expect(name(paramName.embed())).toBe('model.embed_tokens.weight');
    expect(name(paramName.ln1(12))).toBe('model.layers.12.input_layernorm.weight');
    expect(name(paramName.q(3))).toBe('model.layers.3.self_attn.q_proj.weight');
    expect(name(paramName.k(3))).toBe('model.layers.3.self_attn.k_proj.weight');
    expect(name(paramName.v(3))).toBe('model.layers.3.self_attn.v_proj.weight');
    expect(name(paramName.o(3))).toBe('model.layers.3.self_attn.o_proj.weight');
    expect(name(paramName.ln2(0))).toBe('model.layers.0.post_attention_layernorm.weight');
    expect(name(paramName.gate(1))).toBe('model.layers.1.mlp.gate_proj.weight');
    expect(name(paramName.up(1))).toBe('model.layers.1.mlp.up_proj.weight');
    expect(name(paramName.down(1))).toBe('model.layers.1.mlp.down_proj.weight');
    expect(name(paramName.lnFinal())).toBe('model.norm.weight');
    expect(name(paramName.unembed())).toBe('lm_head.weight');
    expect(name('blocks.x.ln1.weight')).toBeNull();
  });
});

describe('Phi-3 configs (test/fixtures/phi3: Phi3Config fields with Phi-3-mini values)', () => {
  const phi3 = (name: string, changes: Record<string, unknown> = {}) =>
    configFolder({ ...(JSON.parse(readFileSync(join(__dirname, '..', '..', 'test', 'fixtures', 'phi3', `${name}.config.json`), 'utf8')) as object), ...changes });

  it('Phi-3-mini-4k: multi-head, d_head 96, RMSNorm eps 1e-5, a 2047-position window in every block, no rope scaling', () => {
    const spec = specFromConfig(phi3('Phi-3-mini-4k-instruct'));
    expect(spec).toMatchObject({
      family: 'phi3', architecture: 'Phi3ForCausalLM', dModel: 3072, nLayers: 32, nHeads: 32, nKvHeads: 32, dHead: 96, dMlp: 8192, dVocab: 32064, nCtx: 4096,
      normEps: 1e-5, ropeScaling: null, tiedEmbeddings: false, bosTokenId: 1, eosTokenIds: [32000],
    });
    expect(spec.traits).toMatchObject({ norm: 'rms', mlp: 'gated', activation: 'silu', qkvBias: false, rotaryDim: null, slidingWindow: Array.from({ length: 32 }, () => 2047) });
  });

  it('Phi-3-mini-128k: LongRoPE with attention factor sqrt(1 + ln(131072 / 4096) / ln 4096); its 262144 window hides nothing', () => {
    const spec = specFromConfig(phi3('Phi-3-mini-128k-instruct'));
    expect(spec.ropeScaling).toMatchObject({ type: 'longrope', originalMaxPositions: 4096 });
    const scaling = spec.ropeScaling as Extract<typeof spec.ropeScaling, { type: 'longrope' }>;
    expect(scaling.attentionFactor).toBeCloseTo(Math.sqrt(1 + Math.log(32) / Math.log(4096)), 12);
    expect([scaling.shortFactor.length, scaling.longFactor.length]).toEqual([48, 48]);
    expect(spec.traits.slidingWindow.every((window) => window === null)).toBe(true);
    // "su" and "yarn" are the older names (Phi3Config renames them); an explicit attention_factor wins.
    const renamed = (type: string) => specFromConfig(phi3('Phi-3-mini-128k-instruct', { rope_scaling: { ...scaling, type, short_factor: scaling.shortFactor, long_factor: scaling.longFactor, attention_factor: 1.5 } })).ropeScaling;
    expect(renamed('su')).toMatchObject({ type: 'longrope', attentionFactor: 1.5 });
    expect(renamed('yarn')).toMatchObject({ type: 'longrope', attentionFactor: 1.5 });
  });

  it('partial_rotary_factor turns the first int(d_head * factor) dims; the factor lists must match them', async () => {
    const rope = (half: number) => ({ type: 'longrope', short_factor: Array(half).fill(1), long_factor: Array(half).fill(2) });
    const spec = specFromConfig(phi3('Phi-3-mini-128k-instruct', { partial_rotary_factor: 0.75, rope_scaling: rope(36) }));
    expect(spec.traits.rotaryDim).toBe(72);
    await expectEngineError(() => specFromConfig(phi3('Phi-3-mini-128k-instruct', { rope_scaling: rope(36) })), 'bad_config', 'short_factor has 36 values', 'need 48');
    await expectEngineError(() => specFromConfig(phi3('Phi-3-mini-128k-instruct', { rope_scaling: { type: 'longrope', short_factor: Array(48).fill(1) } })), 'bad_config', 'long_factor is required');
    await expectEngineError(() => specFromConfig(phi3('Phi-3-mini-4k-instruct', { rope_scaling: { type: 'dynamic', factor: 2 } })), 'unsupported_architecture', 'dynamic');
  });

  it('reads q/k/v as row slices of qkv_proj and gate/up of gate_up_proj', () => {
    const spec = specFromConfig(phi3('Phi-3-mini-4k-instruct'));
    const family = familyOf(spec);
    const ref = (name: string) => resolveWeight(family, name, spec, () => true);
    expect(ref(paramName.q(2))).toEqual({ tensor: 'model.layers.2.self_attn.qkv_proj.weight', conv1d: false, rows: [0, 3072], addOne: false });
    expect(ref(paramName.k(2))?.rows).toEqual([3072, 3072]);
    expect(ref(paramName.v(2))?.rows).toEqual([6144, 3072]);
    expect(ref(paramName.gate(5))).toEqual({ tensor: 'model.layers.5.mlp.gate_up_proj.weight', conv1d: false, rows: [0, 8192], addOne: false });
    expect(ref(paramName.up(5))?.rows).toEqual([8192, 8192]);
  });
});

describe('gpt2 weight table', () => {
  it('reads q/k/v as row slices of the transposed Conv1D c_attn, with or without the transformer. prefix', () => {
    const spec = specFromConfig(meta('openai-community__gpt2'));
    const prefixed = (tensor: string) => tensor.startsWith('transformer.');
    expect(resolveWeight(gpt2Family, paramName.k(3), spec, prefixed)).toEqual({ tensor: 'transformer.h.3.attn.c_attn.weight', conv1d: true, rows: [768, 768], addOne: false });
    expect(resolveWeight(gpt2Family, paramName.bias(paramName.v(0)), spec, () => false)).toEqual({ tensor: 'transformer.h.0.attn.c_attn.bias', conv1d: false, rows: [1536, 768], addOne: false });
    expect(resolveWeight(gpt2Family, paramName.posEmbed(), spec, (tensor) => tensor === 'wpe.weight')?.tensor).toBe('wpe.weight');
    expect(resolveWeight(gpt2Family, paramName.gate(0), spec, () => true)).toBeNull();
  });
});
