/**
 * A patching sweep as a file: CSV (one row per layer, one column per position or head)
 * for spreadsheets, or safetensors (effect and value as [layers, columns] float32, with
 * the request in the metadata) for notebooks.
 */
import { extname } from 'node:path';
import { EngineError } from '../errors';
import { safetensorsBytes } from '../model/safetensors-write';
import { checkReplaceable, writeAtomically } from '../write-atomically';
import { readRegularFile } from '../model/file-io';
import { openSafetensors } from '../model/safetensors';
import type { PatchResult } from '../../../src-shared/analysis-schema';

export const PATCH_EXPORT_FORMATS = ['csv', 'safetensors'] as const;
export type PatchExportFormat = (typeof PATCH_EXPORT_FORMATS)[number];

export function patchCsv(result: PatchResult): string {
  const header = ['layer', ...result.columns.map((column) => `${result.columnKind === 'head' ? 'head' : result.columnKind === 'position' ? 'pos' : 'all'}_${column}`)];
  const rows = result.layers.map((layer) => [String(layer), ...result.effect[layer].map(String)]);
  return `${[header, ...rows].map((row) => row.join(',')).join('\n')}\n`;
}

export function patchSafetensors(result: PatchResult): Buffer {
  const shape = [result.layers.length, result.columns.length];
  const tensors = new Map([
    ['effect', { shape, data: Float32Array.from(result.effect.flat()) }],
    ['value', { shape, data: Float32Array.from(result.value.flat()) }],
  ]);
  const metadata = { request: JSON.stringify(result.request), column_kind: result.columnKind, clean: JSON.stringify(result.clean), corrupted: JSON.stringify(result.corrupted) };
  return safetensorsBytes(tensors, metadata);
}

/** Write the sweep to `path` in the format its extension names (.csv or .safetensors). */
export function writePatchExport(result: PatchResult, path: string): PatchExportFormat {
  const format = extname(path).slice(1).toLowerCase();
  // Replace only an earlier patching export, never another CSV or safetensors file.
  if (format === 'csv' || format === 'safetensors') checkReplaceable(path, (existing) => isPatchExport(existing, format), 'a patching export');
  if (format === 'csv') writeAtomically(path, Buffer.from(patchCsv(result), 'utf8'));
  else if (format === 'safetensors') writeAtomically(path, patchSafetensors(result));
  else throw new EngineError('bad_argument', `cannot export a patching sweep to ${path}: the name must end in .csv or .safetensors`);
  return format;
}

/** A file writePatchExport wrote: a CSV whose header starts "layer,", or safetensors with its metadata. */
function isPatchExport(path: string, format: PatchExportFormat): boolean {
  if (format === 'csv') return readRegularFile(path, 'patching export', 'bad_argument', MAX_CSV_BYTES).toString('utf8').startsWith('layer,');
  const reader = openSafetensors(path);
  try {
    return 'column_kind' in reader.metadata && reader.has('effect');
  } finally {
    reader.close();
  }
}

/** Far above any sweep's CSV (layers x columns numbers). */
const MAX_CSV_BYTES = 64 * 1024 * 1024;
