/**
 * The neuron atlas's disk cache: one safetensors file per layer, matrix, norm choice and ranking,
 * in the model's cache folder (cache-dir.ts: one folder per checkpoint fingerprint and
 * weight format, so another checkpoint or format never reads these). A file decoded with
 * more top tokens serves any smaller request. Python opens the files directly:
 *
 *   ids [d_mlp, k] (token ids as float32, exact below 2^24), logits [d_mlp, k],
 *   log_sum_exp [d_mlp], entropy [d_mlp]; metadata layer, matrix, final_norm, k, version;
 *   ranked by z-score (file name ending -zscore, metadata normalise): also scores [d_mlp, k]
 *   (the kept tokens' z-scores) and token_mean, token_std [d_vocab] (each token's logit
 *   over the layer's neurons).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors } from '../model/safetensors';
import { safetensorsBytes } from '../model/safetensors-write';
import { writeAtomically } from '../write-atomically';
import type { AtlasRanking, NeuronMatrix } from '../../../src-shared/analysis-schema';

const CACHE_VERSION = '1';

/** Each token's logit over a layer's neurons: mean and standard deviation, [d_vocab] each. */
export interface TokenStats {
  mean: Float32Array;
  std: Float32Array;
}

/**
 * One layer's matrix decoded: per neuron the top k tokens (highest logit first, or highest
 * z-score with `scores` and the `stats` they came from) with their logits, the log-sum-exp and the entropy.
 */
export interface LayerDecoding {
  top: number;
  ids: Float32Array; // [d_mlp, top]
  logits: Float32Array; // [d_mlp, top]
  logSumExp: Float32Array; // [d_mlp]
  entropy: Float32Array; // [d_mlp]
  ranked: { scores: Float32Array; stats: TokenStats } | null; // scores [d_mlp, top]
}

export interface AtlasKey {
  layer: number;
  matrix: NeuronMatrix;
  finalNorm: boolean;
  normalise: AtlasRanking;
}

const fileOf = (folder: string, key: AtlasKey): string =>
  join(folder, 'atlas', `L${key.layer}-${key.matrix}-${key.finalNorm ? 'norm' : 'raw'}${key.normalise === 'none' ? '' : `-${key.normalise}`}.safetensors`);

/** The cached decoding with at least `top` tokens per neuron, cut to `top`; null when there is none (or it is damaged). */
export function readCachedDecoding(folder: string, key: AtlasKey, dMlp: number, top: number): LayerDecoding | null {
  const file = fileOf(folder, key);
  if (!existsSync(file)) return null;
  try {
    const reader = openSafetensors(file);
    try {
      const meta = reader.metadata;
      const k = Number(meta.k);
      const matches =
        meta.version === CACHE_VERSION && meta.layer === String(key.layer) && meta.matrix === key.matrix && meta.final_norm === String(key.finalNorm) && (meta.normalise ?? 'none') === key.normalise;
      if (!matches || !(k >= top) || reader.info('ids').shape.join() !== `${dMlp},${k}`) return null;
      const cut = (values: Float32Array): Float32Array => Float32Array.from({ length: dMlp * top }, (_, i) => values[Math.floor(i / top) * k + (i % top)]);
      const whole = (name: string): Float32Array => reader.readRows(name, 0, reader.info(name).shape[0]);
      const ranked = key.normalise === 'none' ? null : { scores: cut(reader.readRows('scores', 0, dMlp)), stats: { mean: whole('token_mean'), std: whole('token_std') } };
      return { top, ids: cut(reader.readRows('ids', 0, dMlp)), logits: cut(reader.readRows('logits', 0, dMlp)), logSumExp: reader.readRows('log_sum_exp', 0, dMlp), entropy: reader.readRows('entropy', 0, dMlp), ranked };
    } finally {
      reader.close();
    }
  } catch {
    return null; // a damaged cache file is decoded again, not reported
  }
}

export function writeCachedDecoding(folder: string, key: AtlasKey, decoding: LayerDecoding): void {
  const dMlp = decoding.logSumExp.length;
  mkdirSync(join(folder, 'atlas'), { recursive: true });
  const tensor = (shape: number[], data: Float32Array) => ({ shape, data });
  const { ranked } = decoding;
  const tensors = new Map([
    ['ids', tensor([dMlp, decoding.top], decoding.ids)],
    ['logits', tensor([dMlp, decoding.top], decoding.logits)],
    ['log_sum_exp', tensor([dMlp], decoding.logSumExp)],
    ['entropy', tensor([dMlp], decoding.entropy)],
  ]);
  if (ranked) {
    tensors.set('scores', tensor([dMlp, decoding.top], ranked.scores));
    tensors.set('token_mean', tensor([ranked.stats.mean.length], ranked.stats.mean));
    tensors.set('token_std', tensor([ranked.stats.std.length], ranked.stats.std));
  }
  const bytes = safetensorsBytes(tensors, { version: CACHE_VERSION, layer: String(key.layer), matrix: key.matrix, final_norm: String(key.finalNorm), normalise: key.normalise, k: String(decoding.top) });
  writeAtomically(fileOf(folder, key), bytes);
}
