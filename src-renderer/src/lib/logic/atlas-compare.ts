/**
 * What the Inside tab shows of an atlas comparison (two models' neurons, same top-1 token
 * or not): the line naming it, agreement as a percentage, the per-layer bars, and the
 * changed neurons as table rows.
 */
import type { AnalysisRecord } from '../api/types';
import { fileName, visibleToken } from './format';
import { tokenLabel } from './inside';

export type AtlasCompareRecord = Extract<AnalysisRecord, { kind: 'atlas_compare' }>;

/** A fraction as a percentage with one decimal: "75.4%". */
export const percent = (fraction: number): string => `${(fraction * 100).toFixed(1)}%`;

/** One line naming what was compared, for the list of analyses. */
export function compareSummary(record: AtlasCompareRecord): string {
  const { input, result } = record;
  const where = input.layer === null ? 'all layers' : `layer ${input.layer}`;
  return `${percent(result.agreement)} vs ${fileName(input.otherPath) || input.otherPath}, ${where}, ${input.matrix}${input.normalise === 'zscore' ? ', z-scored' : ''}`;
}

/** The chart's bars: one per compared layer, its agreement in percent. */
export function agreementBars(record: AtlasCompareRecord): { labels: string[]; layers: number[]; values: number[] } {
  const { perLayer } = record.result;
  return { labels: perLayer.map((entry) => `L${entry.layer}`), layers: perLayer.map((entry) => entry.layer), values: perLayer.map((entry) => entry.agreement * 100) };
}

export interface ChangedRow {
  key: string;
  layer: number;
  neuron: number;
  base: string;
  other: string;
}

/** A top token as "␣dog 12%" (with its z-score when ranked so). */
function topText(record: AtlasCompareRecord, top: { id: number; prob: number; score: number | null }): string {
  const z = top.score === null ? '' : ` z ${top.score.toFixed(1)}`;
  return `${visibleToken(tokenLabel(record, top.id))} ${(top.prob * 100).toFixed(top.prob < 0.1 ? 1 : 0)}%${z}`;
}

/** The listed changed neurons, of one layer or all (`layer` null). */
export function changedRows(record: AtlasCompareRecord, layer: number | null): ChangedRow[] {
  return record.result.changed
    .filter((entry) => layer === null || entry.layer === layer)
    .map((entry) => ({ key: `L${entry.layer}N${entry.neuron}`, layer: entry.layer, neuron: entry.neuron, base: topText(record, entry.base), other: topText(record, entry.other) }));
}
