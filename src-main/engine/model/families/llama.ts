/**
 * Llama family: LlamaForCausalLM (Llama 2/3, TinyLlama, SmolLM) and MistralForCausalLM.
 * Pre-norm decoder, RMSNorm, rotary embeddings in rotate-half layout, grouped-query
 * attention, SwiGLU MLP, no biases. Mirrors transformers' `LlamaConfig` defaults and
 * `modeling_llama.py` weight names.
 */
import { z } from 'zod';
import { EngineError } from '../../errors';
import type { ModelSpec, RopeScaling } from '../spec';
import { type ModelFamily, parseConfig, weightNameLookup } from './family';

const positiveInt = z.number().int().positive();
const tokenId = z.number().int().nonnegative();
const tokenIds = z.union([tokenId, z.array(tokenId)]).nullish();

const ropeScalingSchema = z.object({
  // Older configs spell the kind `type`, newer ones `rope_type`.
  rope_type: z.string().optional(),
  type: z.string().optional(),
  factor: z.number().positive().optional(),
  low_freq_factor: z.number().positive().optional(),
  high_freq_factor: z.number().positive().optional(),
  original_max_position_embeddings: positiveInt.optional(),
});

/** The config.json fields the Llama family reads; other fields are ignored. */
export const llamaConfigSchema = z.object({
  architectures: z.array(z.string()).min(1),
  hidden_size: positiveInt,
  intermediate_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  num_key_value_heads: positiveInt.nullish(), // absent: plain multi-head attention
  head_dim: positiveInt.nullish(), // absent: hidden_size / num_attention_heads
  vocab_size: positiveInt,
  max_position_embeddings: positiveInt,
  rms_norm_eps: z.number().positive().default(1e-6), // LlamaConfig's default
  rope_theta: z.number().positive().default(10000),
  rope_scaling: ropeScalingSchema.nullish(),
  tie_word_embeddings: z.boolean().default(false),
  bos_token_id: tokenIds,
  eos_token_id: tokenIds,
  hidden_act: z.string().default('silu'),
  attention_bias: z.boolean().default(false),
  mlp_bias: z.boolean().default(false),
  // Mistral's sliding window is accepted but not applied: attention is full-context, which
  // matches the reference exactly up to `sliding_window` tokens and differs beyond it.
  sliding_window: positiveInt.nullish(),
});

export type LlamaConfig = z.output<typeof llamaConfigSchema>;

const badConfig = (file: string, problem: string) => new EngineError('bad_config', `${file}: ${problem}`);

export function llamaSpecFromConfig(raw: unknown, file: string): ModelSpec {
  const config = parseConfig(llamaConfigSchema, raw, file);
  const architecture = config.architectures[0];
  const unsupported = (feature: string) =>
    new EngineError('unsupported_architecture', `${file}: ${architecture} with ${feature} is not supported`);
  // The graph builds exactly one variant: bias-free projections and a SiLU-gated MLP.
  if (config.hidden_act !== 'silu') throw unsupported(`hidden_act "${config.hidden_act}"`);
  if (config.attention_bias) throw unsupported('attention_bias: true');
  if (config.mlp_bias) throw unsupported('mlp_bias: true');

  const nHeads = config.num_attention_heads;
  const nKvHeads = config.num_key_value_heads ?? nHeads;
  if (nHeads % nKvHeads !== 0) {
    throw badConfig(file, `num_attention_heads (${nHeads}) is not a multiple of num_key_value_heads (${nKvHeads})`);
  }
  if (config.head_dim == null && config.hidden_size % nHeads !== 0) {
    throw badConfig(file, `hidden_size (${config.hidden_size}) is not divisible by num_attention_heads (${nHeads}) and head_dim is not given`);
  }
  const dHead = config.head_dim ?? config.hidden_size / nHeads;
  if (dHead % 2 !== 0) throw badConfig(file, `head_dim ${dHead} is odd; rotary embeddings need an even head_dim`);

  const bos = config.bos_token_id;
  const eos = config.eos_token_id;
  return {
    family: 'llama',
    architecture,
    dModel: config.hidden_size,
    nLayers: config.num_hidden_layers,
    nHeads,
    nKvHeads,
    dHead,
    dMlp: config.intermediate_size,
    dVocab: config.vocab_size,
    nCtx: config.max_position_embeddings,
    normEps: config.rms_norm_eps,
    ropeTheta: config.rope_theta,
    ropeScaling: ropeScalingFrom(config.rope_scaling, file, architecture),
    tiedEmbeddings: config.tie_word_embeddings,
    // A list-valued bos_token_id is rare; the first entry is the one prepended.
    bosTokenId: Array.isArray(bos) ? (bos[0] ?? null) : (bos ?? null),
    eosTokenIds: Array.isArray(eos) ? eos : eos == null ? [] : [eos],
  };
}

function ropeScalingFrom(raw: LlamaConfig['rope_scaling'], file: string, architecture: string): RopeScaling | null {
  if (raw == null) return null;
  const kind = raw.rope_type ?? raw.type;
  if (kind === undefined) throw badConfig(file, 'rope_scaling has neither rope_type nor type');
  if (kind === 'default') return null; // transformers' name for unscaled rotary
  const need = (value: number | undefined, field: string): number => {
    if (value === undefined) throw badConfig(file, `rope_scaling.${field} is required for rope_type "${kind}"`);
    return value;
  };
  switch (kind) {
    case 'linear':
      return { type: 'linear', factor: need(raw.factor, 'factor') };
    case 'llama3':
      return {
        type: 'llama3',
        factor: need(raw.factor, 'factor'),
        lowFreqFactor: need(raw.low_freq_factor, 'low_freq_factor'),
        highFreqFactor: need(raw.high_freq_factor, 'high_freq_factor'),
        originalMaxPositions: need(raw.original_max_position_embeddings, 'original_max_position_embeddings'),
      };
    default:
      throw new EngineError(
        'unsupported_architecture',
        `${file}: ${architecture} with rope_scaling type "${kind}" is not supported (supported: llama3, linear)`,
      );
  }
}

/**
 * Hugging Face tensor name -> canonical parameter name (spec.ts `paramName`).
 * `lm_head.weight` is only read when embeddings are untied; tied checkpoints may
 * still carry a copy, which is ignored.
 */
export const llamaWeightNames = [
  ['model.embed_tokens.weight', 'embed.weight'],
  ['model.layers.{i}.input_layernorm.weight', 'blocks.{i}.ln1.weight'],
  ['model.layers.{i}.self_attn.q_proj.weight', 'blocks.{i}.attn.q_proj.weight'],
  ['model.layers.{i}.self_attn.k_proj.weight', 'blocks.{i}.attn.k_proj.weight'],
  ['model.layers.{i}.self_attn.v_proj.weight', 'blocks.{i}.attn.v_proj.weight'],
  ['model.layers.{i}.self_attn.o_proj.weight', 'blocks.{i}.attn.o_proj.weight'],
  ['model.layers.{i}.post_attention_layernorm.weight', 'blocks.{i}.ln2.weight'],
  ['model.layers.{i}.mlp.gate_proj.weight', 'blocks.{i}.mlp.gate_proj.weight'],
  ['model.layers.{i}.mlp.up_proj.weight', 'blocks.{i}.mlp.up_proj.weight'],
  ['model.layers.{i}.mlp.down_proj.weight', 'blocks.{i}.mlp.down_proj.weight'],
  ['model.norm.weight', 'ln_final.weight'],
  ['lm_head.weight', 'unembed.weight'],
] as const;

export const llamaFamily: ModelFamily = {
  family: 'llama',
  architectures: ['LlamaForCausalLM', 'MistralForCausalLM'],
  specFromConfig: llamaSpecFromConfig,
  checkpointName: weightNameLookup(llamaWeightNames),
};
