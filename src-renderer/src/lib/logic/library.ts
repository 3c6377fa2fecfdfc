/**
 * The vector library (experiment `vectors`): turning extracted or imported vectors into
 * library entries, and an entry into steering interventions on a variant.
 */
import type { ImportedVectors, LibraryVector } from '../api/types';
import { formatIndexList } from './indices';
import { splitHook, steering } from './interventions';
import { addIntervention } from './variants';
import type { Variant } from '../api/types';

export type LibraryEntry = LibraryVector['entries'][number];

let counter = 0;
export function newVectorId(): string {
  counter += 1;
  return `vec-${Date.now().toString(36)}-${counter.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** Whether the vector's rows go at single prompt positions (ActAdd), which no vector file format holds. */
export const isPositioned = (entries: readonly LibraryEntry[]): boolean => entries.some((entry) => entry.position !== undefined);

/** "blocks 1-3 · hook_resid_post", "block 6 · hook_resid_pre · positions 1-4" (ActAdd), or the hooks themselves when the sites differ. */
export function placeLabel(entries: readonly LibraryEntry[]): string {
  const positions = entries.flatMap((entry) => (entry.position === undefined ? [] : [entry.position]));
  if (positions.length === 0) return hooksLabel(entries.map((entry) => entry.hook));
  return `${hooksLabel([...new Set(entries.map((entry) => entry.hook))])} · ${positions.length === 1 ? 'position' : 'positions'} ${formatIndexList(positions)}`;
}

function hooksLabel(hooks: readonly string[]): string {
  const parts = hooks.map(splitHook);
  const sites = new Set(parts.map((part) => part.site));
  const layers = parts.map((part) => part.layer);
  if (sites.size === 1 && layers.every((layer): layer is number => layer !== null)) {
    return `${layers.length === 1 ? 'block' : 'blocks'} ${formatIndexList(layers)} · ${[...sites][0]}`;
  }
  return hooks.join(', ');
}

/** "‖v‖ 1.00 (0.12 of ‖h‖)" over the entries: the range when they differ. */
export function normLabel(entries: readonly LibraryEntry[]): string {
  const range = (values: number[], digits: number) => {
    const low = Math.min(...values);
    const high = Math.max(...values);
    return low.toFixed(digits) === high.toFixed(digits) ? low.toFixed(digits) : `${low.toFixed(digits)}–${high.toFixed(digits)}`;
  };
  const relative = entries.map((entry) => entry.relativeNorm).filter((value): value is number => value !== null);
  return `‖v‖ ${range(entries.map((entry) => entry.norm), 2)}${relative.length ? ` (${range(relative, 3)} of ‖h‖)` : ''}`;
}

/** The variant with one steering step per entry (its hook, its vector, this scale, every position or the entry's own). */
export function applyVector(variant: Variant, entry: LibraryVector, scale: number): Variant {
  return entry.entries.reduce((next, { hook, vector, position }) => addIntervention(next, steering(hook, [...vector], scale, position === undefined ? 'all' : [position])), variant);
}

/**
 * An imported file as library entries. Vectors the file places at no hook take `hook`
 * (the user's choice) when given; otherwise they are left out and counted in `skipped`.
 */
export function importedEntries(imported: ImportedVectors, hook: string | null): { entries: LibraryEntry[]; skipped: number } {
  const entries: LibraryEntry[] = [];
  let skipped = 0;
  for (const item of imported.entries) {
    const at = item.hook ?? (imported.entries.length === 1 ? hook : null);
    if (at === null) skipped++;
    else entries.push({ hook: at, vector: item.vector, norm: item.norm, relativeNorm: null });
  }
  return { entries, skipped };
}
