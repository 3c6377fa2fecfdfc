/**
 * What the clamp-curve panel and view derive: the values typed as a list, the panel's
 * first input from an atlas neuron, and the curve as chart points. The x axis is what the
 * user asked for: multiples of the neuron's largest activation, or the activations given;
 * a point's clamp is always the absolute value the engine set (ClampCurveResult.points).
 */
import { DEFAULT_CLAMP_MULTIPLES } from '../../../../src-shared/clamp-schema';
import { outsideRange } from '../../../../src-shared/issues';
import type { AnalysisRecord, ClampCurveInput, ClampScale } from '../api/types';
import type { Points } from './line-chart';

export type ClampCurveRecord = Extract<AnalysisRecord, { kind: 'clamp_curve' }>;

/** "0, 1, 2, 5" as numbers, or what is wrong with the text. */
export function parseClampValues(text: string): { values: number[] } | { error: string } {
  const parts = text.split(',').map((part) => part.trim());
  if (parts.every((part) => part === '')) return { error: 'give at least one value' };
  const bad = parts.find((part) => part === '' || !Number.isFinite(Number(part)));
  if (bad !== undefined) return { error: `"${bad}" is not a number: give values separated by commas, e.g. 0, 1, 5` };
  return { values: parts.map(Number) };
}

/** What the clamp-curve fields hold as typed (ClampCurveFields): in an atlas row's panel and in the new-analysis form. */
export interface ClampFields {
  text: string;
  token: string;
  values: string;
  scale: ClampScale;
  reference: string;
  average: boolean;
}

export function clampFields(draft: ClampCurveInput): ClampFields {
  return { text: draft.text, token: draft.token, values: (draft.values ?? []).join(', '), scale: draft.scale ?? 'max_activation', reference: draft.reference ?? '', average: draft.average ?? false };
}

/** What is wrong with a layer or neuron typed for a model with `count` of them (a number input gives null when empty), or null; worded as the engine's check. */
export function indexIssue(value: number | null | undefined, count: number, what: 'layer' | 'neuron'): string | null {
  if (value === null || value === undefined || Number.isNaN(value)) return `give a ${what} (0..${count - 1})`;
  if (!Number.isInteger(value) || value < 0 || value >= count) return outsideRange(what, value, count);
  return null;
}

/**
 * What is wrong with a concept token given as #id for a vocabulary of `dVocab`, or null.
 * A vocabulary entry ("▁dog") is the engine's to resolve: it names one that is not a token.
 */
export function tokenIssue(token: string, dVocab: number): string | null {
  const byId = /^#(\d+)$/.exec(token); // as the engine reads it (analysis/tokens.ts)
  if (byId && Number(byId[1]) >= dVocab) return `${token} is outside the vocabulary (0..${dVocab - 1})`;
  return null;
}

/** The clamp-curve request of the fields for neuron `neuron` of block `layer`, or null while a field is missing or wrong. */
export function clampInput(fields: ClampFields, layer: number, neuron: number, dVocab: number): ClampCurveInput | null {
  const parsed = parseClampValues(fields.values);
  if (!('values' in parsed) || fields.text.trim() === '' || fields.token === '' || tokenIssue(fields.token, dVocab) !== null) return null;
  const reference = fields.scale === 'max_activation' && fields.reference.trim() !== '' ? fields.reference : null;
  return { text: fields.text, layer, neuron, token: fields.token, values: parsed.values, scale: fields.scale, reference, average: fields.average };
}

/** Whether the positive values span at least two decades: then a log axis spreads them out (0 and negatives are not on it). */
export function spansDecades(values: readonly number[]): boolean {
  const positive = values.filter((value) => value > 0);
  return positive.length >= 2 && Math.max(...positive) / Math.min(...positive) >= 100;
}

/** The panel's first input for a neuron of an atlas row: the prompt, and its concept token as a vocabulary entry. */
export function clampDraft(layer: number, neuron: number, token: string, text: string): ClampCurveInput {
  return { text, layer, neuron, token, values: [...DEFAULT_CLAMP_MULTIPLES], scale: 'max_activation', reference: null, average: false };
}

/** The x of each point: the multiple asked for, or the activation given. */
export function curveX(record: ClampCurveRecord): number[] {
  return record.request.scale === 'max_activation' ? record.request.values : record.result.points.map((point) => point.value);
}

export const X_TITLE: Record<ClampScale, string> = { max_activation: '× largest activation', absolute: 'clamp value' };

export interface CurveSeries {
  label: string;
  points: Points;
  /** The unclamped run: a flat reference line. */
  reference: boolean;
}

/**
 * p(token) at the last position by x, the mean over positions when the record has it, and
 * the unclamped p as a flat line across the curve. A log x axis drops the points at x <= 0
 * (`dropped` counts them); on a log y axis a p of 0 would not show either, but softmax
 * never gives exactly 0.
 */
export function curveSeries(record: ClampCurveRecord, logX: boolean): { series: CurveSeries[]; dropped: number } {
  const xs = curveX(record);
  const { points, baseline } = record.result;
  const kept = xs.map((x, i) => ({ x, i })).filter(({ x }) => !logX || x > 0);
  const line = (y: (i: number) => number): Points => kept.map(({ x, i }) => ({ x, y: y(i) })).sort((a, b) => a.x - b.x);
  const series: CurveSeries[] = [{ label: 'p at the last position', points: line((i) => points[i].prob), reference: false }];
  if (baseline.meanProb !== null) series.push({ label: 'mean p over positions', points: line((i) => points[i].meanProb ?? NaN), reference: false });
  if (kept.length > 0) {
    const ends = [Math.min(...kept.map(({ x }) => x)), Math.max(...kept.map(({ x }) => x))];
    series.push({ label: 'unclamped', points: ends.map((x) => ({ x, y: baseline.prob })), reference: true });
  }
  return { series, dropped: xs.length - kept.length };
}

/** The absolute clamp of the point drawn at x (the chart hands back x; a variant needs the value). */
export function valueAtX(record: ClampCurveRecord, x: number): number | null {
  const i = curveX(record).indexOf(x);
  return i < 0 ? null : record.result.points[i].value;
}

/** One line naming the curve, for the list of analyses. */
export function clampCurveSummary(record: ClampCurveRecord): string {
  const { input } = record;
  return `L${input.layer}N${input.neuron} → ${input.token} on ${input.text}`;
}
