/**
 * Choosing attention heads for a function vector by a causal score the app already has:
 * an Inside-tab patching sweep per head (site z), where each head's effect is how far
 * restoring its output moves the metric toward the clean run's answer.
 */
import type { PatchingRecord } from './inside';

export interface ScoredHead {
  layer: number;
  head: number;
  effect: number;
}

/** Whether a patching record scores heads (site z): only those can suggest heads. */
export const scoresHeads = (record: PatchingRecord): boolean => record.result.columnKind === 'head';

/** The `k` heads with the largest effect, largest first. */
export function topPatchedHeads(record: PatchingRecord, k: number): ScoredHead[] {
  if (!scoresHeads(record)) return [];
  const { layers, columns, effect } = record.result;
  const scored = layers.flatMap((layer, i) => columns.map((head, j) => ({ layer, head, effect: effect[i][j] })));
  return scored.filter((head) => Number.isFinite(head.effect)).sort((a, b) => b.effect - a.effect).slice(0, k);
}

/** "1.2, 3.0": heads as the heads field takes them. */
export function formatHeads(heads: readonly { layer: number; head: number }[]): string {
  return heads.map(({ layer, head }) => `${layer}.${head}`).join(', ');
}
