/**
 * Gemma 2 family: Gemma2ForCausalLM. Llama's weight names and rotary attention, with:
 * the token embedding times sqrt(hidden_size); RMSNorm gains stored as w and applied as
 * (1 + w) (folded on read: addOne); norms before and after attention and the MLP
 * (input_layernorm, post_attention_layernorm, pre_feedforward_layernorm,
 * post_feedforward_layernorm); a GELU-tanh gated MLP; q.k scaled by
 * query_pre_attn_scalar^-0.5 and soft-capped (cap * tanh(s / cap), before the mask);
 * sliding-window blocks alternating with global ones; the logits soft-capped. Mirrors
 * transformers' `Gemma2Config` defaults and `modeling_gemma2.py`.
 */
import { z } from 'zod';
import type { ModelSpec, Traits } from '../spec';
import { llamaLikeTraits, llamaStyleShape, type ModelFamily, parseConfig, positiveInt, ropeScalingSchema, tokenIds, unsupported, type WeightRule } from './family';
import { llamaWeights } from './llama';

const layerType = z.enum(['sliding_attention', 'full_attention']);

/** The config.json fields Gemma 2 reads (Gemma 3 adds to them), with Gemma2Config's defaults; other fields are ignored. */
export const gemma2ConfigSchema = z.object({
  architectures: z.array(z.string()).min(1),
  vocab_size: positiveInt.default(256000),
  hidden_size: positiveInt.default(2304),
  intermediate_size: positiveInt.default(9216),
  num_hidden_layers: positiveInt.default(26),
  num_attention_heads: positiveInt.default(8),
  num_key_value_heads: positiveInt.default(4),
  head_dim: positiveInt.default(256),
  hidden_activation: z.string().default('gelu_pytorch_tanh'),
  max_position_embeddings: positiveInt.default(8192),
  rms_norm_eps: z.number().positive().default(1e-6),
  tie_word_embeddings: z.boolean().default(true),
  rope_theta: z.number().positive().default(10000),
  rope_scaling: ropeScalingSchema.nullish(),
  attention_bias: z.boolean().default(false),
  query_pre_attn_scalar: z.number().positive().default(256),
  sliding_window: positiveInt.nullable().default(4096),
  layer_types: z.array(layerType).nullish(),
  final_logit_softcapping: z.number().positive().nullable().default(30),
  attn_logit_softcapping: z.number().positive().nullable().default(50),
  use_bidirectional_attention: z.boolean().nullish(),
  bos_token_id: tokenIds.default(2),
  eos_token_id: tokenIds.default(1),
  // The dtype the checkpoint computes in (newer configs say `dtype`): the embedding's normalizer is rounded to it.
  torch_dtype: z.string().nullish(),
  dtype: z.string().nullish(),
});
type Gemma2Config = z.output<typeof gemma2ConfigSchema>;

/**
 * `value` rounded to the precision of a torch dtype (bfloat16: 8 significant bits,
 * float16: 11; nearest, ties to even), for values in their normal range. transformers
 * builds Gemma's normalizer as torch.tensor(hidden_size ** 0.5, dtype=<the model's dtype>),
 * so a bfloat16 Gemma 2 9B multiplies by 59.75, not 59.87: Tiller, computing in float32,
 * multiplies by what the checkpoint's own dtype gives.
 */
export function roundToDtype(value: number, dtype: string | null | undefined): number {
  const bits = dtype === 'bfloat16' ? 8 : dtype === 'float16' ? 11 : null;
  if (bits === null) return Math.fround(value);
  const ulp = 2 ** (Math.floor(Math.log2(value)) - (bits - 1));
  const units = value / ulp;
  const floor = Math.floor(units);
  const up = units - floor > 0.5 || (units - floor === 0.5 && floor % 2 === 1);
  return (up ? floor + 1 : floor) * ulp;
}

/** transformers' ACT2FN names of the tanh-approximated GELU Gemma uses (and the exact one). */
const ACTIVATIONS: Record<string, Traits['activation']> = { gelu_pytorch_tanh: 'gelu_tanh', gelu_new: 'gelu_tanh', gelu: 'gelu' };

/**
 * The spec of a Gemma 2 or 3 text config: everything they share. `defaultSliding(i)` says
 * whether block i is a sliding-window block when the config has no layer_types.
 */
export function gemmaSpec(config: Gemma2Config, file: string, family: 'gemma2' | 'gemma3', defaultSliding: (layer: number) => boolean, traits: Partial<Traits>): ModelSpec {
  const architecture = config.architectures[0];
  const activation = ACTIVATIONS[config.hidden_activation];
  if (!activation) throw unsupported(file, architecture, `hidden_activation "${config.hidden_activation}" (supported: ${Object.keys(ACTIVATIONS).join(', ')})`);
  if (config.use_bidirectional_attention) throw unsupported(file, architecture, 'use_bidirectional_attention: true');
  const nLayers = config.num_hidden_layers;
  if (config.layer_types && config.layer_types.length !== nLayers) throw unsupported(file, architecture, `${config.layer_types.length} layer_types for ${nLayers} layers`);
  const sliding = (layer: number): boolean => (config.layer_types ? config.layer_types[layer] === 'sliding_attention' : defaultSliding(layer));
  const shape = llamaStyleShape(config, file, family);
  return {
    ...shape,
    traits: {
      ...llamaLikeTraits(nLayers, shape.dHead),
      normOffset: 1,
      sandwichNorms: true,
      activation,
      qkvBias: config.attention_bias,
      oBias: config.attention_bias,
      embedScale: roundToDtype(Math.sqrt(config.hidden_size), config.dtype ?? config.torch_dtype),
      attnScale: config.query_pre_attn_scalar ** -0.5,
      attnSoftcap: config.attn_logit_softcapping,
      finalSoftcap: config.final_logit_softcapping,
      // A null sliding_window leaves every block global.
      slidingWindow: Array.from({ length: nLayers }, (_, layer) => (sliding(layer) ? config.sliding_window : null)),
      ...traits,
    },
  };
}

function gemma2SpecFromConfig(raw: unknown, file: string): ModelSpec {
  const config = parseConfig(gemma2ConfigSchema, raw, file);
  // Gemma2Config: layer i is "sliding_attention" when (i + 1) % 2, i.e. blocks 0, 2, 4, ... are local.
  return gemmaSpec(config, file, 'gemma2', (layer) => (layer + 1) % 2 === 1, {});
}

/** Every Gemma RMSNorm gain is stored as w and applied as 1 + w. */
const gain = (canonical: string, checkpoint: string): WeightRule => ({ canonical, checkpoint, addOne: true });

/**
 * Llama's names for the projections and the embedding (lm_head only when untied); the
 * norms renamed and +1 folded in. Shared with Gemma 3 (q_norm / k_norm).
 */
export const gemmaWeights: readonly WeightRule[] = [
  gain('blocks.{i}.ln1.weight', 'model.layers.{i}.input_layernorm.weight'),
  gain('blocks.{i}.ln1_post.weight', 'model.layers.{i}.post_attention_layernorm.weight'),
  gain('blocks.{i}.ln2.weight', 'model.layers.{i}.pre_feedforward_layernorm.weight'),
  gain('blocks.{i}.ln2_post.weight', 'model.layers.{i}.post_feedforward_layernorm.weight'),
  gain('blocks.{i}.attn.q_norm.weight', 'model.layers.{i}.self_attn.q_norm.weight'),
  gain('blocks.{i}.attn.k_norm.weight', 'model.layers.{i}.self_attn.k_norm.weight'),
  gain('ln_final.weight', 'model.norm.weight'),
  // The first matching rule wins (family.ts resolveWeight): the gains above shadow Llama's.
  ...llamaWeights,
];

export const gemma2Family: ModelFamily = {
  family: 'gemma2',
  architectures: ['Gemma2ForCausalLM'],
  specFromConfig: gemma2SpecFromConfig,
  weights: gemmaWeights,
};
