/**
 * SAELens SAE folders: `cfg.json` + `sae_weights.safetensors` (interchange/saelens holds
 * the fields SAELens reads for real SAEs). Weights, per SAELens's StandardSAE / TopK /
 * JumpReLU:
 *
 *   W_enc [d_in, d_sae]   b_enc [d_sae]   W_dec [d_sae, d_in]   b_dec [d_in]   threshold [d_sae] (jumprelu)
 *
 *   pre  = (x - b_dec * apply_b_dec_to_input) @ W_enc + b_enc
 *   acts = relu(pre)                       standard
 *        = pre * (pre > threshold)          jumprelu
 *        = relu(pre) on the k largest pre   topk (k from cfg)
 *
 * A feature's decoder row W_dec[i] is the direction it writes into the hook: that is the
 * steering vector. The hook is cfg.hook_name (older files) or cfg.metadata.hook_name
 * (SAELens 6). An SAE Tiller cannot apply exactly as SAELens does (transcoders, activation
 * normalisation, one head of a hook) or that does not fit the model is refused with why.
 */
import { parseJson } from '../../../src-shared/json-syntax';
import { join } from 'node:path';
import { z } from 'zod';
import { EngineError } from '../errors';
import { hookInfo, isAttentionGrid } from '../hooks/names';
import { checkInsideFolder, fileInFolder, readTextFile } from '../model/file-io';
import { openSafetensors, type SafetensorsFileReader } from '../model/safetensors';
import { rowChunks, type ModelSpec } from '../model/spec';

const MAX_CFG_BYTES = 1024 * 1024;
/** W_enc is read in chunks of this many bytes while encoding. */
const ENCODE_CHUNK_BYTES = 16 * 1024 * 1024;
const ARCHITECTURES = ['standard', 'topk', 'jumprelu'] as const;

const metadataSchema = z.looseObject({ model_name: z.string().nullish(), hook_name: z.string().nullish(), hook_head_index: z.int().nullish(), neuronpedia_id: z.string().nullish() });
const cfgSchema = z.looseObject({
  d_in: z.int().min(1),
  d_sae: z.int().min(1),
  architecture: z.string().default('standard'),
  apply_b_dec_to_input: z.boolean().default(true),
  normalize_activations: z.string().nullish(),
  k: z.int().min(1).nullish(),
  model_name: z.string().nullish(),
  hook_name: z.string().nullish(),
  hook_head_index: z.int().nullish(),
  neuronpedia_id: z.string().nullish(),
  metadata: metadataSchema.nullish(),
});

export interface SaeInfo {
  folder: string;
  architecture: (typeof ARCHITECTURES)[number];
  hook: string;
  dIn: number;
  dSae: number;
  model: string | null;
  neuronpediaId: string | null;
  k: number | null;
  applyBDecToInput: boolean;
}

const refuse = (folder: string, reason: string): EngineError => new EngineError('bad_argument', `SAE ${folder}: ${reason}`);

export class Sae {
  private constructor(
    readonly info: SaeInfo,
    private readonly weights: SafetensorsFileReader,
  ) {}

  /** Open and check a folder; close() releases the weights file. */
  static open(folder: string): Sae {
    const info = readCfg(folder);
    const weights = openSafetensors(fileInFolder(folder, 'sae_weights.safetensors', 'SAE weights', 'bad_argument'));
    try {
      const { dIn, dSae } = info;
      const expected: Record<string, number[]> = { W_enc: [dIn, dSae], b_enc: [dSae], W_dec: [dSae, dIn], b_dec: [dIn] };
      if (info.architecture === 'jumprelu') expected.threshold = [dSae];
      for (const [name, shape] of Object.entries(expected)) {
        if (!weights.has(name)) throw refuse(folder, `sae_weights.safetensors has no ${name} (tensors: ${weights.names().join(', ')})`);
        const actual = weights.info(name).shape;
        if (actual.join() !== shape.join()) throw refuse(folder, `${name} is [${actual.join(', ')}]; cfg.json (d_in ${dIn}, d_sae ${dSae}) needs [${shape.join(', ')}]`);
      }
      return new Sae(info, weights);
    } catch (error) {
      weights.close();
      throw error;
    }
  }

  /** Refuse this SAE on a model whose hook it does not fit, saying why. */
  checkModel(spec: ModelSpec): void {
    const { hook, dIn, folder } = this.info;
    let width: number;
    try {
      const site = hookInfo(spec, hook);
      if (isAttentionGrid(site.site)) throw refuse(folder, `${hook} holds attention scores or patterns, not activations an SAE reads`);
      width = site.shape.filter((d): d is number => d !== 'pos').reduce((a, b) => a * b, 1);
    } catch (error) {
      if (error instanceof EngineError && !error.message.startsWith('SAE ')) throw refuse(folder, `it reads ${hook}, which this model does not have (${error.message})`);
      throw error;
    }
    if (width !== dIn) throw refuse(folder, `d_in is ${dIn} but ${hook} of this model is ${width} wide; the SAE was trained on ${this.info.model ?? 'another model'}`);
  }

  /** Feature i's decoder row: the direction it writes into the hook. */
  featureDirection(feature: number): Float32Array {
    if (!Number.isInteger(feature) || feature < 0 || feature >= this.info.dSae) throw new EngineError('bad_argument', `feature ${feature} is out of range: this SAE has features 0..${this.info.dSae - 1}`);
    return this.weights.readRows('W_dec', feature, 1);
  }

  /** Feature activations of n activation vectors ([n * d_in], row after row): [n * d_sae]. */
  encode(activations: Float32Array): Float32Array {
    const { dIn, dSae, architecture, k, applyBDecToInput } = this.info;
    const n = activations.length / dIn;
    if (!Number.isInteger(n)) throw new EngineError('bad_argument', `${activations.length} activation values are not whole rows of d_in ${dIn}`);
    const x = Float32Array.from(activations);
    if (applyBDecToInput) {
      const bDec = this.weights.read('b_dec');
      for (let t = 0; t < n; t++) for (let i = 0; i < dIn; i++) x[t * dIn + i] -= bDec[i];
    }
    const pre = new Float32Array(n * dSae);
    const bEnc = this.weights.read('b_enc');
    for (let t = 0; t < n; t++) pre.set(bEnc, t * dSae);
    // pre[t] += x[t] @ W_enc, streaming W_enc's rows (d_in of them, d_sae wide) so a large SAE is never read whole.
    for (const { first, rows } of rowChunks(this.weights, 'W_enc', ENCODE_CHUNK_BYTES)) {
      const count = rows.length / dSae;
      for (let t = 0; t < n; t++) {
        const out = pre.subarray(t * dSae, (t + 1) * dSae);
        for (let r = 0; r < count; r++) {
          const xi = x[t * dIn + first + r];
          const row = rows.subarray(r * dSae, (r + 1) * dSae);
          for (let j = 0; j < dSae; j++) out[j] += xi * row[j];
        }
      }
    }
    if (architecture === 'jumprelu') {
      const threshold = this.weights.read('threshold');
      return pre.map((value, index) => (value > threshold[index % dSae] ? value : 0));
    }
    const acts = pre.map((value) => Math.max(0, value));
    if (architecture === 'topk') for (let t = 0; t < n; t++) keepTopK(acts.subarray(t * dSae, (t + 1) * dSae), k as number);
    return acts;
  }

  close(): void {
    this.weights.close();
  }
}

/** Zero all but the k largest values (in place; ties keep the lower index). */
function keepTopK(row: Float32Array, k: number): void {
  if (k >= row.length) return;
  const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b);
  for (const index of order.slice(k)) row[index] = 0;
}

export interface FeatureActivation {
  feature: number;
  activation: number;
}

/** The `count` most active features of each row of [n * d_sae] activations (active ones only). */
export function topFeatures(acts: Float32Array, dSae: number, count: number): FeatureActivation[][] {
  const rows: FeatureActivation[][] = [];
  for (let start = 0; start < acts.length; start += dSae) {
    const row = acts.subarray(start, start + dSae);
    const active = Array.from(row.keys()).filter((j) => row[j] > 0);
    active.sort((a, b) => row[b] - row[a] || a - b);
    rows.push(active.slice(0, count).map((feature) => ({ feature, activation: row[feature] })));
  }
  return rows;
}

function readCfg(folder: string): SaeInfo {
  const path = join(folder, 'cfg.json');
  let text: string;
  try {
    // Only a regular file inside the folder: a FIFO or device would block or never end.
    checkInsideFolder(path, folder, 'SAE config', 'bad_argument');
    text = readTextFile(path, 'SAE config', 'bad_argument', MAX_CFG_BYTES);
  } catch (error) {
    if (error instanceof EngineError && error.code === 'not_found') throw new EngineError('not_found', `SAE ${folder}: no cfg.json (an SAELens folder holds cfg.json and sae_weights.safetensors)`);
    throw error;
  }
  const json = parseJson(text);
  if (!json.ok) throw refuse(folder, `cfg.json is ${json.message}`);
  const raw = json.value;
  const parsed = cfgSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw refuse(folder, `cfg.json: ${issue.path.join('.') || 'the file'} ${issue.message}`);
  }
  const cfg = parsed.data;
  const architecture = cfg.architecture;
  if (architecture.includes('transcoder')) throw refuse(folder, `is a ${architecture}: it reads one hook and writes another (hook_name_out), which is not an SAE Tiller can steer or read features with`);
  if (!(ARCHITECTURES as readonly string[]).includes(architecture)) throw refuse(folder, `architecture "${architecture}" is not one Tiller encodes (${ARCHITECTURES.join(', ')})`);
  if (architecture === 'topk' && !cfg.k) throw refuse(folder, 'a topk SAE needs k in cfg.json');
  if (cfg.normalize_activations && cfg.normalize_activations !== 'none') throw refuse(folder, `normalize_activations is "${cfg.normalize_activations}"; Tiller encodes raw activations only, so its feature values would differ from SAELens's`);
  const hook = cfg.hook_name ?? cfg.metadata?.hook_name;
  if (!hook) throw refuse(folder, 'cfg.json names no hook (hook_name, or metadata.hook_name)');
  const head = cfg.hook_head_index ?? cfg.metadata?.hook_head_index;
  if (head !== null && head !== undefined) throw refuse(folder, `it reads only head ${head} of ${hook}; Tiller reads whole hooks`);
  return {
    folder,
    architecture: architecture as SaeInfo['architecture'],
    hook,
    dIn: cfg.d_in,
    dSae: cfg.d_sae,
    model: cfg.model_name ?? cfg.metadata?.model_name ?? null,
    neuronpediaId: cfg.neuronpedia_id ?? cfg.metadata?.neuronpedia_id ?? null,
    k: cfg.k ?? null,
    applyBDecToInput: cfg.apply_b_dec_to_input,
  };
}
