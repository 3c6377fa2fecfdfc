/**
 * Which layers the lens-based decoding strategies look at (METHODS.md sections 1 and 2),
 * what the engine must decode at each step to feed them, and how a step picks one layer.
 *
 * Layers are hidden-state indices as in Hugging Face's hidden_states: 0 is hook_embed,
 * l >= 1 is blocks.{l-1}.hook_resid_post, and N (the number of blocks) is the final layer,
 * whose logits are the model's ordinary output logits.
 */
import { EngineError } from '../../errors';
import type { DolaDecoding, LfdDecoding } from '../../../../src-shared/decoding-schema';

// ---------------------------------------------------------------------------
// Candidate layers

/**
 * LFD's candidate layers: by default the latter half ceil(N/2)..N-1 (METHODS.md 1: "lowest
 * IKS in the latter half"; N is excluded because it is the fusion partner). An explicit list
 * must lie in 1..N-1: IKS needs the block that writes layer l (blocks.{l-1}), which layer 0
 * does not have. Returned sorted and without duplicates.
 */
export function lfdCandidateLayers(nLayers: number, options: Pick<LfdDecoding, 'candidateLayers'>): number[] {
  if (nLayers < 2) {
    throw new EngineError('bad_plan', `LFD needs a model with at least 2 blocks; this one has ${nLayers}`, { nLayers });
  }
  const last = nLayers - 1;
  if (options.candidateLayers === undefined) return range(Math.ceil(nLayers / 2), nLayers, 1);
  for (const layer of options.candidateLayers) {
    if (!Number.isInteger(layer) || layer < 1 || layer > last) {
      throw new EngineError(
        'bad_plan',
        `LFD candidate layer ${layer} is outside 1..${last}: layer ${nLayers} is the final layer it fuses with, ` +
          'and layer 0 has no block to score',
        { layer, min: 1, max: last },
      );
    }
  }
  return sortedUnique(options.candidateLayers);
}

/**
 * DoLa's premature layers, following Hugging Face's `_dola_decoding` [verified: HF code]:
 *   start = 0 if embeddings are untied, else 2 if N > 2, 1 if N = 2, 0 if N = 1
 *     (with tied embeddings the layer-0 lens is close to the identity map and would always win)
 *   N <= 40: low = range(start, N//2, 2), high = range(N//2, N, 2)
 *   N >  40: low = range(start, 20, 2),   high = range(N-20, N, 2)
 *   low is [start] when start = N//2.
 * An explicit list drops indices >= N, as HF does. Returned sorted and without duplicates;
 * HF keeps the caller's order, which only matters for exact JSD ties (here the lowest layer wins).
 */
export function dolaCandidateLayers(nLayers: number, tiedEmbeddings: boolean, layers: DolaDecoding['layers']): number[] {
  const half = Math.floor(nLayers / 2);
  let candidates: number[];
  if (layers === 'low') {
    const start = !tiedEmbeddings ? 0 : nLayers > 2 ? 2 : nLayers === 2 ? 1 : 0;
    if (start === half) candidates = [start];
    else candidates = nLayers <= 40 ? range(start, half, 2) : range(start, 20, 2);
  } else if (layers === 'high') {
    candidates = nLayers <= 40 ? range(half, nLayers, 2) : range(nLayers - 20, nLayers, 2);
  } else {
    for (const layer of layers) {
      if (!Number.isInteger(layer) || layer < 0) {
        throw new EngineError('bad_plan', `DoLa layer ${layer} is not a layer index; premature layers are 0..${nLayers - 1}`, {
          layer,
          min: 0,
          max: nLayers - 1,
        });
      }
    }
    candidates = sortedUnique(layers.filter((layer) => layer < nLayers));
  }
  if (candidates.length === 0) {
    const asked = typeof layers === 'string' ? `the ${layers} bucket` : `layers [${layers.join(', ')}]`;
    const model = `a ${nLayers}-block model${tiedEmbeddings ? ' with tied embeddings' : ''}`;
    throw new EngineError(
      'bad_plan',
      `DoLa has no premature layer: ${asked} leaves none for ${model}; give layers in 0..${nLayers - 1}`,
      { layers, min: 0, max: nLayers - 1 },
    );
  }
  return candidates;
}

// ---------------------------------------------------------------------------
// What the engine decodes per step (last position only)

/**
 * The lens logits a strategy needs at each step, so the engine compiles only those.
 * Each entry is a layer index l; the engine passes the logits back in maps keyed by l.
 */
export interface LensNeeds {
  /** Layers whose hidden state h_l goes through the lens: hook_embed for l = 0, blocks.{l-1}.hook_resid_post for l >= 1. */
  residPost: number[];
  /** Layers l whose blocks.{l-1}.hook_resid_mid (before that block's MLP) goes through the lens (LFD's IKS). */
  residMid: number[];
  /**
   * Layers l whose logits W_U Norm_f(h_N + lambda * h_l) are needed, lambda = options.lambda
   * (LFD hidden fusion). Always through the final norm, whatever applyFinalNorm says.
   */
  hiddenFusion: number[];
  /** Whether residPost and residMid apply the final norm before W_U. */
  applyFinalNorm: boolean;
}

/** LFD needs resid_mid and resid_post of every candidate for IKS, plus the fused hidden state for 'hidden' fusion. */
export function lfdLensNeeds(candidates: readonly number[], options: Pick<LfdDecoding, 'fusion' | 'applyFinalNorm'>): LensNeeds {
  return {
    residPost: [...candidates],
    residMid: [...candidates],
    // l* is known only after IKS, so every candidate's fused logits are asked for; an engine
    // that runs in two phases (lfdSelectLayer, then fuse) may supply l* alone.
    hiddenFusion: options.fusion === 'hidden' ? [...candidates] : [],
    applyFinalNorm: options.applyFinalNorm,
  };
}

/** DoLa needs the lens of every premature candidate (no final norm by default, as in HF and the reference code). */
export function dolaLensNeeds(candidates: readonly number[], options: Pick<DolaDecoding, 'prematureFinalNorm'>): LensNeeds {
  return { residPost: [...candidates], residMid: [], hiddenFusion: [], applyFinalNorm: options.prematureFinalNorm };
}

// ---------------------------------------------------------------------------
// One step's choice

/** What a lens-based strategy returns for one step. */
export interface LensStepResult {
  /** [d_vocab] next-token scores for the sampler to use as logits (-Infinity = never chosen). */
  scores: Float32Array;
  /** The layer the step used: LFD's l*, DoLa's premature layer M. */
  layer: number;
  /** IKS (LFD) or JSD to the final layer (DoLa), keyed by candidate layer. */
  candidateScores: Record<number, number>;
}

/**
 * The candidate with the smallest ('min') or largest ('max') score. Ties go to the lowest
 * layer whatever the order of `candidates`; a NaN score never wins unless all are NaN,
 * in which case the lowest layer is returned.
 */
export function pickLayer(candidates: readonly number[], scores: Record<number, number>, want: 'min' | 'max'): number {
  const sign = want === 'min' ? 1 : -1;
  let best = Math.min(...candidates);
  let bestScore = Infinity; // in "smaller is better" units
  for (const layer of candidates) {
    const score = sign * scores[layer];
    if (score < bestScore || (score === bestScore && layer < best)) {
      best = layer;
      bestScore = score;
    }
  }
  return best;
}

/**
 * The logits for `layer` from one of the step's input maps, checked: the engine must supply
 * every candidate, each with the final layer's vocabulary size.
 */
export function lensLogits(logits: ReadonlyMap<number, Float32Array>, layer: number, what: string, dVocab: number): Float32Array {
  const found = logits.get(layer);
  if (found === undefined) throw new EngineError('bad_argument', `missing ${what} logits for layer ${layer}`, { layer, what });
  if (found.length !== dVocab) {
    throw new EngineError('bad_argument', `${what} logits for layer ${layer} have ${found.length} entries, expected ${dVocab}`, {
      layer,
      what,
      length: found.length,
      dVocab,
    });
  }
  return found;
}

/** Throws unless there is at least one candidate layer. */
export function requireCandidates(candidates: readonly number[], strategy: string): void {
  if (candidates.length === 0) throw new EngineError('bad_argument', `${strategy} step needs at least one candidate layer`);
}

function range(start: number, stop: number, step: number): number[] {
  const values: number[] = [];
  for (let value = start; value < stop; value += step) values.push(value);
  return values;
}

function sortedUnique(values: readonly number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}
