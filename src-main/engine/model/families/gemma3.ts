/**
 * Gemma 3 family (text): Gemma3ForCausalLM (gemma-3-1b, model_type gemma3_text) and the
 * language model of Gemma3ForConditionalGeneration (4B and larger; its text_config, the
 * vision tower ignored). Gemma 2's block (gemma2.ts) with per-head q/k RMSNorm ((1 + w)
 * gains) before rotary, five sliding-window blocks to each global one (every
 * sliding_window_pattern-th block global, or layer_types), the local blocks rotating with
 * rope_local_base_freq (unscaled) and the global ones with rope_theta and rope_scaling, and
 * no attention soft-capping. Mirrors transformers' `Gemma3TextConfig` defaults and
 * `modeling_gemma3.py`.
 */
import { z } from 'zod';
import type { ModelSpec } from '../spec';
import { badConfig, type ModelFamily, parseConfig, positiveInt, unsupported, type WeightRule } from './family';
import { gemma2ConfigSchema, gemmaSpec, gemmaWeights } from './gemma2';

/** Gemma3TextConfig: Gemma2Config's fields with its own defaults, and the local rotary base and window pattern. */
const gemma3TextConfigSchema = gemma2ConfigSchema.extend({
  vocab_size: positiveInt.default(262208),
  max_position_embeddings: positiveInt.default(131072),
  rope_theta: z.number().positive().default(1_000_000),
  final_logit_softcapping: z.number().positive().nullable().default(null),
  attn_logit_softcapping: z.number().positive().nullable().default(null),
  rope_local_base_freq: z.number().positive().default(10000),
  sliding_window_pattern: positiveInt.default(6),
});

function textSpec(raw: unknown, file: string, architecture: string): ModelSpec {
  const config = parseConfig(gemma3TextConfigSchema, raw, file);
  // Gemma3Attention passes no softcap to its attention function: a cap in the config would be ignored upstream.
  if (config.attn_logit_softcapping !== null) throw unsupported(file, architecture, 'attn_logit_softcapping (transformers\' Gemma 3 attention does not apply it)');
  // Gemma3TextConfig: layer i is "sliding_attention" when (i + 1) % sliding_window_pattern, so every pattern-th block is global.
  const spec = gemmaSpec({ ...config, architectures: [architecture] }, file, 'gemma3', (layer) => (layer + 1) % config.sliding_window_pattern !== 0, {
    qkNorm: true,
    ropeLocalTheta: config.rope_local_base_freq,
  });
  return spec;
}

/** Gemma3ForConditionalGeneration's config.json: the language model's config under text_config. */
const conditionalConfigSchema = z.object({
  architectures: z.array(z.string()).min(1),
  text_config: z.record(z.string(), z.unknown()),
  torch_dtype: z.string().nullish(),
  dtype: z.string().nullish(),
});

function gemma3SpecFromConfig(raw: unknown, file: string): ModelSpec {
  const top = parseConfig(z.object({ architectures: z.array(z.string()).min(1) }), raw, file);
  const architecture = top.architectures[0];
  if (architecture !== 'Gemma3ForConditionalGeneration') return textSpec(raw, file, architecture);
  const config = parseConfig(conditionalConfigSchema, raw, file);
  const text = config.text_config;
  if ('architectures' in text && !Array.isArray(text.architectures)) throw badConfig(file, 'text_config.architectures is not a list');
  // The checkpoint's dtype is the top-level one (text_config usually has none).
  return textSpec({ ...text, torch_dtype: text.torch_dtype ?? config.torch_dtype, dtype: text.dtype ?? config.dtype, architectures: [architecture] }, `${file} (text_config)`, architecture);
}

/**
 * Gemma3ForCausalLM names its tensors as Gemma 2 does (model.layers.{i}...). The
 * multimodal checkpoints hold the same language model under language_model.model. (the
 * hub's files) or model.language_model. (transformers 4.52 and later).
 */
const multimodalNames = (name: string): string[] => {
  if (name.startsWith('model.')) {
    const inner = name.slice('model.'.length);
    return [name, `language_model.model.${inner}`, `model.language_model.${inner}`];
  }
  return [name, `language_model.${name}`]; // lm_head.weight
};

const gemma3Weights: readonly WeightRule[] = gemmaWeights.map((rule) => ({
  ...rule,
  checkpoint: (typeof rule.checkpoint === 'string' ? [rule.checkpoint] : rule.checkpoint).flatMap(multimodalNames),
}));

export const gemma3Family: ModelFamily = {
  family: 'gemma3',
  architectures: ['Gemma3ForCausalLM', 'Gemma3ForConditionalGeneration'],
  specFromConfig: gemma3SpecFromConfig,
  weights: gemma3Weights,
};
