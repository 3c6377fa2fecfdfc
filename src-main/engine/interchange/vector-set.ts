/**
 * The in-memory form every interchange format reads into and writes from: a set of
 * steering vectors, each at a TransformerLens hook where the file says which, with what
 * the file tells about where it came from.
 */
import { EngineError } from '../errors';
import { hookName, parseHookName } from '../hooks/names';

export type VectorFormat = 'gguf' | 'safetensors' | 'neuronpedia' | 'json';

export interface FileVector {
  /** The file's own name for the vector (tensor name, JSON key); null for a bare list. */
  key: string | null;
  /** The hook it is added at, when the file says (a hook-named tensor, a GGUF layer, a Neuronpedia site). */
  hook: string | null;
  vector: Float32Array;
}

export interface VectorSet {
  format: VectorFormat;
  vectors: FileVector[];
  /** The model the file says it is for (GGUF model_hint, Neuronpedia modelId, metadata "model"). */
  model: string | null;
  label: string | null;
  /** A default strength the file carries (Neuronpedia). */
  strength: number | null;
  /** Every other string the file carries about itself (GGUF keys, safetensors __metadata__). */
  metadata: Record<string, string>;
  /** What an importer should know: conventions the file breaks, entries that were merged. */
  warnings: string[];
}

export const emptySet = (format: VectorFormat): VectorSet => ({ format, vectors: [], model: null, label: null, strength: null, metadata: {}, warnings: [] });

/**
 * The block whose OUTPUT a residual-stream hook is, or null for any other hook:
 * blocks.L.hook_resid_post is block L's output, and blocks.L.hook_resid_pre (L >= 1) is
 * block L-1's output (the same tensor; TransformerLens names it twice). llama.cpp
 * (direction.L) and Neuronpedia's resid_pre of layer L meet Tiller here.
 * blocks.0.hook_resid_pre is the embedding, no block's output: -1.
 */
export function outputOfBlock(hook: string): number | null {
  const parsed = parseHookName(hook);
  if (!parsed || parsed.layer === null) return null;
  if (parsed.site === 'hook_resid_post') return parsed.layer;
  if (parsed.site === 'hook_resid_pre') return parsed.layer - 1;
  return null;
}

/** The resid_post name of a residual hook (resid_pre L -> resid_post L-1), for formats that key on block outputs. */
export function asResidPost(hook: string): string {
  const block = outputOfBlock(hook);
  if (block === null || block < 0) {
    throw new EngineError('bad_argument', `${hook} is not the output of a block; only blocks.L.hook_resid_post (or blocks.L+1.hook_resid_pre) can be written as a block-output vector`);
  }
  return hookName.residPost(block);
}

/** Sum of scale * vector per hook over several sets, restricted to blocks [from, to] (inclusive) when given. */
export function combineSets(parts: { set: VectorSet; scale: number }[], blocks?: { from: number; to: number }): Map<string, Float32Array> {
  const sums = new Map<string, Float32Array>();
  for (const { set, scale } of parts) {
    for (const { key, hook, vector } of set.vectors) {
      if (hook === null) throw new EngineError('bad_argument', `vector "${key ?? 'list'}" names no hook; it cannot be combined by layer`);
      const block = parseHookName(hook)?.layer;
      if (blocks && (block === null || block === undefined || block < blocks.from || block > blocks.to)) continue;
      let sum = sums.get(hook);
      if (!sum) sums.set(hook, (sum = new Float32Array(vector.length)));
      else if (sum.length !== vector.length) throw new EngineError('bad_argument', `vectors at ${hook} have different widths (${sum.length} and ${vector.length})`);
      for (let i = 0; i < vector.length; i++) sum[i] += scale * vector[i];
    }
  }
  return sums;
}

export function l2Norm(vector: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i] * vector[i];
  return Math.sqrt(sum);
}
