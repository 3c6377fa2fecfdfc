/**
 * GPT-2 family: GPT2LMHeadModel (GPT-2 small to XL, DistilGPT-2). Pre-norm decoder with
 * LayerNorm (gain and bias), learned position embeddings added to the token embedding,
 * multi-head attention scaled by 1/sqrt(d_head), a plain MLP c_fc -> gelu_new -> c_proj,
 * biases everywhere, and the head tied to the token embedding. Mirrors transformers'
 * `GPT2Config` defaults and `modeling_gpt2.py`: its Conv1D layers store weights as
 * [in_features, out_features], and c_attn fuses q, k and v along out_features.
 */
import { z } from 'zod';
import type { ModelSpec, Traits } from '../spec';
import { badConfig, llamaLikeTraits, type ModelFamily, parseConfig, positiveInt, specialTokens, tokenIds, unsupported, type WeightRule } from './family';

/** The config.json fields GPT-2 reads; other fields are ignored. */
const gpt2ConfigSchema = z.object({
  architectures: z.array(z.string()).min(1),
  n_embd: positiveInt,
  n_layer: positiveInt,
  n_head: positiveInt,
  n_inner: positiveInt.nullish(), // absent: 4 * n_embd
  n_positions: positiveInt,
  vocab_size: positiveInt,
  layer_norm_epsilon: z.number().positive().default(1e-5),
  activation_function: z.string().default('gelu_new'),
  tie_word_embeddings: z.boolean().default(true),
  scale_attn_weights: z.boolean().default(true),
  scale_attn_by_inverse_layer_idx: z.boolean().default(false),
  add_cross_attention: z.boolean().default(false),
  bos_token_id: tokenIds,
  eos_token_id: tokenIds,
});

/** transformers' ACT2FN names -> the graph's activations (gelu_new and gelu_pytorch_tanh are the same tanh approximation). */
const ACTIVATIONS: Record<string, Traits['activation']> = { gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh', gelu: 'gelu' };

function gpt2SpecFromConfig(raw: unknown, file: string): ModelSpec {
  const config = parseConfig(gpt2ConfigSchema, raw, file);
  const architecture = config.architectures[0];
  const activation = ACTIVATIONS[config.activation_function];
  if (!activation) throw unsupported(file, architecture, `activation_function "${config.activation_function}" (supported: ${Object.keys(ACTIVATIONS).join(', ')})`);
  if (!config.scale_attn_weights) throw unsupported(file, architecture, 'scale_attn_weights: false');
  if (config.scale_attn_by_inverse_layer_idx) throw unsupported(file, architecture, 'scale_attn_by_inverse_layer_idx: true');
  if (config.add_cross_attention) throw unsupported(file, architecture, 'add_cross_attention: true');
  if (config.n_embd % config.n_head !== 0) throw badConfig(file, `n_embd (${config.n_embd}) is not divisible by n_head (${config.n_head})`);
  const dHead = config.n_embd / config.n_head;
  return {
    family: 'gpt2',
    architecture,
    dModel: config.n_embd,
    nLayers: config.n_layer,
    nHeads: config.n_head,
    nKvHeads: config.n_head,
    dHead,
    dMlp: config.n_inner ?? 4 * config.n_embd,
    dVocab: config.vocab_size,
    nCtx: config.n_positions,
    normEps: config.layer_norm_epsilon,
    ropeTheta: 10000, // unused: positions are learned
    ropeScaling: null,
    tiedEmbeddings: config.tie_word_embeddings,
    ...specialTokens(config.bos_token_id, config.eos_token_id),
    // GPT2Attention scales by 1/sqrt(d_head) like Llama (scale_attn_weights, checked above).
    traits: { ...llamaLikeTraits(config.n_layer, dHead), norm: 'layer', positions: 'learned', mlp: 'plain', activation, qkvBias: true, oBias: true, mlpBias: true },
  };
}

/** GPT2LMHeadModel saves `transformer.`-prefixed names; the original checkpoints (GPT2Model) have none. */
const named = (name: string): string[] => [`transformer.${name}`, name];

/** q, k and v are thirds of c_attn's out_features (multi-head attention: equal widths). */
const third = (part: number) => (spec: ModelSpec) => [part * spec.dModel, spec.dModel] as const;

const gpt2Weights: readonly WeightRule[] = [
  { canonical: 'embed.weight', checkpoint: named('wte.weight') },
  { canonical: 'pos_embed.weight', checkpoint: named('wpe.weight') },
  { canonical: 'blocks.{i}.ln1.weight', checkpoint: named('h.{i}.ln_1.weight') },
  { canonical: 'blocks.{i}.ln1.bias', checkpoint: named('h.{i}.ln_1.bias') },
  ...(['q', 'k', 'v'] as const).flatMap((p, part): WeightRule[] => [
    { canonical: `blocks.{i}.attn.${p}_proj.weight`, checkpoint: named('h.{i}.attn.c_attn.weight'), conv1d: true, rows: third(part) },
    { canonical: `blocks.{i}.attn.${p}_proj.bias`, checkpoint: named('h.{i}.attn.c_attn.bias'), rows: third(part) },
  ]),
  { canonical: 'blocks.{i}.attn.o_proj.weight', checkpoint: named('h.{i}.attn.c_proj.weight'), conv1d: true },
  { canonical: 'blocks.{i}.attn.o_proj.bias', checkpoint: named('h.{i}.attn.c_proj.bias') },
  { canonical: 'blocks.{i}.ln2.weight', checkpoint: named('h.{i}.ln_2.weight') },
  { canonical: 'blocks.{i}.ln2.bias', checkpoint: named('h.{i}.ln_2.bias') },
  { canonical: 'blocks.{i}.mlp.up_proj.weight', checkpoint: named('h.{i}.mlp.c_fc.weight'), conv1d: true },
  { canonical: 'blocks.{i}.mlp.up_proj.bias', checkpoint: named('h.{i}.mlp.c_fc.bias') },
  { canonical: 'blocks.{i}.mlp.down_proj.weight', checkpoint: named('h.{i}.mlp.c_proj.weight'), conv1d: true },
  { canonical: 'blocks.{i}.mlp.down_proj.bias', checkpoint: named('h.{i}.mlp.c_proj.bias') },
  { canonical: 'ln_final.weight', checkpoint: named('ln_f.weight') },
  { canonical: 'ln_final.bias', checkpoint: named('ln_f.bias') },
  { canonical: 'unembed.weight', checkpoint: 'lm_head.weight' },
];

export const gpt2Family: ModelFamily = {
  family: 'gpt2',
  architectures: ['GPT2LMHeadModel'],
  specFromConfig: gpt2SpecFromConfig,
  weights: gpt2Weights,
};
