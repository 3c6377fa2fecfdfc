/**
 * The normalised description of a model that everything after loading works from.
 * Family quirks are resolved into these fields by the family file
 * (engine/model/families/*.ts); nothing downstream branches on architecture names.
 */

export type RopeScaling =
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }
  | { type: 'linear'; factor: number };

export interface ModelSpec {
  /** Which graph family file builds this model. */
  family: 'llama';
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
  normEps: number; // RMSNorm epsilon
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  tiedEmbeddings: boolean; // unembedding shares the token embedding matrix
  bosTokenId: number | null;
  eosTokenIds: number[];
}

/**
 * Canonical parameter names, shared by every family. Linear weights keep the
 * Hugging Face [out_features, in_features] layout.
 *
 *   embed.weight                      [d_vocab, d_model]
 *   blocks.{i}.ln1.weight             [d_model]
 *   blocks.{i}.attn.q_proj.weight     [n_heads * d_head, d_model]   (rotate-half rotary layout)
 *   blocks.{i}.attn.k_proj.weight     [n_kv_heads * d_head, d_model]
 *   blocks.{i}.attn.v_proj.weight     [n_kv_heads * d_head, d_model]
 *   blocks.{i}.attn.o_proj.weight     [d_model, n_heads * d_head]
 *   blocks.{i}.ln2.weight             [d_model]
 *   blocks.{i}.mlp.gate_proj.weight   [d_mlp, d_model]
 *   blocks.{i}.mlp.up_proj.weight     [d_mlp, d_model]
 *   blocks.{i}.mlp.down_proj.weight   [d_model, d_mlp]
 *   ln_final.weight                   [d_model]
 *   unembed.weight                    [d_vocab, d_model]  (absent when tiedEmbeddings)
 */
export const paramName = {
  embed: () => 'embed.weight',
  ln1: (layer: number) => `blocks.${layer}.ln1.weight`,
  q: (layer: number) => `blocks.${layer}.attn.q_proj.weight`,
  k: (layer: number) => `blocks.${layer}.attn.k_proj.weight`,
  v: (layer: number) => `blocks.${layer}.attn.v_proj.weight`,
  o: (layer: number) => `blocks.${layer}.attn.o_proj.weight`,
  ln2: (layer: number) => `blocks.${layer}.ln2.weight`,
  gate: (layer: number) => `blocks.${layer}.mlp.gate_proj.weight`,
  up: (layer: number) => `blocks.${layer}.mlp.up_proj.weight`,
  down: (layer: number) => `blocks.${layer}.mlp.down_proj.weight`,
  lnFinal: () => 'ln_final.weight',
  unembed: () => 'unembed.weight',
} as const;

/** Every canonical parameter a spec needs, with its expected shape. */
export function expectedParams(spec: ModelSpec): Map<string, number[]> {
  const { dModel, dHead, nHeads, nKvHeads, dMlp, dVocab } = spec;
  const params = new Map<string, number[]>();
  params.set(paramName.embed(), [dVocab, dModel]);
  for (let layer = 0; layer < spec.nLayers; layer++) {
    params.set(paramName.ln1(layer), [dModel]);
    params.set(paramName.q(layer), [nHeads * dHead, dModel]);
    params.set(paramName.k(layer), [nKvHeads * dHead, dModel]);
    params.set(paramName.v(layer), [nKvHeads * dHead, dModel]);
    params.set(paramName.o(layer), [dModel, nHeads * dHead]);
    params.set(paramName.ln2(layer), [dModel]);
    params.set(paramName.gate(layer), [dMlp, dModel]);
    params.set(paramName.up(layer), [dMlp, dModel]);
    params.set(paramName.down(layer), [dModel, dMlp]);
  }
  params.set(paramName.lnFinal(), [dModel]);
  if (!spec.tiedEmbeddings) params.set(paramName.unembed(), [dVocab, dModel]);
  return params;
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
