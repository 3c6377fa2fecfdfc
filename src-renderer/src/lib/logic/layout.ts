/**
 * How many compare columns go in one row: as many as fit at MIN_COLUMN_PX, and when
 * they take several rows, spread evenly (6 columns in 3 + 3, not 4 + 2) so every column
 * is the same width and the last row is not a stub.
 */
export const MIN_COLUMN_PX = 240;
export const COLUMN_GAP_PX = 12;

export function columnsPerRow(count: number, width: number, minWidth = MIN_COLUMN_PX, gap = COLUMN_GAP_PX): number {
  if (count <= 1) return 1;
  // Before the first layout the width is unknown: one row, as many as there are.
  const fit = width > 0 ? Math.max(1, Math.floor((width + gap) / (minWidth + gap))) : count;
  if (fit >= count) return count;
  const rows = Math.ceil(count / fit);
  return Math.ceil(count / rows);
}
