/**
 * The neuron atlas's disk cache: one safetensors file per layer, matrix and norm choice,
 * in the model's cache folder (cache-dir.ts: one folder per checkpoint fingerprint and
 * weight format, so another checkpoint or format never reads these). A file decoded with
 * more top tokens serves any smaller request. Python opens the files directly:
 *
 *   ids [d_mlp, k] (token ids as float32, exact below 2^24), logits [d_mlp, k],
 *   log_sum_exp [d_mlp], entropy [d_mlp]; metadata layer, matrix, final_norm, k, version.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors } from '../model/safetensors';
import { safetensorsBytes } from '../model/safetensors-write';
import { writeAtomically } from '../write-atomically';
import type { NeuronMatrix } from '../../../src-shared/analysis-schema';

const CACHE_VERSION = '1';

/** One layer's matrix decoded: per neuron the top k logits (highest first) and their token ids, the log-sum-exp and the entropy. */
export interface LayerDecoding {
  top: number;
  ids: Float32Array; // [d_mlp, top]
  logits: Float32Array; // [d_mlp, top]
  logSumExp: Float32Array; // [d_mlp]
  entropy: Float32Array; // [d_mlp]
}

export interface AtlasKey {
  layer: number;
  matrix: NeuronMatrix;
  finalNorm: boolean;
}

const fileOf = (folder: string, key: AtlasKey): string => join(folder, 'atlas', `L${key.layer}-${key.matrix}-${key.finalNorm ? 'norm' : 'raw'}.safetensors`);

/** The cached decoding with at least `top` tokens per neuron, cut to `top`; null when there is none (or it is damaged). */
export function readCachedDecoding(folder: string, key: AtlasKey, dMlp: number, top: number): LayerDecoding | null {
  const file = fileOf(folder, key);
  if (!existsSync(file)) return null;
  try {
    const reader = openSafetensors(file);
    try {
      const meta = reader.metadata;
      const k = Number(meta.k);
      const matches = meta.version === CACHE_VERSION && meta.layer === String(key.layer) && meta.matrix === key.matrix && meta.final_norm === String(key.finalNorm);
      if (!matches || !(k >= top) || reader.info('ids').shape.join() !== `${dMlp},${k}`) return null;
      const cut = (values: Float32Array): Float32Array => Float32Array.from({ length: dMlp * top }, (_, i) => values[Math.floor(i / top) * k + (i % top)]);
      return { top, ids: cut(reader.readRows('ids', 0, dMlp)), logits: cut(reader.readRows('logits', 0, dMlp)), logSumExp: reader.readRows('log_sum_exp', 0, dMlp), entropy: reader.readRows('entropy', 0, dMlp) };
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
  const bytes = safetensorsBytes(
    new Map([
      ['ids', tensor([dMlp, decoding.top], decoding.ids)],
      ['logits', tensor([dMlp, decoding.top], decoding.logits)],
      ['log_sum_exp', tensor([dMlp], decoding.logSumExp)],
      ['entropy', tensor([dMlp], decoding.entropy)],
    ]),
    { version: CACHE_VERSION, layer: String(key.layer), matrix: key.matrix, final_norm: String(key.finalNorm), k: String(decoding.top) },
  );
  writeAtomically(fileOf(folder, key), bytes);
}
