/**
 * Which positions of the clean and the corrupted prompt a patching sweep pairs
 * (METHODS.md 6.2: "equal token length, or an explicit position alignment"). Prompts of
 * one length pair one to one unless told otherwise; prompts of different lengths need an
 * alignment: from the start (a shared prefix), from the end (a shared suffix, where the
 * answer is read), or explicit pairs.
 */
import type { PatchAlignment } from '../../../src-shared/analysis-schema';
import { requestError } from './control';

/** [clean position, corrupted position] pairs, increasing in both; every other position is left alone. */
export type PositionPairs = [number, number][];

export function alignPositions(cleanLength: number, corruptedLength: number, alignment: PatchAlignment | null): PositionPairs {
  const shared = Math.min(cleanLength, corruptedLength);
  if (alignment === null) {
    if (cleanLength !== corruptedLength) {
      throw requestError('patch', [{ path: ['corrupted'], message: `has ${corruptedLength} tokens and clean has ${cleanLength}: give prompts of equal token length, or an alignment (start, end, or [clean, corrupted] position pairs)` }]);
    }
    return Array.from({ length: shared }, (_, p) => [p, p]);
  }
  if (alignment === 'start') return Array.from({ length: shared }, (_, p) => [p, p]);
  if (alignment === 'end') return Array.from({ length: shared }, (_, k) => [cleanLength - shared + k, corruptedLength - shared + k]);
  alignment.forEach(([clean, corrupted], i) => {
    const where = ['alignment', String(i)];
    if (clean >= cleanLength) throw requestError('patch', [{ path: where, message: `clean position ${clean} is past the clean prompt's ${cleanLength} tokens` }]);
    if (corrupted >= corruptedLength) throw requestError('patch', [{ path: where, message: `corrupted position ${corrupted} is past the corrupted prompt's ${corruptedLength} tokens` }]);
    const previous = alignment[i - 1];
    if (previous && (clean <= previous[0] || corrupted <= previous[1])) throw requestError('patch', [{ path: where, message: 'pairs must increase in both positions' }]);
  });
  return alignment.map(([clean, corrupted]) => [clean, corrupted]);
}
