/**
 * Sanity bounds on a ModelSpec, checked by every loader before anything is sized from
 * it. A config.json or checkpoint header is untrusted: num_hidden_layers 1e6 made the
 * parameter table alone take 21 s and 2 GB, max_position_embeddings 1e8 a 3 GB rotary
 * table. The bounds lie far above every released model; the weights then have to match
 * the spec exactly (hf-weights.ts, llama2c.ts), which is the real check.
 */
import { EngineError, type EngineErrorCode } from '../errors';
import { ropeTableRows, rotaryDim, type ModelSpec } from './spec';

export const SPEC_LIMITS = {
  dModel: 1 << 16,
  dMlp: 1 << 18,
  nLayers: 1024,
  nHeads: 1024,
  dHead: 1 << 12,
  dVocab: 1 << 22,
  nCtx: 1 << 22,
} as const;

/** The rotary cos and sin tables, rows * rotary dims * 4 bytes together, stay below this. */
const MAX_ROPE_TABLE_BYTES = 1 << 30;

/** EngineError(code) naming the first field of `spec` outside its bound. */
export function checkSpecBounds(spec: ModelSpec, file: string, code: EngineErrorCode): void {
  const fields: Array<[keyof typeof SPEC_LIMITS, string]> = [
    ['dModel', 'd_model (hidden size)'],
    ['dMlp', 'd_mlp (intermediate size)'],
    ['nLayers', 'n_layers'],
    ['nHeads', 'n_heads'],
    ['dHead', 'd_head'],
    ['dVocab', 'd_vocab (vocabulary size)'],
    ['nCtx', 'n_ctx (maximum positions)'],
  ];
  for (const [field, name] of fields) {
    const value = spec[field];
    const max = SPEC_LIMITS[field];
    if (!Number.isSafeInteger(value) || value < 1 || value > max) throw new EngineError(code, `${file}: ${name} is ${value}; Tiller loads models with 1..${max}`);
  }
  if (!Number.isSafeInteger(spec.nKvHeads) || spec.nKvHeads < 1 || spec.nKvHeads > spec.nHeads) {
    throw new EngineError(code, `${file}: n_kv_heads is ${spec.nKvHeads}; it must be 1..n_heads (${spec.nHeads})`);
  }
  const ropeBytes = ropeTableRows(spec) * rotaryDim(spec) * 4;
  if (ropeBytes > MAX_ROPE_TABLE_BYTES) {
    throw new EngineError(code, `${file}: n_ctx ${spec.nCtx} with d_head ${spec.dHead} needs ${ropeBytes} bytes of rotary tables, more than the ${MAX_ROPE_TABLE_BYTES} allowed`);
  }
  const tokenIds = [...(spec.bosTokenId === null ? [] : [spec.bosTokenId]), ...spec.eosTokenIds];
  const outside = tokenIds.find((id) => !Number.isSafeInteger(id) || id < 0 || id >= spec.dVocab);
  if (outside !== undefined) throw new EngineError(code, `${file}: special token id ${outside} is outside the vocabulary (d_vocab ${spec.dVocab})`);
  if (spec.eosTokenIds.length > 1024) throw new EngineError(code, `${file}: ${spec.eosTokenIds.length} EOS token ids; at most 1024 are read`);
}
