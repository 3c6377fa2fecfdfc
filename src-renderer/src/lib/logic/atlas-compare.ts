/**
 * What the Inside tab shows of an atlas comparison (two models' neurons, same top-1 token
 * or not): the line naming it, agreement as a percentage, the per-layer bars, and the
 * changed neurons as table rows.
 */
import type { AnalysisRecord } from '../api/types';
import { fileName } from './format';
import { tokenText } from './inside';

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
  /** The base model's top token, and both models' as text. */
  baseId: number;
  base: string;
  other: string;
}

/** The listed changed neurons, of one layer or all (`layer` null). */
export function changedRows(record: AtlasCompareRecord, layer: number | null): ChangedRow[] {
  return record.result.changed
    .filter((entry) => layer === null || entry.layer === layer)
    .map((entry) => ({ key: `L${entry.layer}N${entry.neuron}`, layer: entry.layer, neuron: entry.neuron, baseId: entry.base.id, base: tokenText(record, entry.base.id, entry.base.prob, entry.base.score), other: tokenText(record, entry.other.id, entry.other.prob, entry.other.score) }));
}
