import { describe, expect, it } from 'vitest';
import type { ImportedVectors, LibraryVector } from '../api/types';
import { newVariant } from './defaults';
import { applyVector, importedEntries, isPositioned, normLabel, placeLabel } from './library';

const entry = (hook: string, norm = 1, relativeNorm: number | null = 0.1) => ({ hook, vector: [1, 2], norm, relativeNorm });
const vector: LibraryVector = { id: 'v', name: 'mood', model: 'llama', entries: [entry('blocks.1.hook_resid_post'), entry('blocks.2.hook_resid_post', 2, 0.2)], provenance: { kind: 'extract' } };

describe('vector library logic', () => {
  it('labels where a vector goes and how large it is', () => {
    expect(placeLabel(vector.entries)).toBe('blocks 1, 2 · hook_resid_post');
    expect(placeLabel([entry('blocks.4.hook_resid_pre')])).toBe('block 4 · hook_resid_pre');
    expect(placeLabel([entry('blocks.1.hook_resid_post'), entry('hook_embed')])).toBe('blocks.1.hook_resid_post, hook_embed');
    expect(normLabel(vector.entries)).toBe('‖v‖ 1.00–2.00 (0.100–0.200 of ‖h‖)');
    expect(normLabel([entry('hook_embed', 3, null)])).toBe('‖v‖ 3.00');
  });

  it('applies every entry to a variant as a steering step with the scale', () => {
    const variant = applyVector(newVariant('Steered'), vector, -4);
    expect(variant.interventions).toEqual([
      { op: 'add', hook: 'blocks.1.hook_resid_post', vector: [1, 2], scale: -4, positions: 'all' },
      { op: 'add', hook: 'blocks.2.hook_resid_post', vector: [1, 2], scale: -4, positions: 'all' },
    ]);
  });

  it('places ActAdd rows at their own prompt positions', () => {
    const rows = [1, 2, 3].map((position) => ({ ...entry('blocks.6.hook_resid_pre'), position }));
    expect(placeLabel(rows)).toBe('block 6 · hook_resid_pre · positions 1-3');
    expect(isPositioned(rows)).toBe(true);
    expect(isPositioned(vector.entries)).toBe(false);
    const actAdd: LibraryVector = { ...vector, entries: rows.slice(0, 2) };
    expect(applyVector(newVariant('Steered'), actAdd, 5).interventions.map((step) => step.op === 'add' && step.positions)).toEqual([[1], [2]]);
  });

  it('imports vectors at their hooks, a single unplaced one at the chosen hook, and counts the rest', () => {
    const file = (entries: ImportedVectors['entries']): ImportedVectors => ({ format: 'json', model: null, label: null, strength: null, metadata: {}, warnings: [], entries });
    const placed = { key: 'direction.3', hook: 'blocks.3.hook_resid_post', vector: [1], norm: 1 };
    const bare = { key: null, hook: null, vector: [2], norm: 2 };
    expect(importedEntries(file([placed, bare]), 'blocks.0.hook_resid_post')).toEqual({ entries: [{ hook: 'blocks.3.hook_resid_post', vector: [1], norm: 1, relativeNorm: null }], skipped: 1 });
    expect(importedEntries(file([bare]), 'blocks.0.hook_resid_post').entries[0].hook).toBe('blocks.0.hook_resid_post');
    expect(importedEntries(file([bare]), null)).toEqual({ entries: [], skipped: 1 });
  });
});
