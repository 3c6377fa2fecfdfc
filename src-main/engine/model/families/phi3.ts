/**
 * Phi-3 family: Phi3ForCausalLM (Phi-3 / Phi-3.5 mini and medium, Phi-4-mini). Llama's
 * block (RMSNorm, rotary in rotate-half layout, SiLU-gated MLP, no biases) with q, k and v
 * fused in one qkv_proj and gate and up in one gate_up_proj (gate first, as
 * Phi3MLP's chunk(2) reads it); optionally partial rotary (partial_rotary_factor), LongRoPE
 * scaling (rope_scaling type "longrope", older configs "su" or "yarn", which
 * Phi3Config.convert_rope_params_to_dict renames to "longrope") and a sliding window.
 * Mirrors transformers' `Phi3Config` defaults and `modeling_phi3.py`.
 */
import { z } from 'zod';
import type { ModelSpec, RopeScaling } from '../spec';
import { badConfig, llamaStyleConfigSchema, llamaStyleSpec, type ModelFamily, parseConfig, positiveInt, tokenIds, unsupported, type WeightRule } from './family';

const factorList = z.array(z.number().positive()).min(1);

/** The config.json fields Phi-3 reads; other fields are ignored. Defaults are Phi3Config's. */
const phi3ConfigSchema = llamaStyleConfigSchema().extend({
  rms_norm_eps: z.number().positive().default(1e-5),
  bos_token_id: tokenIds.default(1),
  eos_token_id: tokenIds.default(32000),
  // The context the model was pretrained with: LongRoPE switches to its long factors past it.
  original_max_position_embeddings: positiveInt.default(4096),
  partial_rotary_factor: z.number().positive().max(1).default(1),
  sliding_window: positiveInt.nullish(),
  rope_scaling: z
    .object({
      rope_type: z.string().optional(),
      type: z.string().optional(),
      short_factor: factorList.optional(),
      long_factor: factorList.optional(),
      attention_factor: z.number().positive().optional(),
      original_max_position_embeddings: positiveInt.optional(),
    })
    .nullish(),
});
type Phi3Config = z.output<typeof phi3ConfigSchema>;

/**
 * rope_scaling as transformers' _compute_longrope_parameters reads it: short and long factors
 * (one per rotary frequency), the attention factor given or sqrt(1 + ln(s) / ln(original))
 * with s = max_position_embeddings / original_max_position_embeddings (1 when s <= 1).
 */
function phi3RopeScaling(config: Phi3Config, file: string, rotaryDim: number): RopeScaling | null {
  const raw = config.rope_scaling;
  if (raw == null) return null;
  const architecture = config.architectures[0];
  const kind = raw.rope_type ?? raw.type ?? 'default';
  if (kind === 'default') return null;
  if (!['longrope', 'su', 'yarn'].includes(kind)) throw unsupported(file, architecture, `rope_scaling type "${kind}" (supported: longrope, su, yarn)`);
  const factors = (list: number[] | undefined, field: string): number[] => {
    if (list === undefined) throw badConfig(file, `rope_scaling.${field} is required for rope_type "${kind}"`);
    if (list.length !== rotaryDim / 2) throw badConfig(file, `rope_scaling.${field} has ${list.length} values; the ${rotaryDim} rotary dims of a head need ${rotaryDim / 2}`);
    return list;
  };
  const original = raw.original_max_position_embeddings ?? config.original_max_position_embeddings;
  const scale = config.max_position_embeddings / original;
  return {
    type: 'longrope',
    shortFactor: factors(raw.short_factor, 'short_factor'),
    longFactor: factors(raw.long_factor, 'long_factor'),
    originalMaxPositions: original,
    attentionFactor: raw.attention_factor ?? (scale <= 1 ? 1 : Math.sqrt(1 + Math.log(scale) / Math.log(original))),
  };
}

function phi3SpecFromConfig(raw: unknown, file: string): ModelSpec {
  const config = parseConfig(phi3ConfigSchema, raw, file);
  const spec = llamaStyleSpec({ ...config, rope_scaling: null }, file, 'phi3', {});
  // Phi3RotaryEmbedding: int(head_dim * partial_rotary_factor) dims turn, the rest pass through.
  const rotaryDim = Math.floor(spec.dHead * config.partial_rotary_factor);
  if (rotaryDim < 2 || rotaryDim % 2 !== 0) throw badConfig(file, `partial_rotary_factor ${config.partial_rotary_factor} of head_dim ${spec.dHead} gives ${rotaryDim} rotary dims; it must be even and at least 2`);
  // A window no shorter than the context never hides a key (Phi-3-mini-128k's 262144).
  const window = config.sliding_window != null && config.sliding_window < config.max_position_embeddings ? config.sliding_window : null;
  return {
    ...spec,
    ropeScaling: phi3RopeScaling(config, file, rotaryDim),
    traits: { ...spec.traits, rotaryDim: rotaryDim === spec.dHead ? null : rotaryDim, slidingWindow: spec.traits.slidingWindow.map(() => window) },
  };
}

/** Rows of a fused tensor: q, k, v of qkv_proj ([q | k | v] along out_features), gate and up of gate_up_proj. */
const qRows = (spec: ModelSpec) => [0, spec.nHeads * spec.dHead] as const;
const kRows = (spec: ModelSpec) => [spec.nHeads * spec.dHead, spec.nKvHeads * spec.dHead] as const;
const vRows = (spec: ModelSpec) => [(spec.nHeads + spec.nKvHeads) * spec.dHead, spec.nKvHeads * spec.dHead] as const;
const gateRows = (spec: ModelSpec) => [0, spec.dMlp] as const;
const upRows = (spec: ModelSpec) => [spec.dMlp, spec.dMlp] as const;

const phi3Weights: readonly WeightRule[] = [
  { canonical: 'embed.weight', checkpoint: 'model.embed_tokens.weight' },
  { canonical: 'blocks.{i}.ln1.weight', checkpoint: 'model.layers.{i}.input_layernorm.weight' },
  { canonical: 'blocks.{i}.attn.q_proj.weight', checkpoint: 'model.layers.{i}.self_attn.qkv_proj.weight', rows: qRows },
  { canonical: 'blocks.{i}.attn.k_proj.weight', checkpoint: 'model.layers.{i}.self_attn.qkv_proj.weight', rows: kRows },
  { canonical: 'blocks.{i}.attn.v_proj.weight', checkpoint: 'model.layers.{i}.self_attn.qkv_proj.weight', rows: vRows },
  { canonical: 'blocks.{i}.attn.o_proj.weight', checkpoint: 'model.layers.{i}.self_attn.o_proj.weight' },
  { canonical: 'blocks.{i}.ln2.weight', checkpoint: 'model.layers.{i}.post_attention_layernorm.weight' },
  { canonical: 'blocks.{i}.mlp.gate_proj.weight', checkpoint: 'model.layers.{i}.mlp.gate_up_proj.weight', rows: gateRows },
  { canonical: 'blocks.{i}.mlp.up_proj.weight', checkpoint: 'model.layers.{i}.mlp.gate_up_proj.weight', rows: upRows },
  { canonical: 'blocks.{i}.mlp.down_proj.weight', checkpoint: 'model.layers.{i}.mlp.down_proj.weight' },
  { canonical: 'ln_final.weight', checkpoint: 'model.norm.weight' },
  { canonical: 'unembed.weight', checkpoint: 'lm_head.weight' },
];

export const phi3Family: ModelFamily = {
  family: 'phi3',
  architectures: ['Phi3ForCausalLM'],
  specFromConfig: phi3SpecFromConfig,
  weights: phi3Weights,
};
