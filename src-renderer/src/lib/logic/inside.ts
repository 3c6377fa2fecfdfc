/**
 * What the Inside tab derives from an analysis record: heatmap colours, cell labels, and
 * the intervention a patching cell becomes in a new Compare variant.
 */
import type { AnalysisRecord, Intervention, VectorOrigin } from '../api/types';
import type { AtlasRanking } from '../../../../src-shared/analysis-schema';
import { clampCurveSummary } from './clamp-curve';
import { compareSummary } from './atlas-compare';
import { visibleToken } from './format';

export type LensRecord = Extract<AnalysisRecord, { kind: 'lens' }>;
export type PatchingRecord = Extract<AnalysisRecord, { kind: 'patching' }>;
export type TracingRecord = Extract<AnalysisRecord, { kind: 'tracing' }>;
export type AttentionRecord = Extract<AnalysisRecord, { kind: 'attention' }>;
export type AtlasRecord = Extract<AnalysisRecord, { kind: 'atlas' }>;

/** One line naming what a saved analysis looked at, for the list of analyses. */
export function recordSummary(record: AnalysisRecord): string {
  if (record.kind === 'lens' || record.kind === 'attention') return record.input.text;
  if (record.kind === 'tracing') return `${record.input.subject} in ${record.input.text}`;
  if (record.kind === 'atlas') return atlasSummary(record);
  if (record.kind === 'clamp_curve') return clampCurveSummary(record);
  if (record.kind === 'atlas_compare') return compareSummary(record);
  return `${record.input.clean} → ${record.input.corrupted}`;
}

export const RECORD_KIND_LABEL: Record<AnalysisRecord['kind'], string> = { lens: 'Lens', patching: 'Patching', tracing: 'Tracing', attention: 'Attention', atlas: 'Atlas', clamp_curve: 'Clamp curve', atlas_compare: 'Atlas comparison' };

function atlasSummary(record: AtlasRecord): string {
  const { input } = record;
  const parts = [input.layer === null ? 'all layers' : `layer ${input.layer}`];
  if (input.normalise === 'zscore') parts.push('z-scored');
  if (input.search !== null) parts.push(`search ${input.search}`);
  if (input.text !== null) parts.push(`active on ${input.text}`);
  return parts.join(', ');
}

/** What an atlas's token order means, for the line above its table. */
export function rankingText(normalise: AtlasRanking | undefined, dMlp: number): string {
  return normalise === 'zscore'
    ? `tokens ranked by z-score: each token's logit against its mean and spread over the layer's ${dMlp} neurons (z after the %)`
    : 'tokens ranked by logit';
}

/** The text of a token id the record names (its vocabulary entry), or #id. */
export function tokenLabel(record: AnalysisRecord, id: number): string {
  return record.labels[String(id)] ?? `#${id}`;
}

/** A probability in [0, 1] as a sequential colour: surface at 0, accent at 1. */
export function probabilityColor(p: number): string {
  const t = Math.min(1, Math.max(0, p));
  return `color-mix(in srgb, var(--accent) ${Math.round(t * 100)}%, var(--surface))`;
}

/** Text on a cell shaded `t` in [0, 1] of the way to a strong colour: light text once the cell is dark enough. */
export function inkOn(t: number): string {
  return Math.abs(t) > 0.55 ? 'var(--accent-contrast)' : 'var(--text)';
}

/** A number with `digits` decimals, never "-0.00" for a value that rounds to zero. */
export function fixed(value: number, digits: number): string {
  const text = value.toFixed(digits);
  return Number(text) === 0 ? (0).toFixed(digits) : text;
}

/** A signed effect as a diverging colour: blue for recovery (+), red for damage (-), clipped at |1|. */
export function effectColor(effect: number): string {
  const t = Math.min(1, Math.abs(effect));
  const hue = effect >= 0 ? 'var(--series-1)' : 'var(--danger)';
  return `color-mix(in srgb, ${hue} ${Math.round(t * 100)}%, var(--surface))`;
}

/** Column headers of a patching heatmap: each position's token, each head, or one column for all positions. */
export function patchColumnLabels(record: PatchingRecord): string[] {
  const { result, request } = record;
  if (result.columnKind === 'head') return result.columns.map((head) => `H${head}`);
  if (result.columnKind === 'all_positions') return ['all positions'];
  const source = request.direction === 'denoising' ? request.clean : request.corrupted;
  return result.columns.map((p) => `${p} ${visibleToken(tokenLabel(record, source[p]))}`);
}

const HOOK_OF: Record<PatchingRecord['request']['site'], string> = {
  resid_pre: 'hook_resid_pre',
  resid_mid: 'hook_resid_mid',
  resid_post: 'hook_resid_post',
  attn_out: 'hook_attn_out',
  mlp_out: 'hook_mlp_out',
  z: 'attn.hook_z',
};

export interface CellVariant {
  name: string;
  intervention: Intervention;
  origin: VectorOrigin | null;
}

/**
 * A patching cell as an intervention for the Compare view. A residual or component cell
 * patches in the activations the sweep patched with (from the clean prompt when
 * denoising, the corrupted one when noising) at that layer and position; a head cell
 * ablates the head (its z scaled to 0), the intervention Compare offers per head.
 */
export function cellVariant(record: PatchingRecord, layer: number, column: number): CellVariant | null {
  const { request, result, input } = record;
  const hook = `blocks.${layer}.${HOOK_OF[request.site]}`;
  if (result.columnKind === 'head') return headAblation(layer, column);
  const denoising = request.direction === 'denoising';
  const ids = denoising ? request.clean : request.corrupted;
  const text = denoising ? input.clean : input.corrupted;
  // A Compare patch writes the source's activation at p into position p: only cells whose paired positions are equal say that.
  const pairs = sourceBasePairs(record);
  const same = pairs.filter(([source, base]) => source === base).map(([source]) => source);
  let positions: number[] | 'all';
  if (result.columnKind === 'all_positions') {
    if (same.length !== pairs.length) return null;
    positions = request.clean.length === request.corrupted.length ? 'all' : same;
  } else {
    if (!same.includes(column)) return null;
    positions = [column];
  }
  const where = result.columnKind === 'all_positions' ? 'all positions' : `pos ${column}`;
  return {
    name: `Patch ${request.site} L${layer} ${where}`,
    intervention: { op: 'patch', hook, positions, source: { prompt_ids: ids } },
    origin: { kind: 'patch-source', text },
  };
}

/** The sweep's position pairs as [source position, base position] (engine/analysis/alignment.ts). */
function sourceBasePairs(record: PatchingRecord): [number, number][] {
  const { clean, corrupted, alignment, direction } = record.request;
  const shared = Math.min(clean.length, corrupted.length);
  const pairs: [number, number][] =
    alignment === null || alignment === 'start'
      ? Array.from({ length: shared }, (_, p) => [p, p])
      : alignment === 'end'
        ? Array.from({ length: shared }, (_, k) => [clean.length - shared + k, corrupted.length - shared + k])
        : alignment;
  return direction === 'denoising' ? pairs : pairs.map(([c, r]) => [r, c]);
}

/** A head switched off (its z scaled to 0 at every position): the head ablation Compare offers. */
export function headAblation(layer: number, head: number): CellVariant {
  return { name: `Ablate L${layer}H${head}`, intervention: { op: 'scale', hook: `blocks.${layer}.attn.hook_z`, indices: [head], values: [0], positions: 'all' }, origin: null };
}

/**
 * A neuron clamped to `value` at every position (its mlp.hook_post, the input of
 * down_proj), the intervention METHODS.md 5 validates a decoded neuron with.
 */
export function neuronClamp(layer: number, neuron: number, value: number): CellVariant {
  // The name rounds (a multiple of a measured activation has many digits); the value does not.
  return { name: `Clamp L${layer}N${neuron} = ${Number(value.toPrecision(4))}`, intervention: { op: 'set', hook: `blocks.${layer}.mlp.hook_post`, indices: [neuron], values: [value], positions: 'all' }, origin: null };
}

/** A decoded token with its probability, and its z-score when ranked so: "␣dog 12%", "␣dog 12% z 4.1". */
export function tokenText(record: AnalysisRecord, id: number, prob: number, score: number | null = null): string {
  const z = score === null ? '' : ` z ${fixed(score, 1)}`;
  return `${visibleToken(tokenLabel(record, id))} ${(prob * 100).toFixed(prob < 0.1 ? 1 : 0)}%${z}`;
}

/** A decoded direction's top tokens as one line: "␣dog 12%, ␣cat 8%" (tokenText each). */
export function decodingText(record: AnalysisRecord, decoding: { ids: number[]; probs: number[]; scores?: number[] | null }, count = 5): string {
  return decoding.ids
    .slice(0, count)
    .map((id, rank) => tokenText(record, id, decoding.probs[rank], decoding.scores ? decoding.scores[rank] : null))
    .join(', ');
}

/**
 * A lens row as an early exit: the blocks up to the one whose output the lens read, the
 * rest skipped (a layer schedule), so the new variant's output distribution is what that
 * row of the lens shows (through the final norm, as the model always unembeds). Only a
 * whole block's output has that meaning: resid_post of block l, resid_pre of block l > 0
 * (the output of block l - 1); null for the other sites and for the stream before block 0.
 */
export function lensExit(record: LensRecord, layer: number): CellVariant | null {
  const { site, finalNorm } = record.request;
  const last = site === 'resid_post' ? layer : site === 'resid_pre' ? layer - 1 : -1;
  if (last < 0 || !finalNorm) return null;
  const blocks = Array.from({ length: last + 1 }, (_, block) => block);
  return { name: `Exit after block ${last}`, intervention: { op: 'schedule', blocks }, origin: null };
}

/** "3/12 forward passes" for a progress label. */
export function progressText(progress: { done: number; total: number; unit: string } | null): string {
  return progress ? `${progress.done}/${progress.total} ${progress.unit}` : 'starting…';
}
