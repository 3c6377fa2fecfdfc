/**
 * Qwen2 family: Qwen2ForCausalLM (Qwen2, Qwen2.5). Llama's block with biases on q, k and v
 * (not on o or the MLP), grouped-query attention and, at small sizes, tied embeddings.
 * Mirrors transformers' `Qwen2Config` defaults and `modeling_qwen2.py`, whose weight names
 * are Llama's.
 */
import { z } from 'zod';
import type { ModelSpec, Traits } from '../spec';
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
} from './family';
import { llamaWeights } from './llama';

/** The config.json fields Qwen2 reads (Qwen3 adds to them); other fields are ignored. */
export const qwen2ConfigSchema = z.object({
  architectures: z.array(z.string()).min(1),
  hidden_size: positiveInt,
  intermediate_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  num_key_value_heads: positiveInt.nullish(),
  head_dim: positiveInt.nullish(),
  vocab_size: positiveInt,
  max_position_embeddings: positiveInt,
  rms_norm_eps: z.number().positive().default(1e-6),
  rope_theta: z.number().positive().default(10000),
  rope_scaling: ropeScalingSchema.nullish(),
  tie_word_embeddings: z.boolean().default(false),
  hidden_act: z.string().default('silu'),
  // Sliding-window layers exist only when use_sliding_window is set (no released Qwen2.5 sets it).
  use_sliding_window: z.boolean().default(false),
  bos_token_id: tokenIds,
  eos_token_id: tokenIds,
});

function qwen2SpecFromConfig(raw: unknown, file: string): ModelSpec {
  const config = parseConfig(qwen2ConfigSchema, raw, file);
  return qwenSpec(config, file, 'qwen2', { qkvBias: true });
}

/** The spec of a Qwen2-style config (shared with Qwen3), with the family's traits on top of Llama's. */
export function qwenSpec(config: z.output<typeof qwen2ConfigSchema>, file: string, family: 'qwen2' | 'qwen3', traits: Partial<Traits>): ModelSpec {
  const architecture = config.architectures[0];
  if (config.hidden_act !== 'silu') throw unsupported(file, architecture, `hidden_act "${config.hidden_act}"`);
  if (config.use_sliding_window) throw unsupported(file, architecture, 'use_sliding_window: true');
  const heads = attentionHeads(config, file);
  return {
    family,
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
    traits: { ...llamaLikeTraits(config.num_hidden_layers, heads.dHead), ...traits },
  };
}

export const qwen2Family: ModelFamily = {
  family: 'qwen2',
  architectures: ['Qwen2ForCausalLM'],
  specFromConfig: qwen2SpecFromConfig,
  weights: llamaWeights,
};
