/**
 * What a family file provides to the shared loader, and the helpers family files share.
 * config.ts (the one dispatcher) picks a family by `architectures[0]` from its table, so
 * adding a family means adding a file and a table row, not a branch in shared code.
 */
import { z } from 'zod';
import { EngineError } from '../../errors';
import type { FamilyId, ModelSpec, RopeScaling, Traits } from '../spec';

export interface ModelFamily {
  family: FamilyId;
  /** Values of config.json `architectures[0]` this family builds. */
  architectures: readonly string[];
  /** Parse a config.json object (`file` is named in errors) into a spec whose traits say how to build it. */
  specFromConfig(config: unknown, file: string): ModelSpec;
  /** Where each canonical parameter (spec.ts paramName) comes from in a checkpoint. */
  weights: readonly WeightRule[];
}

/**
 * One row of a family's weight table. `{i}` stands for a block index in both names.
 * Transforms apply in this order: conv1d transpose, then the row slice, then addOne.
 */
export interface WeightRule {
  canonical: string;
  /** The checkpoint tensor; several spellings are tried in order (e.g. with and without a `transformer.` prefix). */
  checkpoint: string | readonly string[];
  /** GPT-2's Conv1D stores [in_features, out_features]: transposed on read to the canonical [out, in]. */
  conv1d?: boolean;
  /** Rows [start, start + count) of a fused tensor (fused q/k/v, gate/up), given the spec's sizes. */
  rows?: (spec: ModelSpec) => readonly [start: number, count: number];
  /** The gain is stored as w and applied as 1 + w (Gemma's RMSNorm): add 1 on read. */
  addOne?: boolean;
}

/** A resolved weight rule: one checkpoint tensor and what to do to it. */
export interface TensorRef {
  tensor: string;
  conv1d: boolean;
  rows: readonly [number, number] | null;
  addOne: boolean;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The checkpoint tensor a canonical parameter comes from, or null when the table has no
 * rule for it. `has` says which tensors the checkpoint holds (for alternative spellings).
 */
export function resolveWeight(family: ModelFamily, canonical: string, spec: ModelSpec, has: (tensor: string) => boolean): TensorRef | null {
  for (const rule of family.weights) {
    const match = new RegExp(`^${escape(rule.canonical).replace('\\{i\\}', '(\\d+)')}$`).exec(canonical);
    if (!match) continue;
    const names = (typeof rule.checkpoint === 'string' ? [rule.checkpoint] : rule.checkpoint).map((name) => name.replace('{i}', match[1] ?? ''));
    return { tensor: names.find(has) ?? names[0], conv1d: rule.conv1d ?? false, rows: rule.rows?.(spec) ?? null, addOne: rule.addOne ?? false };
  }
  return null;
}

/** Validate a config against a family schema; failures list every offending field path. */
export function parseConfig<Schema extends z.ZodType>(schema: Schema, config: unknown, file: string): z.output<Schema> {
  const result = schema.safeParse(config);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new EngineError('bad_config', `${file}: invalid config (${problems.join('; ')})`, { fields: problems });
}

export const badConfig = (file: string, problem: string) => new EngineError('bad_config', `${file}: ${problem}`);

export const unsupported = (file: string, architecture: string, feature: string) =>
  new EngineError('unsupported_architecture', `${file}: ${architecture} with ${feature} is not supported`);

// ---------------------------------------------------------------------------
// Config pieces several families share

export const positiveInt = z.number().int().positive();
const tokenId = z.number().int().nonnegative();
export const tokenIds = z.union([tokenId, z.array(tokenId)]).nullish();

/** BOS (a list-valued bos_token_id is rare; its first entry is the one prepended) and the EOS list. */
export function specialTokens(bos: z.output<typeof tokenIds>, eos: z.output<typeof tokenIds>): Pick<ModelSpec, 'bosTokenId' | 'eosTokenIds'> {
  return {
    bosTokenId: Array.isArray(bos) ? (bos[0] ?? null) : (bos ?? null),
    eosTokenIds: Array.isArray(eos) ? eos : eos == null ? [] : [eos],
  };
}

/** The traits of a plain pre-norm rotary decoder (Llama); families override what differs. */
export function llamaLikeTraits(nLayers: number, dHead: number): Traits {
  return {
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
    attnScale: 1 / Math.sqrt(dHead),
    attnSoftcap: null,
    finalSoftcap: null,
    slidingWindow: Array.from({ length: nLayers }, () => null),
    ropeLocalTheta: null,
    rotaryDim: null,
  };
}

/** Query and KV head counts and the head width, checked (rotary needs an even head width). */
export function attentionHeads(
  config: { hidden_size: number; num_attention_heads: number; num_key_value_heads?: number | null; head_dim?: number | null },
  file: string,
): Pick<ModelSpec, 'nHeads' | 'nKvHeads' | 'dHead'> {
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
  return { nHeads, nKvHeads, dHead };
}

/**
 * The config.json fields every Llama-style family reads (LlamaConfig, Qwen2Config,
 * Qwen3Config share them and their defaults); families extend it with their own.
 */
export function llamaStyleConfigSchema() {
  return z.object({
    architectures: z.array(z.string()).min(1),
    hidden_size: positiveInt,
    intermediate_size: positiveInt,
    num_hidden_layers: positiveInt,
    num_attention_heads: positiveInt,
    num_key_value_heads: positiveInt.nullish(), // absent: plain multi-head attention
    head_dim: positiveInt.nullish(), // absent: hidden_size / num_attention_heads
    vocab_size: positiveInt,
    max_position_embeddings: positiveInt,
    rms_norm_eps: z.number().positive().default(1e-6), // LlamaConfig's, Qwen2Config's and Qwen3Config's default
    rope_theta: z.number().positive().default(10000),
    rope_scaling: ropeScalingSchema.nullish(),
    tie_word_embeddings: z.boolean().default(false),
    hidden_act: z.string().default('silu'),
    bos_token_id: tokenIds,
    eos_token_id: tokenIds,
  });
}
type LlamaStyleConfig = z.output<ReturnType<typeof llamaStyleConfigSchema>>;

/** Everything but the traits of a config in Llama's field names (Gemma's configs use them too). */
export function llamaStyleShape(config: Omit<LlamaStyleConfig, 'hidden_act'>, file: string, family: FamilyId): Omit<ModelSpec, 'traits'> {
  const architecture = config.architectures[0];
  return {
    family,
    architecture,
    dModel: config.hidden_size,
    nLayers: config.num_hidden_layers,
    ...attentionHeads(config, file),
    dMlp: config.intermediate_size,
    dVocab: config.vocab_size,
    nCtx: config.max_position_embeddings,
    normEps: config.rms_norm_eps,
    ropeTheta: config.rope_theta,
    ropeScaling: ropeScalingFrom(config.rope_scaling, file, architecture),
    tiedEmbeddings: config.tie_word_embeddings,
    ...specialTokens(config.bos_token_id, config.eos_token_id),
  };
}

/** The spec of a Llama-style config: Llama's traits with the family's on top. */
export function llamaStyleSpec(config: LlamaStyleConfig, file: string, family: FamilyId, traits: Partial<Traits>): ModelSpec {
  if (config.hidden_act !== 'silu') throw unsupported(file, config.architectures[0], `hidden_act "${config.hidden_act}"`);
  const shape = llamaStyleShape(config, file, family);
  return { ...shape, traits: { ...llamaLikeTraits(config.num_hidden_layers, shape.dHead), ...traits } };
}

export const ropeScalingSchema = z.object({
  // Older configs spell the kind `type`, newer ones `rope_type`.
  rope_type: z.string().optional(),
  type: z.string().optional(),
  factor: z.number().positive().optional(),
  low_freq_factor: z.number().positive().optional(),
  high_freq_factor: z.number().positive().optional(),
  original_max_position_embeddings: positiveInt.optional(),
});

/** transformers' rope_scaling kinds Tiller builds (rope.ts): llama3 and linear; 'default' is none. */
export function ropeScalingFrom(raw: z.output<typeof ropeScalingSchema> | null | undefined, file: string, architecture: string): RopeScaling | null {
  if (raw == null) return null;
  const kind = raw.rope_type ?? raw.type;
  if (kind === undefined) throw badConfig(file, 'rope_scaling has neither rope_type nor type');
  if (kind === 'default') return null;
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
