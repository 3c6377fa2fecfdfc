/**
 * Per-variant step scoring: the plain final-layer logits, or a lens-based strategy (LFD,
 * DoLa) reading extra lens heads that the engine compiles into the same forward pass
 * (one forward per step, never one per layer).
 */
import { EngineError } from '../errors';
import { STREAM_START, type LensHead } from '../graph/taps';
import type { ModelSpec } from '../model/spec';
import { decodingSchema, type Decoding, type DecodingInput, type DecodingStep } from '../../../src-shared/decoding-schema';
import { dolaStep } from './decoding/dola';
import { dolaCandidateLayers, dolaLensNeeds, lfdCandidateLayers, lfdLensNeeds, type LensNeeds } from './decoding/layers';
import { lfdStep } from './decoding/lfd';

export interface StepScorer {
  /** Lens heads the graph must output (at the last position). */
  lenses: LensHead[];
  /** lambda per fused lens head (LFD hidden fusion). */
  lambdas: Map<string, number>;
  /** The scores carry the strategy's own repetition penalty (DoLa), so the sampler adds none. */
  penalized: boolean;
  /** Next-token scores from the final logits and this row's lens outputs. */
  score(final: Float32Array, lens: (name: string) => Float32Array, previousIds: readonly number[]): { scores: Float32Array; step: DecodingStep | null };
}

/** Hidden-state index l as a hook: 0 is the stream entering the blocks (embedding, plus learned positions), l >= 1 the output of block l - 1. */
const hiddenStateHook = (layer: number): string => (layer === 0 ? STREAM_START : `blocks.${layer - 1}.hook_resid_post`);

const lensName = (hook: string, finalNorm: boolean, fuse = false): string => `lens:${hook}:${finalNorm ? 'normed' : 'raw'}${fuse ? ':fused' : ''}`;

/** The lens heads of `needs`, with a reader that returns each need's logits by layer. */
function lensHeads(needs: LensNeeds): { lenses: LensHead[]; names: { post: Map<number, string>; mid: Map<number, string>; fused: Map<number, string> } } {
  const lenses: LensHead[] = [];
  const add = (hook: string, finalNorm: boolean, fuse: boolean): string => {
    const name = lensName(hook, finalNorm, fuse);
    if (!lenses.some((lens) => lens.name === name)) lenses.push({ name, hook, finalNorm, fuse });
    return name;
  };
  const post = new Map(needs.residPost.map((l) => [l, add(hiddenStateHook(l), needs.applyFinalNorm, false)]));
  const mid = new Map(needs.residMid.map((l) => [l, add(`blocks.${l - 1}.hook_resid_mid`, needs.applyFinalNorm, false)]));
  const fused = new Map(needs.hiddenFusion.map((l) => [l, add(hiddenStateHook(l), true, true)]));
  return { lenses, names: { post, mid, fused } };
}

const byLayer = (names: Map<number, string>, lens: (name: string) => Float32Array): Map<number, Float32Array> =>
  new Map([...names].map(([layer, name]) => [layer, lens(name)]));

export function stepScorer(spec: ModelSpec, input: DecodingInput | undefined): StepScorer {
  const decoding = decodingSchema.parse(input ?? { strategy: 'greedy' });
  switch (decoding.strategy) {
    case 'greedy':
      return { lenses: [], lambdas: new Map(), penalized: false, score: (final) => ({ scores: final, step: null }) };
    case 'lfd': {
      const candidates = lfdCandidateLayers(spec.nLayers, decoding);
      const { lenses, names } = lensHeads(lfdLensNeeds(candidates, decoding));
      const lambdas = new Map([...names.fused.values()].map((name) => [name, decoding.lambda]));
      return {
        lenses,
        lambdas,
        penalized: false,
        score: (final, lens) => {
          const result = lfdStep(
            { final, residPost: byLayer(names.post, lens), residMid: byLayer(names.mid, lens), hiddenFused: byLayer(names.fused, lens) },
            decoding,
            candidates,
          );
          return { scores: result.scores, step: { strategy: 'lfd', layer: result.layer, scores: result.candidateScores } };
        },
      };
    }
    case 'dola': {
      const candidates = dolaCandidateLayers(spec.nLayers, spec.tiedEmbeddings, decoding.layers);
      const { lenses, names } = lensHeads(dolaLensNeeds(candidates, decoding));
      return {
        lenses,
        lambdas: new Map(),
        penalized: true,
        score: (final, lens, previousIds) => {
          const result = dolaStep({ final, premature: byLayer(names.post, lens) }, decoding, candidates, previousIds);
          return { scores: result.scores, step: { strategy: 'dola', layer: result.layer, scores: result.candidateScores } };
        },
      };
    }
  }
}

// ---------------------------------------------------------------------------
// Checks shared by validation (workbench validateVariant) and generation

/** One problem of a decoding strategy, at its path inside the decoding object, e.g. "candidateLayers[1]". */
export interface DecodingIssue {
  path: string;
  message: string;
}

/**
 * A strategy checked against the model and the variant's block schedule exactly as
 * generation uses it: the errors are what stepScorer refuses (it runs here), so a variant
 * that validates also generates; the warnings are choices that run but likely do not do
 * what was meant.
 */
export function decodingReport(spec: ModelSpec, input: DecodingInput | undefined, schedule: readonly number[] | null): { errors: DecodingIssue[]; warnings: DecodingIssue[] } {
  const decoding = decodingSchema.parse(input ?? { strategy: 'greedy' });
  try {
    stepScorer(spec, decoding);
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
    return { errors: [{ path: errorPath(decoding, error.details), message: error.message }], warnings: [] };
  }
  return { errors: [], warnings: decodingWarnings(spec, decoding, schedule) };
}

/** The field a candidate-layer error is about (decoding/layers.ts puts the layer in details). */
function errorPath(decoding: Decoding, details: Record<string, unknown> | undefined): string {
  const layer = details?.layer;
  if (decoding.strategy === 'lfd') {
    if (typeof layer === 'number' && decoding.candidateLayers) return `candidateLayers[${decoding.candidateLayers.indexOf(layer)}]`;
    return details && 'nLayers' in details ? 'strategy' : 'candidateLayers';
  }
  if (decoding.strategy === 'dola' && typeof layer === 'number' && Array.isArray(decoding.layers)) return `layers[${decoding.layers.indexOf(layer)}]`;
  return decoding.strategy === 'dola' ? 'layers' : 'strategy';
}

function decodingWarnings(spec: ModelSpec, decoding: Decoding, schedule: readonly number[] | null): DecodingIssue[] {
  const warnings: DecodingIssue[] = [];
  if (decoding.strategy === 'dola' && Array.isArray(decoding.layers)) {
    decoding.layers.forEach((layer, j) => {
      if (layer >= spec.nLayers) {
        warnings.push({ path: `layers[${j}]`, message: `layer ${layer} is not a premature layer of this ${spec.nLayers}-block model (0..${spec.nLayers - 1}): ignored, as Hugging Face does` });
      }
    });
  }
  if (decoding.strategy === 'lfd' && schedule !== null) {
    // A skipped block passes the stream on unchanged (hooks/schedule.ts), so the lens before
    // and after its MLP agree: IKS 0, the lowest there is, and LFD would always pick it.
    const explicit = decoding.candidateLayers;
    for (const layer of lfdCandidateLayers(spec.nLayers, decoding)) {
      const block = layer - 1; // hidden state l is the output of block l - 1
      if (schedule.includes(block)) continue;
      const path = explicit ? `candidateLayers[${explicit.indexOf(layer)}]` : 'candidateLayers';
      warnings.push({ path, message: `layer ${layer} is the output of block ${block}, which the schedule [${schedule.join(', ')}] skips: its IKS is always 0, so LFD picks it (or another skipped layer) at every step` });
    }
  }
  return warnings;
}
