/** Number and token formatting for the UI. */
import type { DecodingStep, ModelRef } from '../api/types';

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** 260_000 -> "260K", 135_000_000 -> "135M", 1_100_000_000 -> "1.1B". */
export function formatCount(count: number): string {
  const steps: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [size, suffix] of steps) {
    if (count >= size) {
      const value = count / size;
      return `${value >= 100 ? Math.round(value) : Number(value.toPrecision(3))}${suffix}`;
    }
  }
  return String(count);
}

/** A token's text with its whitespace made visible: "␣the", "⏎". */
export function visibleToken(text: string): string {
  // SentencePiece vocabularies spell a leading space '▁' in raw token text: show it the same way.
  return text.replace(/[ \u2581]/g, '␣').replace(/\n/g, '⏎').replace(/\t/g, '⇥') || '∅';
}

export function formatLogprob(logprob: number): string {
  return Number.isFinite(logprob) ? logprob.toFixed(3) : String(logprob);
}

export function formatProbability(logprob: number): string {
  // Always a percentage, so a list of alternatives reads in one unit.
  const percent = Math.exp(logprob) * 100;
  if (percent >= 10) return `${percent.toFixed(1)}%`;
  if (percent >= 0.01) return `${percent.toFixed(2)}%`;
  return percent >= 0.001 ? `${percent.toFixed(3)}%` : '<0.001%';
}

export function formatSigned(value: number, digits = 3): string {
  return `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(digits)}`;
}

/** Sorted integers as ranges: [0, 1, 2, 5] -> "0-2, 5". */
export function formatRanges(values: readonly number[]): string {
  const parts: string[] = [];
  let start = values[0];
  for (let i = 1; i <= values.length; i++) {
    if (values[i] === values[i - 1] + 1) continue;
    parts.push(start === values[i - 1] ? `${start}` : `${start}-${values[i - 1]}`);
    start = values[i];
  }
  return parts.join(', ');
}

export function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** Stop strings as one per line, with \n and \t escapes (a stop string may be a newline). */
export function formatStopStrings(list: readonly string[]): string {
  return list.map((item) => item.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\t/g, '\\t')).join('\n');
}

export function parseStopStrings(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => line.replace(/\\(\\|n|t)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : '\\')));
}

export function vectorNorm(vector: readonly number[]): number {
  let sum = 0;
  for (const value of vector) sum += value * value;
  return Math.sqrt(sum);
}

export interface LayerScore {
  layer: number;
  score: number;
  chosen: boolean;
}

/**
 * A lens strategy's per-layer scores, best first by its own rule (LFD uses the lowest
 * IKS, DoLa the highest JSD to the final layer), with the layer it used marked.
 */
export function rankedLayerScores(step: DecodingStep, limit = 4): LayerScore[] {
  const sign = step.strategy === 'lfd' ? 1 : -1;
  return Object.entries(step.scores)
    .map(([layer, score]) => ({ layer: Number(layer), score, chosen: Number(layer) === step.layer }))
    .sort((a, b) => sign * (a.score - b.score) || a.layer - b.layer)
    .slice(0, limit);
}

/** The heading for those scores. */
export function layerScoresLabel(strategy: DecodingStep['strategy']): string {
  return strategy === 'lfd' ? 'IKS by layer (lowest is used)' : 'JSD to final layer (highest is used)';
}

/** "/a/b/c.tiller.json" -> "/a/b/" ("" for a bare name); either separator. */
export function folderOf(path: string): string {
  return path.slice(0, Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
}

/** "/a/b/c.tiller.json" -> "c.tiller.json"; either separator. */
export function fileName(path: string): string {
  return path.slice(folderOf(path).length);
}

/** How notices and banners name a model: its folder or file name, and its architecture. */
export function modelLabel(model: Pick<ModelRef, 'path' | 'architecture'>): string {
  return `${fileName(model.path.replace(/[\\/]+$/, '')) || model.path} (${model.architecture})`;
}

/** `file` in `folder`, with the folder's own separator (a Windows folder has backslashes only). */
export function inFolder(folder: string, file: string): string {
  if (folder === '') return file;
  const separator = folder.includes('\\') && !folder.includes('/') ? '\\' : '/';
  return folder.endsWith(separator) ? `${folder}${file}` : `${folder}${separator}${file}`;
}
