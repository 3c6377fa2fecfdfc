/**
 * Llama family: LlamaForCausalLM (Llama 2/3, TinyLlama, SmolLM).
 * Pre-norm decoder, RMSNorm, rotary embeddings in rotate-half layout, grouped-query
 * attention, SwiGLU MLP, no biases. Mirrors transformers' `LlamaConfig` defaults and
 * `modeling_llama.py` weight names.
 */
import { z } from 'zod';
import type { ModelSpec } from '../spec';
import { llamaStyleConfigSchema, llamaStyleSpec, type ModelFamily, parseConfig, type WeightRule } from './family';

/** The config.json fields the Llama family reads; other fields are ignored. */
export const llamaConfigSchema = llamaStyleConfigSchema().extend({
  attention_bias: z.boolean().default(false), // on q, k, v and o
  mlp_bias: z.boolean().default(false),
});

export function llamaSpecFromConfig(raw: unknown, file: string): ModelSpec {
  const config = parseConfig(llamaConfigSchema, raw, file);
  return llamaStyleSpec(config, file, 'llama', { qkvBias: config.attention_bias, oBias: config.attention_bias, mlpBias: config.mlp_bias });
}

/**
 * Checkpoint tensor of each canonical parameter (spec.ts). `lm_head.weight` is only read
 * when embeddings are untied; tied checkpoints may still carry a copy, which is ignored.
 * Shared with the families that keep Llama's names (Mistral, Qwen2, Qwen3).
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
  architectures: ['LlamaForCausalLM'],
  specFromConfig: llamaSpecFromConfig,
  weights: llamaWeights,
};
