/**
 * Qwen3 family: Qwen3ForCausalLM. Qwen2's block without the q/k/v biases (unless
 * attention_bias) and with a per-head RMSNorm of q and k (q_norm, k_norm, gains of
 * d_head) before rotary; head_dim is its own config field, not hidden_size / heads.
 * Mirrors transformers' `Qwen3Config` defaults and `modeling_qwen3.py`.
 */
import { z } from 'zod';
import type { ModelSpec } from '../spec';
import { llamaStyleSpec, type ModelFamily, parseConfig, positiveInt } from './family';
import { llamaWeights } from './llama';
import { qwen2ConfigSchema, refuseSlidingWindow } from './qwen2';

const qwen3ConfigSchema = qwen2ConfigSchema.extend({
  head_dim: positiveInt.default(128), // Qwen3Config's default
  attention_bias: z.boolean().default(false),
});

function qwen3SpecFromConfig(raw: unknown, file: string): ModelSpec {
  const config = parseConfig(qwen3ConfigSchema, raw, file);
  refuseSlidingWindow(config, file);
  // attention_bias puts biases on q, k, v and o alike (Qwen3Attention).
  return llamaStyleSpec(config, file, 'qwen3', { qkNorm: true, qkvBias: config.attention_bias, oBias: config.attention_bias });
}

export const qwen3Family: ModelFamily = {
  family: 'qwen3',
  architectures: ['Qwen3ForCausalLM'],
  specFromConfig: qwen3SpecFromConfig,
  weights: llamaWeights,
};
