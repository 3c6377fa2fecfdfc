/**
 * The normalised description of a model that everything after loading works from.
 * Family quirks are resolved into these fields by the family file
 * (engine/model/families/*.ts); nothing downstream branches on architecture names.
 */

export type RopeScaling =
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }
  | { type: 'linear'; factor: number }
  /**
   * Phi-3's LongRoPE (transformers' _compute_longrope_parameters): frequency j is divided by
   * shortFactor[j] while the sequence is at most originalMaxPositions long and by
   * longFactor[j] once it is longer (every position then, cached ones included); cos and
   * sin are multiplied by attentionFactor either way.
   */
  | { type: 'longrope'; shortFactor: number[]; longFactor: number[]; originalMaxPositions: number; attentionFactor: number };

/** The families a config can dispatch to (model/config.ts); each has one file in families/. */
export type FamilyId = 'llama' | 'mistral' | 'gpt2' | 'qwen2' | 'qwen3' | 'gemma2' | 'gemma3' | 'phi3';

/**
 * How a family's block differs from the others, as data: the shared graph
 * (graph/forward.ts), the parameter list below, the hook catalogue (hooks/names.ts) and
 * the test reference forward pass all read these, never the family's name.
 */
export interface Traits {
  /** RMSNorm (x / rms * g) or LayerNorm ((x - mean) / std * g + b). */
  norm: 'rms' | 'layer';
  /**
   * Gemma's RMSNorm applies (1 + w): the checkpoint gain is w, so the family's weight
   * table adds 1 on read and the graph sees an ordinary gain. Recorded for display.
   */
  normOffset: 0 | 1;
  /** Rotary embeddings on q/k (rotate-half layout), or a learned position table added to the embedding. */
  positions: 'rotary' | 'learned';
  /** Gated MLP: down(act(gate(x)) * up(x)); plain: down(act(up(x))). */
  mlp: 'gated' | 'plain';
  /** silu; gelu (erf); gelu_tanh (GPT-2's gelu_new, Gemma's gelu_pytorch_tanh). */
  activation: 'silu' | 'gelu' | 'gelu_tanh';
  /** Biases of q/k/v, of o, and of the MLP projections. */
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  /** Per-head RMSNorm of q and k before rotary (Qwen3, Gemma 3): attn.q_norm / attn.k_norm, [d_head] gains. */
  qkNorm: boolean;
  /** Norms after attention and after the MLP, before each residual add (Gemma 2/3): ln1_post, ln2_post. */
  sandwichNorms: boolean;
  /** The token embedding is multiplied by this (Gemma: sqrt(d_model)); 1 elsewhere. */
  embedScale: number;
  /** q.k is multiplied by this: 1/sqrt(d_head), or Gemma's query_pre_attn_scalar^-0.5. */
  attnScale: number;
  /** Attention scores become cap * tanh(scores / cap) before the mask (Gemma 2); null: none. */
  attnSoftcap: number | null;
  /** Logits become cap * tanh(logits / cap) (Gemma 2); null: none. */
  finalSoftcap: number | null;
  /** Per block: attend only to the last N positions (Mistral, Gemma local layers); null: full causal. */
  slidingWindow: (number | null)[];
  /** Rotary base of the sliding-window blocks when it differs from ropeTheta (Gemma 3's local base); null: ropeTheta. */
  ropeLocalTheta: number | null;
  /** Rotary embeddings turn only the first rotaryDim dims of each head (partial_rotary_factor); null: all d_head. */
  rotaryDim: number | null;
}

export interface ModelSpec {
  /** Which family file read the config. Nothing after loading branches on it: the traits say how to build. */
  family: FamilyId;
  /** The architecture named by the checkpoint, e.g. "LlamaForCausalLM" (shown to users). */
  architecture: string;
  dModel: number; // residual stream width
  nLayers: number;
  nHeads: number; // query heads
  nKvHeads: number; // key/value heads (grouped-query attention when < nHeads)
  dHead: number; // per-head width (not always dModel / nHeads)
  dMlp: number; // MLP hidden width
  dVocab: number;
  nCtx: number; // maximum positions the model was trained for
  normEps: number; // RMSNorm / LayerNorm epsilon
  ropeTheta: number; // unused with learned positions
  ropeScaling: RopeScaling | null;
  tiedEmbeddings: boolean; // unembedding shares the token embedding matrix
  bosTokenId: number | null;
  eosTokenIds: number[];
  traits: Traits;
}

/**
 * Canonical parameter names, shared by every family. Linear weights keep the
 * Hugging Face [out_features, in_features] layout; a bias is its weight's name with
 * `.bias` (paramName.bias). Which ones a model has follows from its traits (expectedParams).
 *
 *   embed.weight                      [d_vocab, d_model]
 *   pos_embed.weight                  [n_ctx, d_model]                 learned positions
 *   blocks.{i}.ln1.weight             [d_model]   (+ .bias with LayerNorm)
 *   blocks.{i}.attn.q_proj.weight     [n_heads * d_head, d_model]      (rotate-half rotary layout; + .bias with qkvBias)
 *   blocks.{i}.attn.k_proj.weight     [n_kv_heads * d_head, d_model]
 *   blocks.{i}.attn.v_proj.weight     [n_kv_heads * d_head, d_model]
 *   blocks.{i}.attn.q_norm.weight     [d_head]                         qkNorm
 *   blocks.{i}.attn.k_norm.weight     [d_head]                         qkNorm
 *   blocks.{i}.attn.o_proj.weight     [d_model, n_heads * d_head]      (+ .bias with oBias)
 *   blocks.{i}.ln1_post.weight        [d_model]                        sandwichNorms
 *   blocks.{i}.ln2.weight             [d_model]   (+ .bias with LayerNorm)
 *   blocks.{i}.mlp.gate_proj.weight   [d_mlp, d_model]                 gated MLP
 *   blocks.{i}.mlp.up_proj.weight     [d_mlp, d_model]                 (+ .bias with mlpBias, as gate and down)
 *   blocks.{i}.mlp.down_proj.weight   [d_model, d_mlp]
 *   blocks.{i}.ln2_post.weight        [d_model]                        sandwichNorms
 *   ln_final.weight                   [d_model]   (+ .bias with LayerNorm)
 *   unembed.weight                    [d_vocab, d_model]  (absent when tiedEmbeddings)
 */
export const paramName = {
  embed: () => 'embed.weight',
  posEmbed: () => 'pos_embed.weight',
  ln1: (layer: number) => `blocks.${layer}.ln1.weight`,
  q: (layer: number) => `blocks.${layer}.attn.q_proj.weight`,
  k: (layer: number) => `blocks.${layer}.attn.k_proj.weight`,
  v: (layer: number) => `blocks.${layer}.attn.v_proj.weight`,
  qNorm: (layer: number) => `blocks.${layer}.attn.q_norm.weight`,
  kNorm: (layer: number) => `blocks.${layer}.attn.k_norm.weight`,
  o: (layer: number) => `blocks.${layer}.attn.o_proj.weight`,
  ln1Post: (layer: number) => `blocks.${layer}.ln1_post.weight`,
  ln2: (layer: number) => `blocks.${layer}.ln2.weight`,
  gate: (layer: number) => `blocks.${layer}.mlp.gate_proj.weight`,
  up: (layer: number) => `blocks.${layer}.mlp.up_proj.weight`,
  down: (layer: number) => `blocks.${layer}.mlp.down_proj.weight`,
  ln2Post: (layer: number) => `blocks.${layer}.ln2_post.weight`,
  lnFinal: () => 'ln_final.weight',
  unembed: () => 'unembed.weight',
  /** The bias beside a weight: 'blocks.0.attn.q_proj.weight' -> 'blocks.0.attn.q_proj.bias'. */
  bias: (weight: string) => weight.replace(/\.weight$/, '.bias'),
} as const;

/** The dims of each head that rotary embeddings turn (even; d_head unless partial). */
export const rotaryDim = (spec: ModelSpec): number => spec.traits.rotaryDim ?? spec.dHead;

/**
 * Rows of the rotary cos/sin tables: one per position, plus, for LongRoPE, the short-factor
 * rows of the positions before originalMaxPositions ahead of them (graph/rope.ts).
 */
export function ropeTableRows(spec: ModelSpec): number {
  return spec.ropeScaling?.type === 'longrope' ? spec.ropeScaling.originalMaxPositions + spec.nCtx : spec.nCtx;
}

/** Every canonical parameter a spec needs, with its expected shape, in forward-pass order. */
export function expectedParams(spec: ModelSpec): Map<string, number[]> {
  const { dModel, dHead, nHeads, nKvHeads, dMlp, dVocab, traits } = spec;
  const params = new Map<string, number[]>();
  const withBias = (name: string, shape: number[], bias: boolean): void => {
    params.set(name, shape);
    if (bias) params.set(paramName.bias(name), [shape[0]]);
  };
  const norm = (name: string): void => withBias(name, [dModel], traits.norm === 'layer');
  params.set(paramName.embed(), [dVocab, dModel]);
  if (traits.positions === 'learned') params.set(paramName.posEmbed(), [spec.nCtx, dModel]);
  for (let layer = 0; layer < spec.nLayers; layer++) {
    norm(paramName.ln1(layer));
    withBias(paramName.q(layer), [nHeads * dHead, dModel], traits.qkvBias);
    withBias(paramName.k(layer), [nKvHeads * dHead, dModel], traits.qkvBias);
    withBias(paramName.v(layer), [nKvHeads * dHead, dModel], traits.qkvBias);
    if (traits.qkNorm) {
      params.set(paramName.qNorm(layer), [dHead]);
      params.set(paramName.kNorm(layer), [dHead]);
    }
    withBias(paramName.o(layer), [dModel, nHeads * dHead], traits.oBias);
    if (traits.sandwichNorms) norm(paramName.ln1Post(layer));
    norm(paramName.ln2(layer));
    if (traits.mlp === 'gated') withBias(paramName.gate(layer), [dMlp, dModel], traits.mlpBias);
    withBias(paramName.up(layer), [dMlp, dModel], traits.mlpBias);
    withBias(paramName.down(layer), [dModel, dMlp], traits.mlpBias);
    if (traits.sandwichNorms) norm(paramName.ln2Post(layer));
  }
  norm(paramName.lnFinal());
  if (!spec.tiedEmbeddings) params.set(paramName.unembed(), [dVocab, dModel]);
  return params;
}

/** The distinct sliding-window sizes of a model's blocks, ascending (each gets its own attention mask). */
export function slidingWindows(spec: ModelSpec): number[] {
  return [...new Set(spec.traits.slidingWindow.filter((window): window is number => window !== null))].sort((a, b) => a - b);
}

/** Source dtypes a checkpoint may store; everything is converted to float32 on read. */
export type SourceDtype = 'F32' | 'F16' | 'BF16';

export interface TensorInfo {
  shape: number[];
  dtype: SourceDtype;
}

/**
 * Read access to a checkpoint's weights under canonical names. Reads are per tensor,
 * so converting a large model never holds more than one tensor in memory at a time.
 */
export interface WeightSource {
  /** Files the weights come from (for fingerprints and error messages). */
  readonly files: string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  /** The tensor as float32, in a fresh array the caller owns (at most 4 GiB: larger ones are read in rows). */
  read(name: string): Float32Array;
  /**
   * Rows [first, first + count) of the tensor (along its first dimension) as float32, in a
   * fresh array: converting a tensor a few rows at a time never holds it whole.
   */
  readRows(name: string, first: number, count: number): Float32Array;
  close(): void;
}

/** Rows of a tensor: its first dimension (1 for a scalar). */
export const rowCount = (info: TensorInfo): number => (info.shape.length === 0 ? 1 : info.shape[0]);

/**
 * A tensor in pieces of whole rows, each at most about `maxBytes` of float32 (at least
 * one row), with the index of its first row: the streaming form of WeightSource.read.
 */
export function* rowChunks(source: WeightSource, name: string, maxBytes: number): Generator<{ first: number; rows: Float32Array }> {
  const info = source.info(name);
  const total = rowCount(info);
  const rowBytes = 4 * info.shape.slice(1).reduce((product, dim) => product * dim, 1);
  const step = Math.max(1, Math.floor(maxBytes / Math.max(1, rowBytes)));
  for (let first = 0; first < total; first += step) yield { first, rows: source.readRows(name, first, Math.min(step, total - first)) };
}
