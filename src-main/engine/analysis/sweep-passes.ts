/**
 * How a patching sweep's cells (analysis/patching.ts) become forward passes that compute
 * only what differs from the base run, exactly. Attention is causal and a block reads only
 * the blocks below it, so a cell that patches layer L from base position p leaves every
 * position before p, at every layer, and every block below L, at every position, as the
 * base run computed them:
 *
 *   prefix    a pass starts after the first positions of the base run's kept KV cache,
 *             up to its earliest cell's first patched position, and feeds only the rest;
 *   segments  the blocks are split into a few runs; a cell in the one starting at block
 *             S runs a plan whose schedule skips the blocks below S, with the input of
 *             block S (its resid_pre) restored to the base run's at every fed position.
 *
 * Each segment is one more compiled plan (and, with prepacked weights, one more copy of
 * its blocks' weights), so there are few: three take a third of the blocks off the
 * average cell, where one per layer would take half.
 */
import { chunks } from './control';

const SEGMENTS = 3;

/** The first blocks of the segments of an n-layer model: 0 and up to SEGMENTS - 1 more, evenly spaced. */
export function segmentStarts(nLayers: number): number[] {
  const count = Math.min(SEGMENTS, nLayers);
  return [...new Set(Array.from({ length: count }, (_, i) => Math.floor((i * nLayers) / count)))];
}

export interface SweepCell {
  layer: number;
  /** The first base position the cell patches. */
  start: number;
}

export interface SweepPass<C extends SweepCell> {
  /** The block the pass's plan starts at (its segment), and the base position it feeds from. */
  first: number;
  start: number;
  cells: C[];
}

/**
 * Passes of at most `batchSize` cells. With segment starts, a pass holds cells of one
 * segment, ordered by first patched position so that its cells share a long prefix; with
 * null, every pass runs the whole prompt through every block, in the cells' order.
 */
export function sweepPasses<C extends SweepCell>(cells: readonly C[], batchSize: number, starts: readonly number[] | null): SweepPass<C>[] {
  if (starts === null) return chunks(cells, batchSize).map((batch) => ({ first: 0, start: 0, cells: batch }));
  const segmentOf = (layer: number): number => starts.filter((first) => first <= layer).at(-1) ?? 0;
  return starts.flatMap((first) => {
    const members = cells.filter((cell) => segmentOf(cell.layer) === first).sort((a, b) => a.start - b.start);
    return chunks(members, batchSize).map((batch) => ({ first, start: batch[0].start, cells: batch }));
  });
}
