/**
 * Llama family: LlamaForCausalLM (Llama 2/3, TinyLlama, SmolLM) and MistralForCausalLM.
 * Pre-norm decoder, RMSNorm, rotary embeddings in rotate-half layout, grouped-query
 * attention, SwiGLU MLP, no biases. Mirrors transformers' `LlamaConfig` defaults and
 * `modeling_llama.py` weight names.
 */
import { z } from 'zod';
import type { ModelSpec } from '../spec';
import {
  attentionHeads,
  llamaLikeTraits,
  type ModelFamily,
  parseConfig,
  positiveInt,
  ropeScalingFrom,
  ropeScalingSchema,
  specialTokens,
  tokenIds,
  unsupported,
  type WeightRule,
} from './family';

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

export function llamaSpecFromConfig(raw: unknown, file: string): ModelSpec {
  const config = parseConfig(llamaConfigSchema, raw, file);
  const architecture = config.architectures[0];
  if (config.hidden_act !== 'silu') throw unsupported(file, architecture, `hidden_act "${config.hidden_act}"`);
  const heads = attentionHeads(config, file);
  return {
    family: 'llama',
    architecture,
    dModel: config.hidden_size,
    nLayers: config.num_hidden_layers,
    ...heads,
    dMlp: config.intermediate_size,
    dVocab: config.vocab_size,
    nCtx: config.max_position_embeddings,
    normEps: config.rms_norm_eps,
    ropeTheta: config.rope_theta,
    ropeScaling: ropeScalingFrom(config.rope_scaling, file, architecture),
    tiedEmbeddings: config.tie_word_embeddings,
    ...specialTokens(config.bos_token_id, config.eos_token_id),
    traits: { ...llamaLikeTraits(config.num_hidden_layers, heads.dHead), qkvBias: config.attention_bias, oBias: config.attention_bias, mlpBias: config.mlp_bias },
  };
}

/**
 * Checkpoint tensor of each canonical parameter (spec.ts). `lm_head.weight` is only read
 * when embeddings are untied; tied checkpoints may still carry a copy, which is ignored.
 * Shared with the families that keep Llama's names (Qwen2, Qwen3).
 */
export const llamaWeights: readonly WeightRule[] = [
  { canonical: 'embed.weight', checkpoint: 'model.embed_tokens.weight' },
  { canonical: 'blocks.{i}.ln1.weight', checkpoint: 'model.layers.{i}.input_layernorm.weight' },
  ...(['q', 'k', 'v', 'o'] as const).flatMap((p) =>
    (['weight', 'bias'] as const).map((kind) => ({ canonical: `blocks.{i}.attn.${p}_proj.${kind}`, checkpoint: `model.layers.{i}.self_attn.${p}_proj.${kind}` })),
  ),
  { canonical: 'blocks.{i}.attn.q_norm.weight', checkpoint: 'model.layers.{i}.self_attn.q_norm.weight' },
  { canonical: 'blocks.{i}.attn.k_norm.weight', checkpoint: 'model.layers.{i}.self_attn.k_norm.weight' },
  { canonical: 'blocks.{i}.ln2.weight', checkpoint: 'model.layers.{i}.post_attention_layernorm.weight' },
  ...(['gate', 'up', 'down'] as const).flatMap((p) =>
    (['weight', 'bias'] as const).map((kind) => ({ canonical: `blocks.{i}.mlp.${p}_proj.${kind}`, checkpoint: `model.layers.{i}.mlp.${p}_proj.${kind}` })),
  ),
  { canonical: 'ln_final.weight', checkpoint: 'model.norm.weight' },
  { canonical: 'unembed.weight', checkpoint: 'lm_head.weight' },
];

export const llamaFamily: ModelFamily = {
  family: 'llama',
  architectures: ['LlamaForCausalLM', 'MistralForCausalLM'],
  specFromConfig: llamaSpecFromConfig,
  weights: llamaWeights,
};
