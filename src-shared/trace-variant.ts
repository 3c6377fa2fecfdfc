/**
 * Shared by the engine and the renderer (src-shared: imports nothing but zod).
 *
 * A causal trace's noise and restores as plain plan ops, so a tracing cell becomes a
 * Compare variant that reruns what the trace ran for one noise sample (METHODS.md 6.1):
 * the noise as `add` ops at hook_embed (one per subject position: an add takes one vector
 * for its positions), and the restored state as `patch` ops from the clean prompt. A
 * patch's prompt_ids source is run clean, without the variant's own ops
 * (engine/plan/patch-sources.ts), so it is the clean state the trace restores.
 *
 * The engine draws its noise here too (engine/analysis/tracing.ts), so the renderer's
 * sample is the engine's, draw for draw.
 */
import type { TraceKind } from './analysis-schema';
import type { Intervention } from './plan-schema';
import { gaussian, SeededRng } from './seeded-rng';

const TRACE_SITE: Record<TraceKind, string> = { hidden: 'hook_resid_post', mlp: 'hook_mlp_out', attn: 'hook_attn_out' };

/** The hook a trace of `kind` restores at `layer`: the block output, or the MLP or attention output. */
export function traceHook(kind: TraceKind, layer: number): string {
  return `blocks.${layer}.${TRACE_SITE[kind]}`;
}

/** The layers restored together for a cell at `layer`: itself for hidden, a clipped window otherwise. */
export function traceWindow(layer: number, kind: TraceKind, window: number, nLayers: number): number[] {
  if (kind === 'hidden') return [layer];
  const from = Math.max(0, layer - Math.floor(window / 2));
  const to = Math.min(nLayers, layer - Math.floor(window / 2) + window);
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/**
 * The trace's standard normal draws: `samples` runs of `count` draws (count = subject
 * positions x d_model, position-major), in the order the trace uses them, from one
 * generator seeded with `seed`. Sample s's noise is noiseStd times draws[s].
 */
export function traceNoiseDraws(seed: number, count: number, samples: number): Float64Array[] {
  const rng = new SeededRng(seed);
  return Array.from({ length: samples }, () => Float64Array.from({ length: count }, () => gaussian(rng)));
}

/** What a trace ran, as its record keeps it (request and result). */
export interface TraceSetup {
  ids: readonly number[];
  subject: { start: number; end: number };
  kind: TraceKind;
  window: number;
  seed: number;
  noiseStd: number;
  nLayers: number;
  /** d_model: the width of hook_embed. */
  width: number;
}

/**
 * The plan ops of noise sample 0 with `cell`'s state restored (null: noise only, the
 * corrupted run): the adds first, then one patch per restored layer at the cell's position.
 */
export function traceInterventions(setup: TraceSetup, cell: { layer: number; position: number } | null): Intervention[] {
  const { subject, width, noiseStd } = setup;
  const [draws] = traceNoiseDraws(setup.seed, (subject.end - subject.start) * width, 1);
  const noise: Intervention[] = Array.from({ length: subject.end - subject.start }, (_, k) => ({
    op: 'add',
    hook: 'hook_embed',
    vector: Array.from(draws.subarray(k * width, (k + 1) * width), (draw) => noiseStd * draw),
    scale: 1,
    positions: [subject.start + k],
  }));
  if (!cell) return noise;
  const restores: Intervention[] = traceWindow(cell.layer, setup.kind, setup.window, setup.nLayers).map((layer) => ({
    op: 'patch',
    hook: traceHook(setup.kind, layer),
    positions: [cell.position],
    source: { prompt_ids: [...setup.ids] },
  }));
  return [...noise, ...restores];
}
